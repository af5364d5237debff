// The backups stored in a backup store (docs/contracts.md, "Storage layout"), whatever the store: Cloud Storage,
// S3, Azure Blob Storage or a directory. bqbr's own have manifests; the original service's have
// `{dataset}/{table}-*.{ext}` data files and no manifests. Timestamps, projects and datasets are found with
// folder listings, so a store holding millions of data files is never listed file by file for them.
import type { Readable } from 'node:stream';
import { decode, ValidationError } from './decode.js';
import { BackupManifest } from './contracts/manifests.js';
import { PermanentError } from './errors.js';
import { BACKUP_MANIFEST } from './storage-layout.js';
import { backupFolderName } from './snapshot-time.js';
import type { BackupStore } from './stores/types.js';

export type BackupLayout = 'bqbr' | 'original' | 'incomplete';

/** Where the backups of a store live: `backups/{yyyyMMdd_HHmmss}/{projectId}/` under its root. */
const BACKUPS = 'backups/';

export interface StoredBackup {
  /** The timestamp folder, `yyyyMMdd_HHmmss` (UTC). */
  readonly timestamp: string;
  /** The snapshot instant the timestamp names. */
  readonly snapshotMillis: number;
  readonly projectId: string;
  /** The folder's path in the store: `backups/{timestamp}/{projectId}`. */
  readonly folderPath: string;
  /** The folder as people see it (`store.uri(folderPath)`), e.g. `gs://bucket/prefix/backups/{timestamp}/{projectId}`. */
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

/** One data file of an original-layout table. */
export interface OriginalLayoutFile {
  /** The file's path in the store. */
  readonly path: string;
  /** The file as people (and BigQuery, for Cloud Storage) see it: `store.uri(path)`. */
  readonly uri: string;
  readonly bytes: number;
}

/** One table of an original-layout backup: its data files as the original service's extract wrote them. */
export interface OriginalLayoutTable {
  readonly datasetId: string;
  readonly tableId: string;
  readonly format: OriginalFormat;
  /** The files end in `.gz`. */
  readonly compressed: boolean;
  /** Sorted by path. */
  readonly files: OriginalLayoutFile[];
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

/**
 * How many dataset folders of a folder without `_backup.json` are looked into to tell its layout: a
 * folder whose first datasets hold neither table folders nor data files is no usable backup.
 */
const PROBE_DATASETS = 4;

/** Every backup in `store` (of `options.projectId` only, if given), newest first, then by project. */
export async function listStoredBackups(
  store: BackupStore,
  options: { projectId?: string } = {},
): Promise<StoredBackup[]> {
  const timestamps = await listTimestamps(store);
  const folders = (
    await mapLimit(timestamps, CONCURRENCY, async (timestamp) => {
      const projects =
        options.projectId !== undefined
          ? [options.projectId]
          : await listSubfolders(store, `${BACKUPS}${timestamp}/`);
      return projects.map((projectId) => ({ timestamp, projectId }));
    })
  ).flat();
  const backups = await mapLimit(folders, CONCURRENCY, ({ timestamp, projectId }) =>
    describeFolder(store, timestamp, projectId),
  );
  return backups.filter((backup): backup is StoredBackup => backup !== undefined);
}

/**
 * One project's backup at `timestamp` as it is (any layout or status; one read for a bqbr backup, a few
 * folder listings otherwise), or with `latest` the newest bqbr backup of the project whose status is not
 * FAILED, else the newest original-layout one; never an incomplete one. Undefined when there is none.
 */
export async function findStoredBackup(
  store: BackupStore,
  projectId: string,
  timestamp: string,
): Promise<StoredBackup | undefined> {
  if (timestamp !== 'latest') {
    if (timestampMillis(timestamp) === undefined)
      throw new RangeError(`not a backup timestamp (yyyyMMdd_HHmmss or latest): ${timestamp}`);
    return describeFolder(store, timestamp, projectId);
  }
  const timestamps = await listTimestamps(store);
  // Manifests first, newest first: the newest finished bqbr backup wins over any original-layout one.
  const manifests = new Map<string, ManifestRead>();
  const usable = await firstInOrder(timestamps, async (ts) => {
    const read = await readBackupManifest(store, ts, projectId);
    manifests.set(ts, read);
    return read.manifest !== undefined && read.manifest.status !== 'FAILED'
      ? backupOf(store, ts, projectId, 'bqbr', read)
      : undefined;
  });
  if (usable) return usable;
  const withoutManifest = timestamps.filter((ts) => manifests.get(ts)?.found === false);
  return firstInOrder(withoutManifest, async (ts) => {
    const layout = await probeLayout(store, folderPathOf(ts, projectId));
    return layout === 'original' ? backupOf(store, ts, projectId, 'original', {}) : undefined;
  });
}

/**
 * The tables of an original-layout backup folder (`folderPath`, `backups/{ts}/{projectId}` in the store):
 * the `{dataset}/{table}-*.{ext}` files directly in its dataset folders, grouped by dataset, table, format
 * and compression, sorted.
 */
export async function listOriginalLayoutTables(
  store: BackupStore,
  folderPath: string,
): Promise<OriginalLayoutTable[]> {
  const projectPrefix = folderPrefix(folderPath);
  const datasets = await listSubfolders(store, projectPrefix);
  const perDataset = await mapLimit(datasets, CONCURRENCY, async (datasetId) => {
    const prefix = `${projectPrefix}${datasetId}/`;
    const tables = new Map<string, OriginalLayoutTable>();
    for (const { path, bytes } of await store.list(prefix)) {
      const name = path.slice(prefix.length);
      // Only files directly in the dataset folder: bqbr-style table folders are not the original layout.
      if (name.includes('/')) continue;
      const match = ORIGINAL_DATA_FILE.exec(name);
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
      table.files.push({ path, uri: store.uri(path), bytes });
    }
    return [...tables.values()];
  });
  return perDataset
    .flat()
    .map((table) => ({ ...table, files: table.files.sort((a, b) => compare(a.path, b.path)) }))
    .sort(
      (a, b) =>
        compare(a.datasetId, b.datasetId) ||
        compare(a.tableId, b.tableId) ||
        compare(a.format, b.format) ||
        Number(a.compressed) - Number(b.compressed),
    );
}

/** The valid timestamp folders under `backups/`, newest first. */
async function listTimestamps(store: BackupStore): Promise<string[]> {
  const names = await listSubfolders(store, BACKUPS);
  return names
    .filter((name) => timestampMillis(name) !== undefined)
    .sort()
    .reverse();
}

const folderPathOf = (timestamp: string, projectId: string): string => `${BACKUPS}${timestamp}/${projectId}`;

/** `a/b/` of `a/b` or `a/b/` (the root, '', stays ''). */
const folderPrefix = (folderPath: string): string => {
  const trimmed = folderPath.replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${trimmed}/`;
};

interface ManifestRead {
  /** `_backup.json` exists. */
  readonly found?: boolean;
  readonly manifest?: BackupManifest;
  readonly problem?: string;
}

/** What is at `backups/{timestamp}/{projectId}/`, or undefined when nothing is. */
async function describeFolder(
  store: BackupStore,
  timestamp: string,
  projectId: string,
): Promise<StoredBackup | undefined> {
  const read = await readBackupManifest(store, timestamp, projectId);
  if (read.manifest) return backupOf(store, timestamp, projectId, 'bqbr', read);
  if (read.found) return backupOf(store, timestamp, projectId, 'incomplete', read);
  const layout = await probeLayout(store, folderPathOf(timestamp, projectId));
  if (layout === undefined) return undefined;
  if (layout === 'unrecognised')
    return backupOf(store, timestamp, projectId, 'incomplete', {
      problem: 'neither bqbr table folders nor original-layout data files',
    });
  return backupOf(store, timestamp, projectId, layout, {});
}

function backupOf(
  store: BackupStore,
  timestamp: string,
  projectId: string,
  layout: BackupLayout,
  read: ManifestRead,
): StoredBackup {
  const folderPath = folderPathOf(timestamp, projectId);
  return {
    timestamp,
    snapshotMillis: timestampMillis(timestamp)!,
    projectId,
    folderPath,
    folder: store.uri(folderPath),
    layout,
    ...(read.manifest ? { manifest: read.manifest } : {}),
    ...(read.problem ? { problem: read.problem } : {}),
  };
}

/** Reads `_backup.json` directly (one request); a manifest that is not JSON or does not decode is a problem. */
async function readBackupManifest(
  store: BackupStore,
  timestamp: string,
  projectId: string,
): Promise<ManifestRead> {
  const path = `${folderPathOf(timestamp, projectId)}/${BACKUP_MANIFEST}`;
  let contents: Buffer;
  try {
    contents = await readAll(await store.get(path));
  } catch (err) {
    if (err instanceof PermanentError && err.reason === 'notFound') return { found: false };
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

const readAll = async (stream: Readable): Promise<Buffer> =>
  Buffer.concat((await stream.toArray()) as Buffer[]);

/**
 * The layout of a project folder without `_backup.json`, from folder listings (and the files of one
 * dataset folder that has no sub-folders): bqbr's table folders (`{dataset}/{table}/...`) mean a backup
 * still running or one that crashed; `{dataset}/{table}-*.{ext}` files, the original service's layout.
 * However large the folder, this costs a few requests.
 */
async function probeLayout(
  store: BackupStore,
  folderPath: string,
): Promise<'incomplete' | 'original' | 'unrecognised' | undefined> {
  const prefix = folderPrefix(folderPath);
  const datasets = await store.listFolders(prefix);
  if (datasets.length === 0) {
    // No sub-folders: whatever is there lies directly in the folder, and one listing shows it.
    return (await store.list(prefix)).length > 0 ? 'unrecognised' : undefined;
  }
  for (const dataset of datasets.slice(0, PROBE_DATASETS)) {
    if ((await store.listFolders(dataset)).length > 0) return 'incomplete';
    // Without sub-folders, this lists only the files directly in the dataset folder.
    const names = (await store.list(dataset)).map(({ path }) => path.slice(dataset.length));
    if (names.some((name) => !name.includes('/') && ORIGINAL_DATA_FILE.test(name))) return 'original';
  }
  return 'unrecognised';
}

/** The names of the folders directly under `prefix` (which ends with '/'). */
async function listSubfolders(store: BackupStore, prefix: string): Promise<string[]> {
  const folders = await store.listFolders(prefix);
  return folders.map((p) => p.slice(prefix.length, -1)).filter((name) => name !== '');
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
