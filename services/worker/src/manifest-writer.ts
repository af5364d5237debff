// `_table.json`: what a restore needs to recreate one table exactly (schema, partitioning, clustering,
// labels, views' queries) and to check it (row count, files with sizes and checksums).
import type { Storage } from '@google-cloud/storage';
import {
  MANIFEST_VERSION,
  gcsUri,
  parseGcsUri,
  type BackupFileEntry,
  type ExportSettings,
  type FieldSchema,
  type TableManifest,
  type BackupTaskSpec,
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
}

export type BackupSpec = BackupTaskSpec;

/** The export settings a manifest records, from the task's spec. */
export function exportSettings(spec: BackupSpec): ExportSettings {
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
  readonly spec: BackupSpec;
  readonly table: TableMetadata;
  readonly numRows: number;
  readonly files: readonly BackupFileEntry[];
  readonly extractJobId?: string;
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

/** Where a backup's files live: the data files an extract wrote, and the manifest beside them. */
export interface BackupFiles {
  /** The `data-*` objects in a table folder, with sizes and checksums, in name order. */
  listDataFiles(tableFolder: string): Promise<BackupFileEntry[]>;
  /** Writes (or overwrites: idempotent) a JSON object; returns its MD5 (base64) when the store reports one. */
  writeJson(uri: string, value: unknown): Promise<string | undefined>;
}

export function createStorageBackupFiles(storage: Storage): BackupFiles {
  return {
    async listDataFiles(tableFolder) {
      const folder = parseGcsUri(tableFolder);
      const prefix = `${folder.name}/`;
      const [files] = await storage.bucket(folder.bucket).getFiles({ prefix: `${prefix}data-` });
      return files
        .map((file): BackupFileEntry => {
          const { size, md5Hash, crc32c } = file.metadata;
          return {
            name: file.name.slice(prefix.length),
            uri: gcsUri({ bucket: folder.bucket, name: file.name }),
            bytes: Number(size ?? 0),
            ...(md5Hash === undefined ? {} : { md5: md5Hash }),
            ...(crc32c === undefined ? {} : { crc32c }),
          };
        })
        .sort((a, b) => a.name.localeCompare(b.name));
    },
    async writeJson(uri, value) {
      const { bucket, name } = parseGcsUri(uri);
      const file = storage.bucket(bucket).file(name);
      await file.save(`${JSON.stringify(value, null, 2)}\n`, {
        resumable: false,
        contentType: 'application/json',
      });
      const md5 = file.metadata.md5Hash;
      return typeof md5 === 'string' ? md5 : undefined;
    },
  };
}
