// The requests of a backup's lifecycle (docs/contracts.md, "Prune and verify requests"): `prune` applies a
// retention policy to the backups of one project at one location; `verify` re-reads one backup's files and
// compares them with its manifests. Both name the location as a backup does, without export options.
import type * as t from 'io-ts';
import type { FieldProblem } from '../codecs.js';
import { bool, exactly, integerFrom, literalOf, stringWith, strictObject } from '../codecs.js';
import { show } from '../decode.js';
import { retentionPolicyProblems } from '../retention.js';
import type { DestinationSpec } from '../stores/types.js';
import {
  AzureLocation,
  CREDENTIAL_FIELDS,
  FileLocation,
  S3Location,
  chosenDestination,
  oneDestination,
} from './destinations.js';
import { BackupTimestamp, GcsUri, OperationId, ProjectId, TimeZone } from './fields.js';

/** Where the backups are: the same four places, and the same fields, as a backup's `backupStorage`. */
export const BackupLocation = strictObject(
  'BackupLocation',
  {},
  {
    gcsOptions: strictObject('GcsLocation', { uri: GcsUri }),
    s3Options: strictObject('S3Location', S3Location.required, S3Location.optional, {
      refused: CREDENTIAL_FIELDS,
    }),
    azureOptions: strictObject('AzureLocation', AzureLocation.required, AzureLocation.optional, {
      refused: CREDENTIAL_FIELDS,
    }),
    fileOptions: strictObject('FileLocation', FileLocation.required, FileLocation.optional),
  },
  { check: oneDestination },
);
export type BackupLocation = t.TypeOf<typeof BackupLocation>;

/** A duration as restic's `--keep-within` takes it: `30d`, `1y6m`, `36h`. */
export const RetentionDurationText = stringWith('RetentionDuration', (v) =>
  /^(?:\d+y)?(?:\d+m)?(?:\d+d)?(?:\d+h)?$/.test(v) && v !== '' && /[1-9]/.test(v)
    ? undefined
    : `expected a duration such as 7d, 1y6m or 36h, got ${show(v)}`,
);

/** restic's `forget` rules; at least one must be given (docs/contracts.md, "Prune and verify requests"). */
export const Retention = strictObject(
  'Retention',
  {},
  {
    keepLast: integerFrom(1),
    keepHourly: integerFrom(1),
    keepDaily: integerFrom(1),
    keepWeekly: integerFrom(1),
    keepMonthly: integerFrom(1),
    keepYearly: integerFrom(1),
    keepWithin: RetentionDurationText,
    /** The IANA time zone the calendar rules count days, weeks, months and years in (default UTC). */
    timeZone: TimeZone,
  },
  {
    check: (policy): FieldProblem[] =>
      retentionPolicyProblems(policy).map((message) => ({ path: [], message })),
  },
);
export type Retention = t.TypeOf<typeof Retention>;

const LIFECYCLE_COMMON = { operationId: OperationId, dryRun: bool } as const;

export const PruneRequest = strictObject(
  'PruneRequest',
  {
    kind: exactly('prune'),
    /** The project whose backups are pruned (a location may hold several projects' backups). */
    bigQuery: strictObject('BigQueryPruneDetails', { projectId: ProjectId }),
    backupStorage: BackupLocation,
  },
  {
    ...LIFECYCLE_COMMON,
    /** Required unless reconcileOnly. */
    retention: Retention,
    /** Deletes nothing: rebuilds the catalogue (Firestore `backups`) of the location from storage. */
    reconcileOnly: bool,
  },
  {
    check: (request): FieldProblem[] =>
      request.retention === undefined && request.reconcileOnly !== true
        ? [
            {
              path: ['retention'],
              message: 'required: the retention policy to apply (or reconcileOnly: true)',
            },
          ]
        : request.retention !== undefined && request.reconcileOnly === true
          ? [
              {
                path: ['retention'],
                message: 'reconcileOnly deletes nothing: give retention or reconcileOnly, not both',
              },
            ]
          : [],
  },
);
export type PruneRequest = t.TypeOf<typeof PruneRequest>;

/** restic's `--read-data-subset`: `n/t` (the n-th of t parts of the files) or a percentage such as `10%`. */
export const ReadDataSubset = stringWith('ReadDataSubset', (v) => {
  const part = /^(\d+)\/(\d+)$/.exec(v);
  if (part) {
    const [n, of] = [Number(part[1]), Number(part[2])];
    return n >= 1 && n <= of ? undefined : `expected n/t with 1 <= n <= t, got ${show(v)}`;
  }
  const percent = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (percent && Number(percent[1]) > 0 && Number(percent[1]) <= 100) return undefined;
  return `expected n/t (such as 1/5) or a percentage above 0 and at most 100 (such as 10%), got ${show(v)}`;
});

export const VerifyRequest = strictObject(
  'VerifyRequest',
  {
    kind: exactly('verify'),
    /** The project whose backup is verified. */
    bigQuery: strictObject('BigQueryVerifyDetails', { projectId: ProjectId }),
    backupStorage: BackupLocation,
    /** Which backup: its folder name (`yyyyMMdd_HHmmss[_<12 hex>]`) or `latest`. */
    backupTimestamp: BackupTimestamp,
  },
  {
    ...LIFECYCLE_COMMON,
    /** Absent: every file is read. */
    readDataSubset: ReadDataSubset,
    /**
     * Also loads every table of the backup into a scratch dataset, compares its rows with the manifest's
     * count and drops it (docs/contracts.md, "Prune and verify requests").
     */
    restoreDrill: bool,
    /** The project the drill's scratch datasets go to (default: bigQuery.projectId). */
    restoreDrillProjectId: ProjectId,
  },
  {
    check: (request): FieldProblem[] =>
      request.restoreDrillProjectId !== undefined && request.restoreDrill !== true
        ? [{ path: ['restoreDrillProjectId'], message: 'only with restoreDrill: true' }]
        : [],
  },
);
export type VerifyRequest = t.TypeOf<typeof VerifyRequest>;

/** Where a prune or verify request's backups are. */
export function lifecycleLocation(request: PruneRequest | VerifyRequest): DestinationSpec {
  return chosenDestination(request.backupStorage).spec;
}

/** A file subset as a rule: the share of files read, and which part of them. */
export type FileSubset = { readonly part: number; readonly of: number } | { readonly percent: number };

export function parseReadDataSubset(text: string): FileSubset {
  const part = /^(\d+)\/(\d+)$/.exec(text);
  if (part) return { part: Number(part[1]), of: Number(part[2]) };
  return { percent: Number(text.slice(0, -1)) };
}

/**
 * A backup's retention lock (`backupStorage.<gcs|s3|azure>Options.writeOnce`): every object it writes can be
 * neither deleted nor overwritten until `retainFor` after its snapshot. GOVERNANCE (the default) is S3's
 * governance mode and an unlocked Cloud Storage retention or Azure immutability policy: someone with the
 * bypass permission can still shorten it. COMPLIANCE is S3's compliance mode and a locked policy: nobody can.
 */
export const WriteOnce = strictObject(
  'WriteOnce',
  { retainFor: RetentionDurationText },
  { mode: literalOf('WriteOnceMode', ['GOVERNANCE', 'COMPLIANCE']) },
);
export type WriteOnce = t.TypeOf<typeof WriteOnce>;
