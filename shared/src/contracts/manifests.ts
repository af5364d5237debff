// What a backup writes beside its data: `_table.json` per table and `_backup.json` per operation.
// Restore reads them back through these codecs, so they are versioned and decoded at the edge.
import * as t from 'io-ts';
import { TableRef } from './task.js';

export const MANIFEST_VERSION = 1;

export const BackupFile = t.type(
  {
    /** Object name relative to the table folder, e.g. `data-000000000000.avro`. */
    name: t.string,
    uri: t.string,
    bytes: t.number,
  },
  'BackupFile',
);
export const BackupFileChecksums = t.partial({ md5: t.string, crc32c: t.string });
/** Incremental backups (docs/contracts.md, "Incremental backups"): where a file is and which partition it holds. */
export const BackupFilePlace = t.partial({
  /**
   * The path in the store of the table folder holding the file, ending with '/', when that is another
   * backup's (an unchanged partition or table an incremental backup references); absent: the manifest's own.
   */
  folder: t.string,
  /** The partition the file holds (`20260101`, `__NULL__`): a partitioned table backed up partition by partition. */
  partition: t.string,
});
export const BackupFileEntry = t.intersection(
  [BackupFile, BackupFileChecksums, BackupFilePlace],
  'BackupFileEntry',
);
export type BackupFileEntry = t.TypeOf<typeof BackupFileEntry>;

/** BigQuery's TableFieldSchema, recursively (kept as BigQuery returned it). */
export interface FieldSchema {
  name: string;
  type: string;
  mode?: string;
  description?: string;
  fields?: FieldSchema[];
  [key: string]: unknown;
}
export const FieldSchema: t.Type<FieldSchema> = t.recursion('FieldSchema', () =>
  t.intersection([
    t.type({ name: t.string, type: t.string }),
    t.partial({ mode: t.string, description: t.string, fields: t.array(FieldSchema) }),
    t.record(t.string, t.unknown),
  ]),
);

export const ExportSettings = t.type(
  {
    format: t.keyof({ AVRO: null, PARQUET: null, CSV: null, JSON: null }),
    compression: t.string,
    header: t.boolean,
    fieldDelimiter: t.string,
    useAvroLogicalTypes: t.boolean,
  },
  'ExportSettings',
);
export type ExportSettings = t.TypeOf<typeof ExportSettings>;

export const TablePartition = t.type(
  {
    id: t.string,
    rows: t.number,
    /** INFORMATION_SCHEMA.PARTITIONS.last_modified_time (epoch millis) when the backup read it. */
    lastModifiedMillis: t.number,
  },
  'TablePartition',
);
export type TablePartition = t.TypeOf<typeof TablePartition>;

/**
 * A table's content fingerprint at the snapshot (docs/contracts.md, "Value verification"): its rows and an
 * order-independent XOR of FARM_FINGERPRINTs, 16 hex digits (shared/src/content-fingerprint.ts).
 */
export const ContentFingerprint = t.type({ rows: t.number, value: t.string }, 'ContentFingerprint');
export type ContentFingerprint = t.TypeOf<typeof ContentFingerprint>;

/** `_table.json`: everything needed to recreate one table exactly and to check the restore. */
export const TableManifest = t.intersection(
  [
    t.type({
      manifestVersion: t.literal(MANIFEST_VERSION),
      kind: t.literal('bqbr#table'),
      operationId: t.string,
      source: TableRef,
      snapshotMillis: t.number,
      /** ISO-8601 UTC form of snapshotMillis. */
      snapshotTime: t.string,
      /** BigQuery's table type: TABLE, VIEW, MATERIALIZED_VIEW, SNAPSHOT, EXTERNAL. */
      tableType: t.string,
      schema: t.type({ fields: t.array(FieldSchema) }),
      /** Rows in the table at the snapshot instant. */
      numRows: t.number,
      export: ExportSettings,
      files: t.array(BackupFileEntry),
      createdAt: t.string,
    }),
    t.partial({
      description: t.string,
      friendlyName: t.string,
      labels: t.record(t.string, t.string),
      timePartitioning: t.record(t.string, t.unknown),
      rangePartitioning: t.record(t.string, t.unknown),
      clustering: t.type({ fields: t.array(t.string) }),
      requirePartitionFilter: t.boolean,
      /** Views and materialized views: their definition instead of data. */
      view: t.record(t.string, t.unknown),
      materializedView: t.record(t.string, t.unknown),
      numBytes: t.number,
      location: t.string,
      extractJobId: t.string,
      /**
       * A table backed up partition by partition (an incremental chain): each partition at the snapshot,
       * with its rows then and BigQuery's last modification of it when it was read.
       */
      partitions: t.array(TablePartition),
      /** Partitions the base backup had that the table no longer has at the snapshot. */
      deletedPartitions: t.array(t.string),
      /** Extract jobs this backup ran for the table (one per exported partition). */
      extractJobs: t.number,
      /** The request's `verify: "fingerprint"`: the table's content at the snapshot, as BigQuery computed it. */
      fingerprint: ContentFingerprint,
      /** Epoch millis (BigQuery's int64 text): when the table expires. */
      expirationTime: t.string,
      /** Primary and foreign keys (docs/contracts.md, "Table settings"). */
      tableConstraints: t.record(t.string, t.unknown),
      /** The table's CMEK key (`kmsKeyName`), kept or mapped by a restore's kmsKeyMapping. */
      encryptionConfiguration: t.record(t.string, t.unknown),
      defaultCollation: t.string,
      defaultRoundingMode: t.string,
      /** A table snapshot's or clone's base table and time: restored as a standard table, and noted. */
      snapshotDefinition: t.record(t.string, t.unknown),
      cloneDefinition: t.record(t.string, t.unknown),
    }),
  ],
  'TableManifest',
);
export type TableManifest = t.TypeOf<typeof TableManifest>;

export const BackupTableEntry = t.intersection([
  t.type({ datasetId: t.string, tableId: t.string, status: t.string }),
  t.partial({
    rows: t.number,
    bytes: t.number,
    files: t.number,
    manifest: t.string,
    /** MD5 (base64) of the table's `_table.json`: a restore refuses a manifest that does not match. */
    manifestMd5: t.string,
    note: t.string,
    error: t.type({ reason: t.string, message: t.string }),
  }),
]);
export type BackupTableEntry = t.TypeOf<typeof BackupTableEntry>;

export const OperationSummary = t.type(
  {
    tables: t.number,
    succeeded: t.number,
    failed: t.number,
    skipped: t.number,
    rows: t.number,
    bytes: t.number,
    files: t.number,
  },
  'OperationSummary',
);
export type OperationSummary = t.TypeOf<typeof OperationSummary>;

/**
 * A backed-up dataset's settings (docs/contracts.md, "Dataset settings"): the Dataset resource's fields a
 * restore gives a dataset it creates, and its access entries (restored only when a request asks), as
 * `datasets.get` answered at `readAt`: BigQuery keeps no history of a dataset's settings.
 */
export const BackupDatasetEntry = t.intersection(
  [
    t.type({ datasetId: t.string, readAt: t.string, settings: t.record(t.string, t.unknown) }),
    t.partial({ access: t.array(t.record(t.string, t.unknown)) }),
  ],
  'BackupDatasetEntry',
);
export type BackupDatasetEntry = t.TypeOf<typeof BackupDatasetEntry>;

/** The Dataset resource fields kept as a dataset's settings (location is chosen by the restore). */
export const DATASET_SETTINGS = [
  'description',
  'friendlyName',
  'labels',
  'location',
  'defaultTableExpirationMs',
  'defaultPartitionExpirationMs',
  'defaultCollation',
  'defaultRoundingMode',
  'maxTimeTravelHours',
  'storageBillingModel',
  'isCaseInsensitive',
  'defaultEncryptionConfiguration',
  'resourceTags',
] as const;

/** `_backup.json`: the operation's summary, written once when it finishes. */
export const BackupManifest = t.intersection(
  [
    t.type({
      manifestVersion: t.literal(MANIFEST_VERSION),
      kind: t.literal('bqbr#backup'),
      operationId: t.string,
      projectId: t.string,
      snapshotMillis: t.number,
      snapshotTime: t.string,
      /** `gs://.../backups/<yyyyMMdd_HHmmss>`: where this backup's folders are. */
      location: t.string,
      export: ExportSettings,
      status: t.string,
      summary: OperationSummary,
      tables: t.array(BackupTableEntry),
      startedAt: t.string,
      finishedAt: t.string,
    }),
    t.partial({
      /** `FULL` or `INCREMENTAL` (absent: a full backup of a bqbr that predates incrementals). */
      mode: t.keyof({ FULL: null, INCREMENTAL: null }),
      /** Incrementals: the folder name of the backup this one was built on. */
      base: t.string,
      /** Incrementals in the chain since its full backup, this one included (a full backup: 0). */
      chainLength: t.number,
      /** The folder names of every backup whose files this one references: never pruned while it is kept. */
      dependsOn: t.array(t.string),
      /** Tables the base had (in the datasets this backup selects) that are gone at the snapshot. */
      droppedTables: t.array(t.type({ datasetId: t.string, tableId: t.string })),
      /** The settings and access entries of each dataset with a table in the backup. */
      datasets: t.array(BackupDatasetEntry),
    }),
  ],
  'BackupManifest',
);
export type BackupManifest = t.TypeOf<typeof BackupManifest>;

/** A bqbr-notifications message body: an operation finished. */
export interface OperationNotification {
  readonly operationId: string;
  readonly kind: 'backup' | 'restore' | 'prune' | 'verify';
  readonly status: string;
  readonly projectId: string;
  readonly location?: string;
  readonly snapshotTime?: string;
  readonly summary: OperationSummary;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly error?: { readonly reason: string; readonly message: string };
  readonly warnings?: readonly string[];
}
