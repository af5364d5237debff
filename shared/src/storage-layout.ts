// Where a backup's files go (docs/contracts.md, "Storage layout"):
//   {uri}/backups/{yyyyMMdd_HHmmss}/{projectId}/{dataset}/{table}/data-*.{ext} and .../{table}/_table.json
//   {uri}/backups/{yyyyMMdd_HHmmss}/{projectId}/_backup.json
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

/** `{uri}/backups/{yyyyMMdd_HHmmss}`: one backup instant. */
export const backupRoot = (uri: string, snapshotMillis: number): string =>
  `${trimSlashes(uri)}/backups/${backupFolderName(new Date(snapshotMillis))}`;

export const projectFolder = (uri: string, snapshotMillis: number, projectId: string): string =>
  `${backupRoot(uri, snapshotMillis)}/${projectId}`;

export const tableFolder = (
  uri: string,
  snapshotMillis: number,
  projectId: string,
  datasetId: string,
  tableId: string,
): string => `${projectFolder(uri, snapshotMillis, projectId)}/${datasetId}/${tableId}`;

export const TABLE_MANIFEST = '_table.json';
export const BACKUP_MANIFEST = '_backup.json';

export const tableManifestUri = (folder: string): string => `${folder}/${TABLE_MANIFEST}`;

export const backupManifestUri = (uri: string, snapshotMillis: number, projectId: string): string =>
  `${projectFolder(uri, snapshotMillis, projectId)}/${BACKUP_MANIFEST}`;

/** File extension of exported data, compression included (`csv.gz`, `json.gz`; Avro and Parquet compress inside). */
export function dataFileExtension(format: Format, compression: Compression | undefined): string {
  const base = { AVRO: 'avro', PARQUET: 'parquet', CSV: 'csv', JSON: 'json' }[format];
  return compression === 'GZIP' && (format === 'CSV' || format === 'JSON') ? `${base}.gz` : base;
}

/** The wildcard URI an extract job writes to: `{folder}/data-*.{ext}`. */
export const dataFilesPattern = (
  folder: string,
  format: Format,
  compression: Compression | undefined,
): string => `${folder}/data-*.${dataFileExtension(format, compression)}`;

// The same layout relative to a store's root (any destination: Cloud Storage, S3, Azure, a directory).

/** `backups/{yyyyMMdd_HHmmss}` */
export const backupRootPath = (snapshotMillis: number): string =>
  `backups/${backupFolderName(new Date(snapshotMillis))}`;

/** `backups/{yyyyMMdd_HHmmss}/{project}/{dataset}/{table}` */
export const tablePath = (
  snapshotMillis: number,
  projectId: string,
  datasetId: string,
  tableId: string,
): string => `${backupRootPath(snapshotMillis)}/${projectId}/${datasetId}/${tableId}`;

/** `backups/{yyyyMMdd_HHmmss}/{project}/_backup.json` */
export const backupManifestPath = (snapshotMillis: number, projectId: string): string =>
  `${backupRootPath(snapshotMillis)}/${projectId}/${BACKUP_MANIFEST}`;

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
