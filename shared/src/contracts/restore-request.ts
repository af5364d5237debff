// A restore request: the original service's JSON verbatim, with its defaults, plus bqbr's optional extensions
// (`kind`, `operationId`, `dryRun`, `tablesToRestore`, `targetDatasetPrefix`, `targetDataset`).
import * as t from 'io-ts';
import type { FieldProblem } from '../codecs.js';
import { bool, exactly, integerFrom, listOf, stringWith, strictObject } from '../codecs.js';
import { show } from '../decode.js';
import {
  BackupTimestamp,
  DatasetName,
  FieldDelimiter,
  Format,
  GcsUri,
  Location,
  OperationId,
  ProjectId,
  QualifiedTableName,
  ValueVerification,
  WriteDisposition,
} from './fields.js';
import {
  AzureLocation,
  CREDENTIAL_FIELDS,
  FileLocation,
  S3Location,
  chosenDestination,
  oneDestination,
} from './destinations.js';
import type { DestinationSpec } from '../stores/types.js';
import { IMPORT_DEFAULTS, OMITTED_IMPORT_OPTIONS, beforeDecode, withDefaults } from './original-defaults.js';

export { IMPORT_DEFAULTS, OMITTED_IMPORT_OPTIONS, ORIGINAL_RESTORE_REGION } from './original-defaults.js';

/** Restored datasets are new datasets named with this prefix unless the request says otherwise. */
export const DEFAULT_TARGET_DATASET_PREFIX = 'restored_';

// Empty is allowed: it restores into datasets named as the originals.
const DatasetPrefix = stringWith('DatasetPrefix', (v) =>
  /^[A-Za-z0-9_]{0,1000}$/.test(v) ? undefined : `expected letters, digits or underscores, got ${show(v)}`,
);

/** `header`, `ignoreUnknownValues`, `maxBadRecords`, `writeDisposition` default as in the original service. */
export const ImportOptions = withDefaults(
  strictObject(
    'ImportOptions',
    {
      header: bool,
      ignoreUnknownValues: bool,
      maxBadRecords: integerFrom(0),
      writeDisposition: WriteDisposition,
    },
    {
      /** Location of new target datasets; absent: the backed-up dataset's (see ORIGINAL_RESTORE_REGION). */
      restoreRegion: Location,
      /** Must be the backup's format (checked against its manifests); absent: the backup's own. */
      format: Format,
      fieldDelimiter: FieldDelimiter,
      // Advisory: accepted for compatibility; bqbr's parallelism is the number of workers.
      threadPoolSize: integerFrom(1),
      threadQueueCapacity: integerFrom(1),
    },
  ),
  IMPORT_DEFAULTS,
);
export type ImportOptions = t.TypeOf<typeof ImportOptions>;

/** Which backup: the same fields whatever the destination. */
const BACKUP_ID = { backupTimestamp: BackupTimestamp, projectIdOfBackup: ProjectId } as const;
const RESTORE_OPTIONAL = {
  /** Absent (the original service required it): bqbr's own defaults, OMITTED_IMPORT_OPTIONS. */
  importOptions: ImportOptions,
} as const;

export const RestoreRequest = beforeDecode(
  strictObject(
    'RestoreRequest',
    {
      bigQuery: strictObject(
        'BigQueryRestoreDetails',
        { projectId: ProjectId },
        {
          /** Absent or empty: every dataset in the backup. */
          datasetsToRestore: t.array(DatasetName),
          /** Extension: only these `dataset.table`s (each dataset must be in datasetsToRestore). */
          tablesToRestore: listOf(QualifiedTableName, 'dataset.table names'),
          /** Extension: prefix of each restored dataset's name (default `restored_`). */
          targetDatasetPrefix: DatasetPrefix,
          /** Extension: restore the one dataset of datasetsToRestore into this dataset. */
          targetDataset: DatasetName,
        },
        { check: restoreTargetProblems },
      ),
      restoreStorage: strictObject(
        'RestoreStorage',
        {},
        {
          gcsOptions: strictObject('RestoreGcsOptions', { uri: GcsUri, ...BACKUP_ID }, RESTORE_OPTIONAL),
          /** Extension: a backup in Amazon S3 (copied to the staging bucket, then loaded). */
          s3Options: strictObject(
            'RestoreS3Options',
            { ...S3Location.required, ...BACKUP_ID },
            { ...S3Location.optional, ...RESTORE_OPTIONAL },
            { refused: CREDENTIAL_FIELDS },
          ),
          /** Extension: a backup in Azure Blob Storage. */
          azureOptions: strictObject(
            'RestoreAzureOptions',
            { ...AzureLocation.required, ...BACKUP_ID },
            { ...AzureLocation.optional, ...RESTORE_OPTIONAL },
            { refused: CREDENTIAL_FIELDS },
          ),
          /** Extension: a backup in a directory under one of the services' BQBR_FILE_ROOTS. */
          fileOptions: strictObject(
            'RestoreFileOptions',
            { ...FileLocation.required, ...BACKUP_ID },
            { ...FileLocation.optional, ...RESTORE_OPTIONAL },
          ),
        },
        { check: oneDestination },
      ),
    },
    {
      kind: exactly('restore'),
      operationId: OperationId,
      dryRun: bool,
      /**
       * Extension: `fingerprint` recomputes each restored table's content fingerprint and fails a table whose
       * value differs from the one its backup recorded (docs/contracts.md, "Value verification").
       */
      verify: ValueVerification,
      /**
       * Extension: give the datasets the restore creates their backed-up access entries, authorized views,
       * routines and datasets rewritten to the restored ones (docs/contracts.md, "Dataset settings").
       */
      restoreAccess: bool,
      /** Extension: a backed-up table's CMEK key name → the key its restored table is encrypted with. */
      kmsKeyMapping: t.record(t.string, t.string),
      /** Extension, with restoreAccess: principal (`user:a@x.com`, `group:…`, `domain:…`) → another, or null to drop it. */
      accessPrincipalMap: t.record(t.string, t.union([t.string, t.null])),
    },
    { check: (request) => [...appendedNotVerified(request), ...principalMapProblems(request)] },
  ),
  namedTargetsWriteEmpty,
);
export type RestoreRequest = t.TypeOf<typeof RestoreRequest>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The original service's WRITE_TRUNCATE default is for its own requests, which never name a target: theirs
 * are new `restored_` datasets, whose existing tables bqbr never replaces. A request that names its target
 * (a bqbr extension) replaces existing tables only when it says WRITE_TRUNCATE itself.
 */
function namedTargetsWriteEmpty(input: unknown): unknown {
  if (!isRecord(input) || !isRecord(input['bigQuery']) || !isRecord(input['restoreStorage'])) return input;
  const details = input['bigQuery'];
  if (details['targetDataset'] == null && details['targetDatasetPrefix'] == null) return input;
  const storage: Record<string, unknown> = { ...input['restoreStorage'] };
  for (const [key, options] of Object.entries(storage)) {
    if (!isRecord(options) || !isRecord(options['importOptions'])) continue;
    const importOptions = options['importOptions'];
    if (importOptions['writeDisposition'] == null)
      storage[key] = { ...options, importOptions: { ...importOptions, writeDisposition: 'WRITE_EMPTY' } };
  }
  return { ...input, restoreStorage: storage };
}

/** A fingerprint is of a whole table: rows appended to a table that had some never match the backup's. */
function appendedNotVerified(request: {
  readonly verify?: 'FINGERPRINT';
  readonly restoreStorage: Readonly<Record<string, { readonly importOptions?: ImportOptions } | undefined>>;
}): FieldProblem[] {
  if (request.verify === undefined) return [];
  const appending = Object.values(request.restoreStorage).some(
    (options) => options?.importOptions?.writeDisposition === 'WRITE_APPEND',
  );
  return appending
    ? [
        {
          path: ['verify'],
          message:
            'verify "fingerprint" compares whole restored tables with their backups: it cannot be combined with writeDisposition WRITE_APPEND',
        },
      ]
    : [];
}

const PRINCIPAL = /^(user|group|domain|serviceAccount|specialGroup|iamMember):.+$/;

function principalMapProblems(request: {
  readonly restoreAccess?: boolean;
  readonly accessPrincipalMap?: Readonly<Record<string, string | null>>;
}): FieldProblem[] {
  const map = request.accessPrincipalMap;
  if (map === undefined) return [];
  if (request.restoreAccess !== true)
    return [{ path: ['accessPrincipalMap'], message: 'accessPrincipalMap is only for restoreAccess: true' }];
  return Object.entries(map).flatMap(([from, to]) => [
    ...(PRINCIPAL.test(from)
      ? []
      : [
          {
            path: ['accessPrincipalMap', from],
            message: `expected a principal such as user:a@example.com, got ${show(from)}`,
          },
        ]),
    ...(to === null || PRINCIPAL.test(to)
      ? []
      : [
          {
            path: ['accessPrincipalMap', from],
            message: `expected a principal such as user:a@example.com or null, got ${show(to)}`,
          },
        ]),
  ]);
}

function restoreTargetProblems(details: {
  readonly datasetsToRestore?: readonly string[];
  readonly tablesToRestore?: readonly string[];
  readonly targetDatasetPrefix?: string;
  readonly targetDataset?: string;
}): FieldProblem[] {
  const problems: FieldProblem[] = [];
  details.tablesToRestore?.forEach((table, i) => {
    const dataset = table.split('.')[0]!;
    const datasets = details.datasetsToRestore ?? [];
    if (datasets.length > 0 && !datasets.includes(dataset)) {
      problems.push({
        path: ['tablesToRestore', i],
        message: `dataset ${dataset} is not in datasetsToRestore`,
      });
    }
  });
  if (details.targetDataset !== undefined) {
    if (details.targetDatasetPrefix !== undefined) {
      problems.push({
        path: ['targetDataset'],
        message: 'give targetDataset or targetDatasetPrefix, not both',
      });
    } else if (details.datasetsToRestore?.length !== 1) {
      problems.push({
        path: ['targetDataset'],
        message: `names one dataset, but datasetsToRestore has ${details.datasetsToRestore?.length ?? 0}`,
      });
    }
  }
  return problems;
}

/** Where a restore reads its backup from, whichever destination the request names, and which backup. */
export function restoreSource(request: RestoreRequest): {
  readonly spec: DestinationSpec;
  readonly backupTimestamp: string;
  readonly projectIdOfBackup: string;
  readonly importOptions: ImportOptions;
} {
  const { options, spec } = chosenDestination(request.restoreStorage);
  const { backupTimestamp, projectIdOfBackup, importOptions } = options as {
    backupTimestamp: string;
    projectIdOfBackup: string;
    importOptions?: ImportOptions;
  };
  return { spec, backupTimestamp, projectIdOfBackup, importOptions: importOptions ?? OMITTED_IMPORT_OPTIONS };
}
