// Where a backup's files go (DESIGN.md, "Storage layout"):
//   {uri}/backups/{yyyyMMdd_HHmmss}/{projectId}/{dataset}/{table}/data-*.{ext} and .../{table}/_table.json
//   {uri}/backups/{yyyyMMdd_HHmmss}/{projectId}/_backup.json
import { backupFolderName } from './snapshot-time.js';
import type { Compression, Format } from './contracts/fields.js';

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
