// bqbr backups <uri>: the backups stored under a Cloud Storage URI, read from the bucket itself (no dispatcher).
import {
  decode,
  GcsUri,
  listOriginalLayoutTables,
  listStoredBackups,
  parseGcsUri,
  ValidationError,
  type Env,
  type StoredBackup,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import type { Output } from './commands.js';
import { formatBytes } from './progress.js';

/** A URI that does not name a readable place in Cloud Storage: reported as one line, exit code 1. */
export class StorageUriError extends Error {
  override readonly name = 'StorageUriError';
}

/** A Storage client as the services make it: the emulator when `STORAGE_EMULATOR_HOST` is set (no credentials). */
export function storageFromEnv(env: Env = process.env): Storage {
  const host = env['STORAGE_EMULATOR_HOST'];
  return host ? new Storage({ apiEndpoint: host }) : new Storage();
}

/** Lists the backups under `uri`, newest first: one line each, or the StoredBackup array as JSON. */
export async function backups(
  storage: Storage,
  out: Output,
  uri: string,
  options: { projectId?: string; json: boolean },
): Promise<number> {
  checkUri(uri);
  const stored = await withClearErrors(uri, () =>
    listStoredBackups(storage, uri, options.projectId !== undefined ? { projectId: options.projectId } : {}),
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
  for (const backup of stored) rows.push(await row(storage, backup));
  const header = [
    'TIMESTAMP',
    'PROJECT',
    'LAYOUT',
    'STATUS',
    'TABLES OK/FAILED/SKIPPED',
    'ROWS',
    'SIZE',
    'FORMAT',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const cells of [header, ...rows])
    out.line(
      cells
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
  return 0;
}

async function row(storage: Storage, backup: StoredBackup): Promise<string[]> {
  const { timestamp, projectId, layout, manifest, problem } = backup;
  const note = problem ? [`(${problem})`] : [];
  if (manifest) {
    const { summary, status } = manifest;
    const compression = manifest.export.compression.toUpperCase();
    return [
      timestamp,
      projectId,
      layout,
      status,
      `${summary.succeeded}/${summary.failed}/${summary.skipped}`,
      String(summary.rows),
      formatBytes(summary.bytes),
      compression && compression !== 'NONE'
        ? `${manifest.export.format}/${compression}`
        : manifest.export.format,
      ...note,
    ];
  }
  if (layout === 'original') {
    // The original service kept no summary: count its tables and files instead (rows are unknown).
    const tables = await listOriginalLayoutTables(storage, backup.folder);
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

function checkUri(uri: string): void {
  try {
    decode(GcsUri, uri, 'Cloud Storage URI');
  } catch (err) {
    if (err instanceof ValidationError)
      throw new StorageUriError(`not a Cloud Storage URI: ${err.issues.map((i) => i.message).join('; ')}`);
    throw err;
  }
}

/** A missing bucket or a denied listing, as one line naming the bucket. */
async function withClearErrors<T>(uri: string, list: () => Promise<T>): Promise<T> {
  try {
    return await list();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const bucket = parseGcsUri(uri).bucket;
    if (code === 404) throw new StorageUriError(`bucket gs://${bucket} does not exist`);
    if (code === 401 || code === 403)
      throw new StorageUriError(
        `no access to gs://${bucket}: ${err instanceof Error ? err.message : String(err)}`,
      );
    throw err;
  }
}
