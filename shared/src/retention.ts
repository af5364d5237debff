// Which backups a retention policy keeps (issue 16: the `prune` kind and `bqbr prune` build on this).
// The rules are restic's `forget` policy: each keeps the newest backup of each of its last N calendar
// buckets (hours, days, ISO weeks, months, years) that hold one, counted in the policy's time zone;
// `keepLast` the N newest; `keepWithin` every backup within a duration of the newest. A backup is kept
// when any rule keeps it, and the reasons say which.

export interface RetentionPolicy {
  readonly keepLast?: number;
  readonly keepHourly?: number;
  readonly keepDaily?: number;
  readonly keepWeekly?: number;
  readonly keepMonthly?: number;
  readonly keepYearly?: number;
  /** A duration before the newest backup, e.g. `7d`, `1y6m`, `36h` (years, months, days, hours). */
  readonly keepWithin?: string;
  /** The IANA time zone calendar buckets are counted in (default UTC). */
  readonly timeZone?: string;
}

export interface RetentionCandidate {
  readonly id: string;
  readonly snapshotMillis: number;
  /**
   * `succeeded`: the rules count it; `running`: kept, it is still being written; `failed`: not counted
   * and not kept by a rule (a prune removes what a failed backup left).
   */
  readonly status: 'succeeded' | 'running' | 'failed';
  /** Reasons it must stay whatever the rules say (a kept incremental depends on it, a retention lock). */
  readonly holds?: readonly string[];
}

export interface RetentionDecision {
  readonly id: string;
  readonly snapshotMillis: number;
  readonly keep: boolean;
  /** Why it is kept (`daily 2026-11-30`, `newest successful`, a hold), or why it goes. */
  readonly reasons: readonly string[];
}

const BUCKET_RULES = [
  ['keepHourly', 'hourly'],
  ['keepDaily', 'daily'],
  ['keepWeekly', 'weekly'],
  ['keepMonthly', 'monthly'],
  ['keepYearly', 'yearly'],
] as const;

type Bucket = (typeof BUCKET_RULES)[number][1];

const RULE_NAMES = ['keepLast', ...BUCKET_RULES.map(([rule]) => rule), 'keepWithin'] as const;

/** A policy without any rule keeps nothing by accident: refused, as restic refuses an empty `forget`. */
export function retentionPolicyProblems(policy: RetentionPolicy): string[] {
  const problems: string[] = [];
  if (!RULE_NAMES.some((rule) => policy[rule] !== undefined))
    problems.push(`a retention policy needs at least one of ${RULE_NAMES.join(', ')}`);
  for (const rule of RULE_NAMES) {
    if (rule === 'keepWithin') continue;
    const n = policy[rule];
    if (n !== undefined && !(Number.isInteger(n) && n >= 1))
      problems.push(`${rule} must be a whole number of at least 1, got ${String(n)}`);
  }
  if (policy.keepWithin !== undefined && parseRetentionDuration(policy.keepWithin) === undefined)
    problems.push(
      `keepWithin must be a duration such as 7d, 1y6m or 36h, got ${JSON.stringify(policy.keepWithin)}`,
    );
  if (policy.timeZone !== undefined && !countsIn(policy.timeZone))
    problems.push(`timeZone ${JSON.stringify(policy.timeZone)} is not an IANA time zone`);
  return problems;
}

export interface RetentionDuration {
  readonly years: number;
  readonly months: number;
  readonly days: number;
  readonly hours: number;
}

const DURATION = /^(?:(\d+)y)?(?:(\d+)m)?(?:(\d+)d)?(?:(\d+)h)?$/;

/** `1y6m`, `7d`, `36h`, in that order of units, as restic's `--keep-within` takes them. */
export function parseRetentionDuration(text: string): RetentionDuration | undefined {
  const match = DURATION.exec(text);
  if (!match || text === '') return undefined;
  const [years, months, days, hours] = match.slice(1, 5).map((part) => Number(part ?? 0)) as [
    number,
    number,
    number,
    number,
  ];
  return { years, months, days, hours };
}

/** The instant `duration` before `millis`, counting years, months and days on the UTC calendar. */
function before(millis: number, duration: RetentionDuration): number {
  const date = new Date(millis);
  date.setUTCFullYear(
    date.getUTCFullYear() - duration.years,
    date.getUTCMonth() - duration.months,
    date.getUTCDate() - duration.days,
  );
  return date.getTime() - duration.hours * 3_600_000;
}

/**
 * Decides, for every candidate, whether the policy keeps it. The newest successful backup is always
 * kept, running backups and held ones too. Throws on a policy retentionPolicyProblems refuses.
 */
export function applyRetention(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
): RetentionDecision[] {
  const problems = retentionPolicyProblems(policy);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const bucketOf = calendarBuckets(policy.timeZone ?? 'UTC');
  // Newest first; equal instants in id order, so the same input always gives the same answer.
  const ordered = [...candidates].sort(
    (a, b) => b.snapshotMillis - a.snapshotMillis || a.id.localeCompare(b.id),
  );
  const reasons = new Map<string, string[]>(ordered.map((c) => [c.id, [...(c.holds ?? [])]]));
  const keepFor = (id: string, reason: string): void => void reasons.get(id)!.push(reason);

  const succeeded = ordered.filter((c) => c.status === 'succeeded');
  for (const c of ordered) if (c.status === 'running') keepFor(c.id, 'still running');
  if (succeeded[0]) keepFor(succeeded[0].id, 'newest successful');

  succeeded.slice(0, policy.keepLast ?? 0).forEach((c, i) => keepFor(c.id, `last ${i + 1}`));
  for (const [rule, bucket] of BUCKET_RULES) {
    const count = policy[rule];
    if (count === undefined) continue;
    let last: string | undefined;
    let kept = 0;
    for (const c of succeeded) {
      if (kept === count) break;
      const key = bucketOf(bucket, c.snapshotMillis);
      if (key === last) continue;
      last = key;
      kept++;
      keepFor(c.id, `${bucket} ${key}`);
    }
  }
  if (policy.keepWithin !== undefined && succeeded[0]) {
    const since = before(succeeded[0].snapshotMillis, parseRetentionDuration(policy.keepWithin)!);
    for (const c of succeeded) if (c.snapshotMillis >= since) keepFor(c.id, `within ${policy.keepWithin}`);
  }

  return ordered.map((c) => {
    const why = reasons.get(c.id)!;
    if (why.length > 0) return { id: c.id, snapshotMillis: c.snapshotMillis, keep: true, reasons: why };
    const gone = c.status === 'failed' ? 'a failed backup' : 'no rule keeps it';
    return { id: c.id, snapshotMillis: c.snapshotMillis, keep: false, reasons: [gone] };
  });
}

/** The calendar bucket of an instant in `timeZone`: `2026-11-30 13h`, `2026-11-30`, `2026-W49`, `2026-11`, `2026`. */
function calendarBuckets(timeZone: string): (bucket: Bucket, millis: number) => string {
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    hourCycle: 'h23',
  });
  return (bucket, millis) => {
    const parts = Object.fromEntries(format.formatToParts(millis).map((p) => [p.type, p.value]));
    const [year, month, day] = [Number(parts['year']), parts['month']!, parts['day']!];
    switch (bucket) {
      case 'hourly':
        return `${year}-${month}-${day} ${parts['hour']}h`;
      case 'daily':
        return `${year}-${month}-${day}`;
      case 'weekly': {
        const { weekYear, week } = isoWeek(year, Number(month), Number(day));
        return `${weekYear}-W${String(week).padStart(2, '0')}`;
      }
      case 'monthly':
        return `${year}-${month}`;
      case 'yearly':
        return String(year);
    }
  };
}

/** ISO 8601 week of a calendar date: weeks start on Monday, week 1 holds the year's first Thursday. */
function isoWeek(year: number, month: number, day: number): { weekYear: number; week: number } {
  const date = new Date(Date.UTC(year, month - 1, day));
  const weekday = date.getUTCDay() || 7;
  // The Thursday of this week decides its year.
  date.setUTCDate(date.getUTCDate() + 4 - weekday);
  const weekYear = date.getUTCFullYear();
  const week = Math.ceil(((date.getTime() - Date.UTC(weekYear, 0, 1)) / 86_400_000 + 1) / 7);
  return { weekYear, week };
}

/** Whether calendar buckets can be counted in `zone` (an IANA name Intl knows). */
function countsIn(zone: string): boolean {
  try {
    calendarBuckets(zone);
    return true;
  } catch {
    return false;
  }
}
