// Where a backup's files go (docs/contracts.md, "Storage layout"):
//   {uri}/backups/{folder}/{projectId}/{dataset}/{table}/data-*.{ext} and .../{table}/_table.json
//   {uri}/backups/{folder}/{projectId}/_backup.json
// {folder} is `yyyyMMdd_HHmmss_<suffix of the operation id>` for bqbr's backups (`backupFolderName`); the
// functions below build the original service's plain `yyyyMMdd_HHmmss` when no operation id is given.
import { backupFolderName } from './snapshot-time.js';
import type { Compression, Format } from './contracts/fields.js';
import type { DestinationSpec } from './stores/types.js';

export interface GcsLocation {
  readonly bucket: string;
  /** Object name or prefix, without a leading slash; '' for the bucket root. */
  readonly name: string;
}

export function parseGcsUri(uri: string): GcsLocation {
  const match = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match || match[1] === undefined) throw new Error(`Not a gs:// URI: ${uri}`);
  return { bucket: match[1], name: match[2] ?? '' };
}

export const gcsUri = (location: GcsLocation): string => `gs://${location.bucket}/${location.name}`;

const trimSlashes = (uri: string): string => uri.replace(/\/+$/, '');

/** `{uri}/backups/{folder}`: one backup (of the operation `operationId`, if given). */
export const backupRoot = (uri: string, snapshotMillis: number, operationId?: string): string =>
  `${trimSlashes(uri)}/${backupRootPath(snapshotMillis, operationId)}`;

export const projectFolder = (
  uri: string,
  snapshotMillis: number,
  projectId: string,
  operationId?: string,
): string => `${backupRoot(uri, snapshotMillis, operationId)}/${projectId}`;

export const tableFolder = (
  uri: string,
  snapshotMillis: number,
  projectId: string,
  datasetId: string,
  tableId: string,
  operationId?: string,
): string => `${projectFolder(uri, snapshotMillis, projectId, operationId)}/${datasetId}/${tableId}`;

export const TABLE_MANIFEST = '_table.json';
export const BACKUP_MANIFEST = '_backup.json';
/**
 * `backups/{folder}/{project}/_pruning.json`: written first by a prune deleting the backup, removed last; a
 * folder holding it is partially deleted, never restored, and deleted by the next prune (docs/contracts.md,
 * "Storage layout").
 */
export const PRUNE_MARKER = '_pruning.json';

export const tableManifestUri = (folder: string): string => `${folder}/${TABLE_MANIFEST}`;

export const backupManifestUri = (
  uri: string,
  snapshotMillis: number,
  projectId: string,
  operationId?: string,
): string => `${projectFolder(uri, snapshotMillis, projectId, operationId)}/${BACKUP_MANIFEST}`;

/** File extension of exported data, compression included (`csv.gz`, `json.gz`; Avro and Parquet compress inside). */
export function dataFileExtension(format: Format, compression: Compression | undefined): string {
  const base = { AVRO: 'avro', PARQUET: 'parquet', CSV: 'csv', JSON: 'json' }[format];
  return compression === 'GZIP' && (format === 'CSV' || format === 'JSON') ? `${base}.gz` : base;
}

/**
 * The wildcard URI an extract job writes to: `{folder}/data-*.{ext}` (one partition's job of an incremental
 * chain: `{folder}/data-p{partition}-*.{ext}`). BigQuery numbers the files from `data-000000000000.{ext}`,
 * and a table's files are exactly as many as the job counted (docs/contracts.md, "Storage layout").
 */
export const dataFilesPattern = (
  folder: string,
  format: Format,
  compression: Compression | undefined,
  partition?: string,
): string =>
  `${folder}/data-${partition === undefined ? '' : `p${partition}-`}*.${dataFileExtension(format, compression)}`;

// The same layout relative to a store's root (any destination: Cloud Storage, S3, Azure, a directory).

/** `backups/{folder}` */
export const backupRootPath = (snapshotMillis: number, operationId?: string): string =>
  `backups/${backupFolderName(new Date(snapshotMillis), operationId)}`;

/** `backups/{folder}/{project}/{dataset}/{table}` */
export const tablePath = (
  snapshotMillis: number,
  projectId: string,
  datasetId: string,
  tableId: string,
  operationId?: string,
): string => `${backupRootPath(snapshotMillis, operationId)}/${projectId}/${datasetId}/${tableId}`;

/** `backups/{folder}/{project}/_backup.json` */
export const backupManifestPath = (snapshotMillis: number, projectId: string, operationId?: string): string =>
  `${backupRootPath(snapshotMillis, operationId)}/${projectId}/${BACKUP_MANIFEST}`;

/**
 * How a path under a destination is shown to users (and recorded in manifests): `gs://b/p/x`,
 * `s3://b/p/x`, `https://account.blob.core.windows.net/container/p/x` (or `azure://container/p/x` when
 * the account comes from the environment), `file:///dir/x`.
 */
export function destinationUri(destination: DestinationSpec, path: string): string {
  const join = (...parts: (string | undefined)[]): string =>
    parts
      .filter((p): p is string => p !== undefined && p !== '')
      .map((p) => p.replace(/^\/+|\/+$/g, ''))
      .join('/');
  switch (destination.kind) {
    case 'gcs':
      return path === '' ? trimSlashes(destination.uri) : `${trimSlashes(destination.uri)}/${path}`;
    case 's3':
      return `s3://${join(destination.bucket, destination.prefix, path)}`;
    case 'azure':
      return destination.accountUrl !== undefined
        ? `${trimSlashes(destination.accountUrl)}/${join(destination.container, destination.prefix, path)}`
        : `azure://${join(destination.container, destination.prefix, path)}`;
    case 'file':
      return `file://${trimSlashes(destination.path)}${path === '' ? '' : `/${path}`}`;
  }
}
