// The backups stored under a Cloud Storage URI (DESIGN.md, "Storage layout"): bqbr's own, with manifests,
// and the original service's, with `{dataset}/{table}-*.{ext}` data files and no manifests. Timestamps and
// projects are found with delimiter listings, so a bucket holding millions of data files is never listed
// file by file for them.
import type { Bucket, File, Storage } from '@google-cloud/storage';
import { decode, ValidationError } from './decode.js';
import { BackupManifest } from './contracts/manifests.js';
import { BACKUP_MANIFEST, parseGcsUri } from './storage-layout.js';
import { backupFolderName } from './snapshot-time.js';

export type BackupLayout = 'bqbr' | 'original' | 'incomplete';

export interface StoredBackup {
  /** The timestamp folder, `yyyyMMdd_HHmmss` (UTC). */
  readonly timestamp: string;
  /** The snapshot instant the timestamp names. */
  readonly snapshotMillis: number;
  readonly projectId: string;
  /** `gs://bucket/prefix/backups/{timestamp}/{projectId}` */
  readonly folder: string;
  /**
   * `bqbr`: `_backup.json` is there (the operation finished, whatever its status). `incomplete`: bqbr's
   * table folders but no readable `_backup.json` (running, crashed, or a manifest that does not decode).
   * `original`: the original service's `{dataset}/{table}-*.{ext}` files.
   */
  readonly layout: BackupLayout;
  /** bqbr layout: the decoded `_backup.json`. */
  readonly manifest?: BackupManifest;
  /** Why a folder is not a usable backup (e.g. an undecodable `_backup.json`). */
  readonly problem?: string;
}

export type OriginalFormat = 'AVRO' | 'PARQUET' | 'CSV' | 'JSON';

/** One table of an original-layout backup: its data files as the original service's extract wrote them. */
export interface OriginalLayoutTable {
  readonly datasetId: string;
  readonly tableId: string;
  readonly format: OriginalFormat;
  /** The files end in `.gz`. */
  readonly compressed: boolean;
  /** Sorted by name. */
  readonly files: { readonly uri: string; readonly bytes: number }[];
}

const TIMESTAMP = /^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})$/;

/** The instant a `yyyyMMdd_HHmmss` folder names (UTC), or undefined for anything else (e.g. `20241399_000000`). */
export function timestampMillis(timestamp: string): number | undefined {
  const match = TIMESTAMP.exec(timestamp);
  if (!match) return undefined;
  const [year, month, day, hour, minute, second] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  // Date rolls 31 April over to 1 May: only a folder name that survives the round trip is a timestamp.
  return backupFolderName(date) === timestamp ? date.getTime() : undefined;
}

/**
 * The original service's shard names: BigQuery replaces the `*` of `{table}-*.{ext}` with a 12-digit
 * number; a literal `*` is accepted too. The table is everything before the last `-` (table names may
 * hold dashes themselves).
 */
const ORIGINAL_DATA_FILE = /^(.+)-(\d+|\*)\.(avro|parquet|csv|json)(\.gz)?$/i;

/** How many listings or reads run at once. */
const CONCURRENCY = 8;

/** One page is enough to tell the original layout from bqbr's table folders. */
const PROBE_PAGE_SIZE = 100;

interface Root {
  readonly bucket: Bucket;
  readonly bucketName: string;
  /** `prefix/backups/` (just `backups/` for a bucket root). */
  readonly backupsPrefix: string;
}

function rootOf(storage: Storage, uri: string): Root {
  const location = parseGcsUri(uri);
  const base = location.name.replace(/^\/+|\/+$/g, '');
  return {
    bucket: storage.bucket(location.bucket),
    bucketName: location.bucket,
    backupsPrefix: `${base ? `${base}/` : ''}backups/`,
  };
}

/** Every backup under `uri` (of `options.projectId` only, if given), newest first, then by project. */
export async function listStoredBackups(
  storage: Storage,
  uri: string,
  options: { projectId?: string } = {},
): Promise<StoredBackup[]> {
  const root = rootOf(storage, uri);
  const timestamps = await listTimestamps(root);
  const folders = (
    await mapLimit(timestamps, CONCURRENCY, async (timestamp) => {
      const projects =
        options.projectId !== undefined
          ? [options.projectId]
          : await listSubfolders(root.bucket, `${root.backupsPrefix}${timestamp}/`);
      return projects.map((projectId) => ({ timestamp, projectId }));
    })
  ).flat();
  const backups = await mapLimit(folders, CONCURRENCY, ({ timestamp, projectId }) =>
    describeFolder(root, timestamp, projectId),
  );
  return backups.filter((backup): backup is StoredBackup => backup !== undefined);
}

/**
 * One project's backup at `timestamp` as it is (any layout or status; at most two requests), or with
 * `latest` the newest bqbr backup of the project whose status is not FAILED, else the newest
 * original-layout one; never an incomplete one. Undefined when there is none.
 */
export async function findStoredBackup(
  storage: Storage,
  uri: string,
  projectId: string,
  timestamp: string,
): Promise<StoredBackup | undefined> {
  const root = rootOf(storage, uri);
  if (timestamp !== 'latest') {
    if (timestampMillis(timestamp) === undefined)
      throw new RangeError(`not a backup timestamp (yyyyMMdd_HHmmss or latest): ${timestamp}`);
    return describeFolder(root, timestamp, projectId);
  }
  const timestamps = await listTimestamps(root);
  // Manifests first, newest first: the newest finished bqbr backup wins over any original-layout one.
  const manifests = new Map<string, ManifestRead>();
  const usable = await firstInOrder(timestamps, async (ts) => {
    const read = await readBackupManifest(root, ts, projectId);
    manifests.set(ts, read);
    return read.manifest !== undefined && read.manifest.status !== 'FAILED'
      ? backupOf(root, ts, projectId, 'bqbr', read)
      : undefined;
  });
  if (usable) return usable;
  const withoutManifest = timestamps.filter((ts) => manifests.get(ts)?.found === false);
  return firstInOrder(withoutManifest, async (ts) => {
    const layout = await probeLayout(root, ts, projectId);
    return layout === 'original' ? backupOf(root, ts, projectId, 'original', {}) : undefined;
  });
}

/**
 * The tables of an original-layout backup folder (`gs://.../backups/{ts}/{projectId}`): its
 * `{dataset}/{table}-*.{ext}` files grouped by dataset, table, format and compression, sorted.
 */
export async function listOriginalLayoutTables(
  storage: Storage,
  folder: string,
): Promise<OriginalLayoutTable[]> {
  const location = parseGcsUri(folder);
  const bucket = storage.bucket(location.bucket);
  const base = location.name.replace(/^\/+|\/+$/g, '');
  const projectPrefix = base ? `${base}/` : '';
  const datasets = await listSubfolders(bucket, projectPrefix);
  const perDataset = await mapLimit(datasets, CONCURRENCY, async (datasetId) => {
    const prefix = `${projectPrefix}${datasetId}/`;
    // The delimiter keeps bqbr-style table folders out: only files directly in the dataset folder.
    const { files } = await listAll(bucket, prefix);
    const tables = new Map<string, OriginalLayoutTable>();
    for (const file of files) {
      const match = ORIGINAL_DATA_FILE.exec(file.name.slice(prefix.length));
      if (!match) continue;
      const tableId = match[1]!;
      const format = match[3]!.toUpperCase() as OriginalFormat;
      const compressed = match[4] !== undefined;
      const key = `${tableId}\n${format}\n${compressed}`;
      let table = tables.get(key);
      if (!table) {
        table = { datasetId, tableId, format, compressed, files: [] };
        tables.set(key, table);
      }
      table.files.push({
        uri: `gs://${location.bucket}/${file.name}`,
        bytes: Number(file.metadata.size ?? 0),
      });
    }
    return [...tables.values()];
  });
  return perDataset
    .flat()
    .map((table) => ({ ...table, files: table.files.sort((a, b) => compare(a.uri, b.uri)) }))
    .sort(
      (a, b) =>
        compare(a.datasetId, b.datasetId) ||
        compare(a.tableId, b.tableId) ||
        compare(a.format, b.format) ||
        Number(a.compressed) - Number(b.compressed),
    );
}

/** The valid timestamp folders under `{uri}/backups/`, newest first. */
async function listTimestamps(root: Root): Promise<string[]> {
  const names = await listSubfolders(root.bucket, root.backupsPrefix);
  return names
    .filter((name) => timestampMillis(name) !== undefined)
    .sort()
    .reverse();
}

interface ManifestRead {
  /** `_backup.json` exists. */
  readonly found?: boolean;
  readonly manifest?: BackupManifest;
  readonly problem?: string;
}

/** What is at `{timestamp}/{projectId}/`, or undefined when nothing is. */
async function describeFolder(
  root: Root,
  timestamp: string,
  projectId: string,
): Promise<StoredBackup | undefined> {
  const read = await readBackupManifest(root, timestamp, projectId);
  if (read.manifest) return backupOf(root, timestamp, projectId, 'bqbr', read);
  if (read.found) return backupOf(root, timestamp, projectId, 'incomplete', read);
  const layout = await probeLayout(root, timestamp, projectId);
  if (layout === undefined) return undefined;
  if (layout === 'unrecognised')
    return backupOf(root, timestamp, projectId, 'incomplete', {
      problem: 'neither bqbr table folders nor original-layout data files',
    });
  return backupOf(root, timestamp, projectId, layout, {});
}

function backupOf(
  root: Root,
  timestamp: string,
  projectId: string,
  layout: BackupLayout,
  read: ManifestRead,
): StoredBackup {
  return {
    timestamp,
    snapshotMillis: timestampMillis(timestamp)!,
    projectId,
    folder: `gs://${root.bucketName}/${root.backupsPrefix}${timestamp}/${projectId}`,
    layout,
    ...(read.manifest ? { manifest: read.manifest } : {}),
    ...(read.problem ? { problem: read.problem } : {}),
  };
}

/** Reads `_backup.json` directly (one request); a manifest that is not JSON or does not decode is a problem. */
async function readBackupManifest(root: Root, timestamp: string, projectId: string): Promise<ManifestRead> {
  const name = `${root.backupsPrefix}${timestamp}/${projectId}/${BACKUP_MANIFEST}`;
  let contents: Buffer;
  try {
    [contents] = await root.bucket.file(name).download();
  } catch (err) {
    if ((err as { code?: unknown }).code === 404) return { found: false };
    throw err;
  }
  try {
    return {
      found: true,
      manifest: decode(BackupManifest, JSON.parse(contents.toString('utf8')), BACKUP_MANIFEST),
    };
  } catch (err) {
    if (err instanceof ValidationError || err instanceof SyntaxError)
      return { found: true, problem: err.message };
    throw err;
  }
}

/**
 * The layout of a project folder without `_backup.json`, from one page of its objects: bqbr's table
 * folders (`{dataset}/{table}/...`) mean a backup still running or one that crashed.
 */
async function probeLayout(
  root: Root,
  timestamp: string,
  projectId: string,
): Promise<'incomplete' | 'original' | 'unrecognised' | undefined> {
  const prefix = `${root.backupsPrefix}${timestamp}/${projectId}/`;
  const [files] = await root.bucket.getFiles({ prefix, autoPaginate: false, maxResults: PROBE_PAGE_SIZE });
  if (files.length === 0) return undefined;
  for (const file of files) {
    const parts = file.name.slice(prefix.length).split('/');
    if (parts.length >= 3) return 'incomplete';
    if (parts.length === 2 && ORIGINAL_DATA_FILE.test(parts[1]!)) return 'original';
  }
  return 'unrecognised';
}

/** The names of the "folders" directly under `prefix` (its common prefixes, without the trailing slash). */
async function listSubfolders(bucket: Bucket, prefix: string): Promise<string[]> {
  const { prefixes } = await listAll(bucket, prefix);
  return prefixes.map((p) => p.slice(prefix.length, -1)).filter((name) => name !== '');
}

/**
 * A delimiter listing, page by page: with autoPaginate the client keeps only the last page's response,
 * so the common prefixes of the earlier pages would be lost.
 */
async function listAll(bucket: Bucket, prefix: string): Promise<{ files: File[]; prefixes: string[] }> {
  const files: File[] = [];
  const prefixes: string[] = [];
  let pageToken: string | undefined;
  do {
    const [page, next, response] = await bucket.getFiles({
      prefix,
      delimiter: '/',
      autoPaginate: false,
      ...(pageToken ? { pageToken } : {}),
    });
    files.push(...page);
    prefixes.push(...((response as { prefixes?: string[] } | undefined)?.prefixes ?? []));
    pageToken = (next as { pageToken?: string } | null)?.pageToken;
  } while (pageToken);
  return { files, prefixes };
}

/**
 * The first non-undefined result of `test` over `items` in order, running a growing window (1, 2, 4 …
 * CONCURRENCY) at once: the common case, a hit on the first item, costs one call.
 */
async function firstInOrder<T, R>(
  items: readonly T[],
  test: (item: T) => Promise<R | undefined>,
): Promise<R | undefined> {
  let window = 1;
  for (let start = 0; start < items.length; start += window, window = Math.min(window * 2, CONCURRENCY)) {
    const results = await Promise.all(items.slice(start, start + window).map(test));
    const hit = results.find((result) => result !== undefined);
    if (hit !== undefined) return hit;
  }
  return undefined;
}

/** `fn` over `items` with at most `limit` calls running, results in the items' order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return results;
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
