// bqbr backups <uri>: the backups stored at a backup destination (Cloud Storage, S3, Azure Blob Storage or
// a directory), read from the store itself (no dispatcher).
import {
  createStore,
  destinationFromUri,
  fileStore,
  listOriginalLayoutTables,
  listStoredBackups,
  PermanentError,
  type BackupStore,
  type DestinationSpec,
  type Env,
  type StoredBackup,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { stat } from 'node:fs/promises';
import type { Output } from './commands.js';
import { CliError } from './failure.js';
import { formatBytes } from './progress.js';
import { printTable } from './text-table.js';

/** A URI that does not name a readable backup destination: reported as one line, exit code 1. */
export class StorageUriError extends CliError {
  override readonly name = 'StorageUriError';
}

/** A Storage client as the services make it: the emulator when `STORAGE_EMULATOR_HOST` is set (no credentials). */
export function storageFromEnv(env: Env = process.env): Storage {
  const host = env['STORAGE_EMULATOR_HOST'];
  return host ? new Storage({ apiEndpoint: host }) : new Storage();
}

/**
 * Lists the backups at `uri` (`gs://`, `s3://`, an Azure blob URL, `azure://`, `file://` or a directory),
 * newest first: one line each, or the StoredBackup array as JSON. `env` gives the S3 endpoint and region
 * (BQBR_S3_ENDPOINT, AWS_REGION) and Azure's credentials; the AWS SDK reads its own from process.env.
 */
export async function backups(
  storage: Storage,
  out: Output,
  uri: string,
  options: { projectId?: string; json: boolean; env?: Env },
): Promise<number> {
  const { destination, store } = await openStore(storage, uri, options.env ?? process.env);
  const stored = await withClearErrors(destination, () =>
    listStoredBackups(store, options.projectId !== undefined ? { projectId: options.projectId } : {}),
  );
  if (options.json) {
    out.line(JSON.stringify(stored));
    return 0;
  }
  if (stored.length === 0) {
    out.line(`no backups under ${uri}${options.projectId ? ` of project ${options.projectId}` : ''}`);
    return 0;
  }
  const rows: string[][] = [];
  for (const backup of stored) rows.push(await withClearErrors(destination, () => row(store, backup)));
  printTable(
    out,
    ['TIMESTAMP', 'PROJECT', 'LAYOUT', 'STATUS', 'TABLES OK/FAILED/SKIPPED', 'ROWS', 'SIZE', 'FORMAT'],
    rows,
  );
  return 0;
}

async function row(store: BackupStore, backup: StoredBackup): Promise<string[]> {
  const { timestamp, projectId, layout, manifest, problem } = backup;
  const note = problem ? [`(${problem})`] : [];
  // A prune began deleting it (the listing found its marker): what is left is not a whole backup.
  if (manifest || layout === 'pruning') {
    const summary = manifest?.summary;
    return [
      timestamp,
      projectId,
      layout,
      layout === 'pruning' ? PARTIALLY_DELETED : (manifest?.status ?? '-'),
      summary ? `${summary.succeeded}/${summary.failed}/${summary.skipped}` : '-',
      summary ? String(summary.rows) : '-',
      summary ? formatBytes(summary.bytes) : '-',
      manifest ? formatOf(manifest.export) : '-',
      ...note,
    ];
  }
  if (layout === 'original') {
    // The original service kept no summary: count its tables and files instead (rows are unknown).
    const tables = await listOriginalLayoutTables(store, backup.folderPath);
    const bytes = tables.reduce((sum, t) => sum + t.files.reduce((s, f) => s + f.bytes, 0), 0);
    const formats = [...new Set(tables.map((t) => (t.compressed ? `${t.format}/GZIP` : t.format)))];
    return [
      timestamp,
      projectId,
      layout,
      '-',
      String(tables.length),
      '-',
      formatBytes(bytes),
      formats.join(','),
      ...note,
    ];
  }
  return [timestamp, projectId, layout, '-', '-', '-', '-', '-', ...note];
}

/** `PARQUET/SNAPPY`, `CSV/GZIP`, or the format alone when uncompressed. */
export function formatOf(settings: { format: string; compression: string }): string {
  const compression = settings.compression.toUpperCase();
  return compression && compression !== 'NONE' ? `${settings.format}/${compression}` : settings.format;
}

/** How a backup a prune began deleting is shown: the next prune finishes it. */
export const PARTIALLY_DELETED = 'partially deleted';

/** The store at `uri`, as the user reads it (no dispatcher). */
export async function openStore(
  storage: Storage,
  uri: string,
  env: Env,
): Promise<{ destination: DestinationSpec; store: BackupStore }> {
  const destination = await destinationOf(uri, env);
  const store = await withClearErrors(destination, () =>
    // The command reads with the user's own rights, so the directory named is its own root:
    // BQBR_FILE_ROOTS limits what requests may name in the services, not what a user may list.
    destination.kind === 'file'
      ? fileStore(process.cwd(), destination.path, [destination.path])
      : createStore(destination, { storage, env }),
  );
  return { destination, store };
}

/** The destination `uri` names, as `bqbr backups` reads it; a URI that names none is a StorageUriError. */
export function locationOf(uri: string, env: Env): DestinationSpec {
  try {
    return destinationFromUri(uri, env);
  } catch (err) {
    if (err instanceof PermanentError) throw new StorageUriError(`not a backup location: ${err.message}`);
    throw err;
  }
}

/** The destination, and for a directory, that it exists. */
async function destinationOf(uri: string, env: Env): Promise<DestinationSpec> {
  const destination = locationOf(uri, env);
  if (destination.kind === 'file') {
    const found = await stat(destination.path).catch(() => undefined);
    if (!found) throw new StorageUriError(`directory ${destination.path} does not exist`);
    if (!found.isDirectory()) throw new StorageUriError(`${destination.path} is not a directory`);
  }
  return destination;
}

/** Where the backups would be, for messages: the bucket, the container or the directory. */
function placeOf(destination: DestinationSpec): string {
  switch (destination.kind) {
    case 'gcs':
      return `bucket gs://${destination.uri.slice('gs://'.length).split('/')[0]}`;
    case 's3':
      return `bucket s3://${destination.bucket}`;
    case 'azure':
      return `container ${destination.accountUrl ? `${destination.accountUrl}/` : ''}${destination.container}`;
    case 'file':
      return `directory ${destination.path}`;
  }
}

/** A missing bucket or container, or a denied listing, as one line naming it. */
export async function withClearErrors<T>(
  destination: DestinationSpec,
  work: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!(err instanceof PermanentError)) throw err;
    const place = placeOf(destination);
    if (err.reason === 'notFound') throw new StorageUriError(`${place} does not exist`);
    if (err.reason === 'accessDenied' || err.reason === 'unauthenticated')
      throw new StorageUriError(`no access to ${place}: ${err.message}`);
    if (err.reason === 'invalid') throw new StorageUriError(err.message);
    throw err;
  }
}
