// A backup request: the original service's JSON verbatim, with its defaults, plus bqbr's optional extensions
// (`kind`, `operationId`, `dryRun`, `excludeTables`).
import type * as t from 'io-ts';
import { bool, exactly, integerFrom, listOf, oneOf, strictObject } from '../codecs.js';
import {
  BackupTimestamp,
  COMPRESSIONS_BY_FORMAT,
  Compression,
  DatasetName,
  FieldDelimiter,
  Format,
  GcsUri,
  LocalDateTimeText,
  OperationId,
  ProjectId,
  QualifiedTablePattern,
  TableName,
  TablePattern,
  TimeZone,
  ValueVerification,
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
import { WriteOnce } from './lifecycle-request.js';
import { EXPORT_DEFAULTS, withDefaults } from './original-defaults.js';

export { EXPORT_DEFAULTS } from './original-defaults.js';

export const TableSelection = strictObject(
  'TableSelection',
  { datasetName: DatasetName },
  {
    tables: listOf(TableName, 'table names'),
    /** `*` wildcards, e.g. `daily_*`. */
    tableFilter: TablePattern,
    /** Extension: table patterns left out of this dataset. */
    excludeTables: listOf(TablePattern, 'table patterns'),
  },
);
export type TableSelection = t.TypeOf<typeof TableSelection>;

/** `format` and `overwrite` default as in the original service (original-defaults.ts). */
export const ExportOptions = withDefaults(
  strictObject(
    'ExportOptions',
    { format: Format, overwrite: bool },
    {
      header: bool,
      compression: Compression,
      fieldDelimiter: FieldDelimiter,
      // Advisory: accepted for compatibility; bqbr's parallelism is the number of workers.
      threadPoolSize: integerFrom(1),
      threadQueueCapacity: integerFrom(1),
    },
    {
      check: ({ format, compression }) =>
        compression === undefined || COMPRESSIONS_BY_FORMAT[format].includes(compression)
          ? []
          : [
              {
                path: ['compression'],
                message: `${compression} is not available for ${format} (use one of ${COMPRESSIONS_BY_FORMAT[format].join(', ')})`,
              },
            ],
    },
  ),
  EXPORT_DEFAULTS,
);
export type ExportOptions = t.TypeOf<typeof ExportOptions>;

export const BackupTime = strictObject(
  'BackupTime',
  {},
  { localDateTime: LocalDateTimeText, timezone: TimeZone },
);
export type BackupTime = t.TypeOf<typeof BackupTime>;

export const BackupRequest = strictObject(
  'BackupRequest',
  {
    bigQuery: strictObject(
      'BigQueryBackupDetails',
      { projectId: ProjectId },
      {
        /** Absent: every dataset of the project. */
        tablesToBackup: listOf(TableSelection, 'dataset selections'),
        /** Extension: `dataset.table` or bare `table` patterns left out of every selected dataset. */
        excludeTables: listOf(QualifiedTablePattern, 'table patterns'),
      },
    ),
    backupStorage: strictObject(
      'BackupStorage',
      {},
      {
        gcsOptions: strictObject(
          'BackupGcsOptions',
          { uri: GcsUri, exportOptions: ExportOptions },
          { writeOnce: WriteOnce },
        ),
        /** Extension: Amazon S3 or an S3-compatible store (exported to the staging bucket, then copied). */
        s3Options: strictObject(
          'BackupS3Options',
          { ...S3Location.required, exportOptions: ExportOptions },
          { ...S3Location.optional, writeOnce: WriteOnce },
          { refused: CREDENTIAL_FIELDS },
        ),
        /** Extension: Azure Blob Storage. */
        azureOptions: strictObject(
          'BackupAzureOptions',
          { ...AzureLocation.required, exportOptions: ExportOptions },
          { ...AzureLocation.optional, writeOnce: WriteOnce },
          { refused: CREDENTIAL_FIELDS },
        ),
        /** Extension: a directory under one of the services' BQBR_FILE_ROOTS. */
        fileOptions: strictObject(
          'BackupFileOptions',
          { ...FileLocation.required, exportOptions: ExportOptions },
          FileLocation.optional,
          {
            refused: {
              writeOnce:
                'a directory cannot hold a retention lock: use gcsOptions, s3Options or azureOptions',
            },
          },
        ),
      },
      { check: oneDestination },
    ),
  },
  {
    /** Absent: now, in UTC. */
    backupTime: BackupTime,
    kind: exactly('backup'),
    operationId: OperationId,
    dryRun: bool,
    /**
     * Extension: `incremental` exports only the partitions and tables changed since `base` and references
     * the rest from it (docs/contracts.md, "Incremental backups"); absent or `full`: every table whole.
     */
    mode: oneOf('BackupMode', ['FULL', 'INCREMENTAL'] as const),
    /** Incremental only: the backup to build on, `latest` (the default) or its timestamp or folder name. */
    base: BackupTimestamp,
    /** Incremental only: a full backup is made instead once the chain behind it holds this many incrementals (default 7). */
    maxChainLength: integerFrom(1),
    /**
     * Extension: `fingerprint` records each table's content fingerprint at the snapshot in its manifest (one
     * query per table, billed as a full scan) for restores and restore drills to compare values
     * (docs/contracts.md, "Value verification").
     */
    verify: ValueVerification,
  },
  {
    check: ({ mode, base, maxChainLength }) =>
      mode === 'INCREMENTAL'
        ? []
        : [
            ...(base !== undefined
              ? [{ path: ['base'], message: 'base is only for mode "incremental"' }]
              : []),
            ...(maxChainLength !== undefined
              ? [{ path: ['maxChainLength'], message: 'maxChainLength is only for mode "incremental"' }]
              : []),
          ],
  },
);
export type BackupRequest = t.TypeOf<typeof BackupRequest>;

/** An incremental chain is cut by a full backup after this many incrementals unless the request says. */
export const DEFAULT_MAX_CHAIN_LENGTH = 7;

/** The destination of a backup and its export options, whichever of the four it names. */
export function backupDestination(request: BackupRequest): {
  readonly spec: DestinationSpec;
  readonly exportOptions: ExportOptions;
  readonly writeOnce?: WriteOnce;
} {
  const { options, spec } = chosenDestination(request.backupStorage);
  const { exportOptions, writeOnce } = options as { exportOptions: ExportOptions; writeOnce?: WriteOnce };
  return { spec, exportOptions, ...(writeOnce ? { writeOnce } : {}) };
}
