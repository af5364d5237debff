// `_table.json`: what a restore needs to recreate one table exactly (schema, partitioning, clustering,
// labels, views' queries) and to check it (row count, files with sizes and checksums). Built here; the
// table's home writes it (table-home.ts).
import {
  MANIFEST_VERSION,
  type BackupFileEntry,
  type BackupTaskSpec,
  type ContentFingerprint,
  type ExportSettings,
  type FieldSchema,
  type TableManifest,
  type TablePartition,
} from '@bqbr/shared';

/** The parts of BigQuery's `tables.get` answer the worker reads. */
export interface TableMetadata {
  readonly type?: string;
  readonly location?: string;
  readonly schema?: { readonly fields?: readonly FieldSchema[] };
  readonly description?: string;
  readonly friendlyName?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly timePartitioning?: Record<string, unknown>;
  readonly rangePartitioning?: Record<string, unknown>;
  readonly clustering?: { readonly fields?: readonly string[] };
  readonly requirePartitionFilter?: boolean;
  readonly view?: Record<string, unknown>;
  readonly materializedView?: Record<string, unknown>;
  readonly numBytes?: string | number;
  /** Epoch millis (BigQuery sends int64 as a string): the table's last change, data or metadata. */
  readonly lastModifiedTime?: string | number;
  readonly expirationTime?: string | number;
  readonly tableConstraints?: Record<string, unknown>;
  readonly encryptionConfiguration?: Record<string, unknown>;
  readonly defaultCollation?: string;
  readonly defaultRoundingMode?: string;
  readonly snapshotDefinition?: Record<string, unknown>;
  readonly cloneDefinition?: Record<string, unknown>;
}

/** The export settings a manifest records, from the task's spec. */
export function exportSettings(spec: BackupTaskSpec): ExportSettings {
  return {
    format: spec.format,
    compression: spec.compression,
    header: spec.header,
    fieldDelimiter: spec.fieldDelimiter,
    useAvroLogicalTypes: spec.format === 'AVRO',
  };
}

export interface ManifestInput {
  readonly operationId: string;
  readonly spec: BackupTaskSpec;
  readonly table: TableMetadata;
  readonly numRows: number;
  readonly files: readonly BackupFileEntry[];
  readonly extractJobId?: string;
  /** A table of an incremental chain: its jobs and, partition by partition, its partitions. */
  readonly incremental?: {
    readonly extractJobs: number;
    readonly partitions?: readonly TablePartition[];
    readonly deletedPartitions?: readonly string[];
  };
  /** `verify: "fingerprint"`: the table's content at the snapshot. */
  readonly fingerprint?: ContentFingerprint;
  readonly createdAt: Date;
}

/** Builds the manifest; only fields the table has are written. */
export function buildTableManifest(input: ManifestInput): TableManifest {
  const { spec, table } = input;
  const optional: Partial<TableManifest> = {
    description: table.description,
    friendlyName: table.friendlyName,
    labels: table.labels === undefined ? undefined : { ...table.labels },
    timePartitioning: table.timePartitioning,
    rangePartitioning: table.rangePartitioning,
    clustering: table.clustering?.fields === undefined ? undefined : { fields: [...table.clustering.fields] },
    requirePartitionFilter: table.requirePartitionFilter,
    view: table.view,
    materializedView: table.materializedView,
    numBytes: table.numBytes === undefined ? undefined : Number(table.numBytes),
    location: table.location,
    extractJobId: input.extractJobId,
    extractJobs: input.incremental?.extractJobs,
    partitions: input.incremental?.partitions?.map((p) => ({ ...p })),
    deletedPartitions: input.incremental?.deletedPartitions?.slice(),
    fingerprint: input.fingerprint === undefined ? undefined : { ...input.fingerprint },
    expirationTime: table.expirationTime === undefined ? undefined : String(table.expirationTime),
    tableConstraints: table.tableConstraints,
    encryptionConfiguration: table.encryptionConfiguration,
    defaultCollation: table.defaultCollation,
    defaultRoundingMode: table.defaultRoundingMode,
    snapshotDefinition: table.snapshotDefinition,
    cloneDefinition: table.cloneDefinition,
  };
  return {
    manifestVersion: MANIFEST_VERSION,
    kind: 'bqbr#table',
    operationId: input.operationId,
    source: spec.source,
    snapshotMillis: spec.snapshotMillis,
    snapshotTime: new Date(spec.snapshotMillis).toISOString(),
    tableType: table.type ?? 'TABLE',
    schema: { fields: [...(table.schema?.fields ?? [])] },
    numRows: input.numRows,
    export: exportSettings(spec),
    files: [...input.files],
    createdAt: input.createdAt.toISOString(),
    ...(Object.fromEntries(
      Object.entries(optional).filter(([, v]) => v !== undefined),
    ) as Partial<TableManifest>),
  };
}
