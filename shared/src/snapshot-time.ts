// The instant every table of a backup is read at, and the folder it is written to. A request names the
// instant as a wall-clock time in a time zone, as the original service's `backupTime` did.
import { createHash } from 'node:crypto';

export interface LocalDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly millisecond: number;
}

const LOCAL_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/;

/** Parses what java.time's ISO_LOCAL_DATE_TIME accepts (seconds and fraction optional); sub-millisecond digits are dropped. */
export function parseLocalDateTime(text: string): LocalDateTime | undefined {
  const match = LOCAL_DATE_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second = 0] = match.slice(1, 7).map((part) => Number(part ?? 0));
  const millisecond = Number((match[7] ?? '').padEnd(3, '0').slice(0, 3));
  const local = { year, month, day, hour, minute, second, millisecond } as LocalDateTime;
  if (
    local.month < 1 ||
    local.month > 12 ||
    local.day < 1 ||
    local.day > daysInMonth(local.year, local.month)
  ) {
    return undefined;
  }
  if (local.hour > 23 || local.minute > 59 || local.second > 59) return undefined;
  return local;
}

function daysInMonth(year: number, month: number): number {
  const date = new Date(0);
  // Day 0 of the next month is the last day of this one.
  date.setUTCFullYear(year, month, 0);
  return date.getUTCDate();
}

const FIXED_OFFSET = /^(?:Z|(?:UTC|GMT|UT)?([+-])(\d{1,2})(?::?(\d{2}))?)$/;

/** The offset (ms east of UTC) a zone fixes regardless of date, if it is written as an offset. */
function fixedOffsetMs(zone: string): number | undefined {
  const match = FIXED_OFFSET.exec(zone);
  if (!match) return undefined;
  const [, sign, hours, minutes] = match;
  if (sign === undefined) return 0;
  const value = Number(hours) * 3_600_000 + Number(minutes ?? 0) * 60_000;
  return sign === '-' ? -value : value;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(zone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(zone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, formatter);
  }
  return formatter;
}

/** Whether `zone` names a time zone: an IANA zone Intl knows, or a fixed offset as java.time's ZoneId accepts. */
export function isTimeZone(zone: string): boolean {
  if (fixedOffsetMs(zone) !== undefined) return true;
  try {
    formatterFor(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at `instantMs`, from the wall clock Intl shows there. */
function offsetAt(zone: string, instantMs: number): number {
  const fixed = fixedOffsetMs(zone);
  if (fixed !== undefined) return fixed;
  const parts = Object.fromEntries(
    formatterFor(zone)
      .formatToParts(new Date(instantMs))
      .map((part) => [part.type, Number(part.value)]),
  );
  const wall = utcMs({
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    hour: parts.hour!,
    minute: parts.minute!,
    second: parts.second!,
    millisecond: 0,
  });
  return wall - (instantMs - (((instantMs % 1000) + 1000) % 1000));
}

function utcMs(local: LocalDateTime): number {
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, does not map years 0-99 to 1900-1999.
  date.setUTCFullYear(local.year, local.month - 1, local.day);
  date.setUTCHours(local.hour, local.minute, local.second, local.millisecond);
  return date.getTime();
}

const DAY_MS = 86_400_000;

/**
 * The instant a wall-clock time names in `zone`, resolved as java.time's `LocalDateTime.atZone` does:
 * in a DST overlap the earlier instant (the offset before the transition); in a DST gap the time is
 * moved forward by the gap's length (02:30 in a 02:00→03:00 gap is 03:30 after the transition).
 */
export function zonedInstant(local: LocalDateTime, zone: string): Date {
  const wall = utcMs(local);
  const offsetBefore = offsetAt(zone, wall - DAY_MS);
  const offsetAfter = offsetAt(zone, wall + DAY_MS);
  const candidates = [...new Set([offsetBefore, offsetAfter])]
    .map((offset) => wall - offset)
    .filter((instant) => offsetAt(zone, instant) === wall - instant);
  // No candidate means the wall time falls in a gap: keep the offset from before it.
  const instant = candidates.length > 0 ? Math.min(...candidates) : wall - offsetBefore;
  return new Date(instant);
}

/**
 * A wall-clock time in a zone, as a request's `backupTime` (the BackupTime codec) names it. Declared by its
 * shape here: the request codecs validate with this module, so it cannot import them.
 */
export interface WallClockTime {
  readonly localDateTime?: string | undefined;
  readonly timezone?: string | undefined;
}

/** The snapshot instant a backup request asks for; without a `backupTime` (or its `localDateTime`), `now`. */
export function snapshotInstant(backupTime: WallClockTime | undefined, now: Date): Date {
  if (backupTime?.localDateTime === undefined) return now;
  const local = parseLocalDateTime(backupTime.localDateTime);
  if (!local) throw new RangeError(`not an ISO local date-time: ${backupTime.localDateTime}`);
  return zonedInstant(local, backupTime.timezone ?? 'UTC');
}

const pad = (value: number, width = 2): string => String(value).padStart(width, '0');

/** Hex digits of sha256(operationId) after the timestamp in the name of a bqbr backup's folder. */
const FOLDER_SUFFIX_DIGITS = 12;

/**
 * A backup's folder under `backups/`: `yyyyMMdd_HHmmss` of the snapshot instant in UTC, as the original
 * service names it (and as a restore's `backupTimestamp` gives it); with `operationId`, bqbr's own
 * `yyyyMMdd_HHmmss_<12 hex digits of sha256(operationId)>`, which no other backup shares even in the
 * same second and which no dispatcher has to claim first (docs/contracts.md, "Storage layout").
 */
export function backupFolderName(instant: Date, operationId?: string): string {
  const timestamp =
    `${pad(instant.getUTCFullYear(), 4)}${pad(instant.getUTCMonth() + 1)}${pad(instant.getUTCDate())}_` +
    `${pad(instant.getUTCHours())}${pad(instant.getUTCMinutes())}${pad(instant.getUTCSeconds())}`;
  if (operationId === undefined) return timestamp;
  const suffix = createHash('sha256').update(operationId).digest('hex').slice(0, FOLDER_SUFFIX_DIGITS);
  return `${timestamp}_${suffix}`;
}

/** A backup folder's name read back. */
export interface BackupFolderParts {
  /** `yyyyMMdd_HHmmss`: the snapshot second (UTC). */
  readonly timestamp: string;
  /** The instant the timestamp names. */
  readonly snapshotMillis: number;
  /** bqbr's suffix (12 hex digits); absent for the original service's names (and bqbr's before it had one). */
  readonly suffix?: string;
}

// The 12 of the suffix is FOLDER_SUFFIX_DIGITS.
const FOLDER_NAME = /^((\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2}))(?:_([0-9a-f]{12}))?$/;

/** The parts of a backup folder's name, or undefined for anything else (e.g. `20241399_000000`). */
export function parseBackupFolderName(name: string): BackupFolderParts | undefined {
  const match = FOLDER_NAME.exec(name);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(2, 8).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  const timestamp = match[1]!;
  // Date rolls 31 April over to 1 May: only a name that survives the round trip is a timestamp.
  if (backupFolderName(date) !== timestamp) return undefined;
  const suffix = match[8];
  return { timestamp, snapshotMillis: date.getTime(), ...(suffix !== undefined ? { suffix } : {}) };
}
