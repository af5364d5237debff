// Command-line values turned into request fields, and a request checked locally before it is sent: a
// bad value is reported with the option that gave it.
import { decodeRequest, ValidationError, type DecodedRequest, type RequestKind } from '@bqbr/shared';
import { UsageError } from './failure.js';

export function positiveInteger(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0)
    throw new UsageError(`${option} takes a whole number above 0, not "${value}"`);
  return number;
}

/** restic's `forget` rules as options, and the Retention field each one fills. */
export const RETENTION_RULES = [
  ['keep-last', 'keepLast', 'N'],
  ['keep-hourly', 'keepHourly', 'N'],
  ['keep-daily', 'keepDaily', 'N'],
  ['keep-weekly', 'keepWeekly', 'N'],
  ['keep-monthly', 'keepMonthly', 'N'],
  ['keep-yearly', 'keepYearly', 'N'],
  ['keep-within', 'keepWithin', 'DURATION'],
] as const;

/** The rules as parseArgs options. */
export const RETENTION_OPTIONS = {
  'keep-last': { type: 'string' },
  'keep-hourly': { type: 'string' },
  'keep-daily': { type: 'string' },
  'keep-weekly': { type: 'string' },
  'keep-monthly': { type: 'string' },
  'keep-yearly': { type: 'string' },
  'keep-within': { type: 'string' },
} as const satisfies Record<(typeof RETENTION_RULES)[number][0], { type: 'string' }>;

export type RetentionValues = { readonly [K in (typeof RETENTION_RULES)[number][0]]?: string | undefined };

/** The `retention` of a prune request from the options; a usage error listing the rules when none is given. */
export function retentionOf(
  values: RetentionValues,
  timeZone: string | undefined,
): Record<string, number | string> {
  const retention: Record<string, number | string> = {};
  for (const [option, field, value] of RETENTION_RULES) {
    const given = values[option];
    if (given === undefined) continue;
    retention[field] = value === 'N' ? positiveInteger(`--${option}`, given)! : given;
  }
  if (Object.keys(retention).length === 0)
    throw new UsageError(
      `prune needs at least one rule of what to keep: ${RETENTION_RULES.map(([option, , value]) => `--${option} ${value}`).join(', ')}`,
    );
  return timeZone === undefined ? retention : { ...retention, timeZone };
}

/** Request fields as the command line names them, for messages about a bad value. */
const OPTION_OF_FIELD: Readonly<Record<string, string>> = {
  'bigQuery.projectId': '--project',
  'retention.timeZone': '--time-zone',
  readDataSubset: '--read-data-subset',
  restoreDrillProjectId: '--drill-project',
  backupTimestamp: 'the backup timestamp',
  ...Object.fromEntries(RETENTION_RULES.map(([option, field]) => [`retention.${field}`, `--${option}`])),
};

/**
 * A request the command built, decoded by the codec the dispatcher uses, so that a bad value is refused
 * here, naming its option, before anything is sent.
 */
export function checkedRequest(kind: RequestKind, body: Record<string, unknown>): DecodedRequest {
  try {
    return decodeRequest(body, { kind });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new UsageError(
      err.issues.map((issue) => {
        const option =
          OPTION_OF_FIELD[issue.path] ??
          (issue.path.startsWith('backupStorage') ? 'the location' : issue.path);
        return `${option || `the ${kind} request`}: ${issue.message}`;
      }),
    );
  }
}
