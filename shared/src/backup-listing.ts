// The backups stored in a backup store (docs/contracts.md, "Storage layout"), whatever the store: Cloud Storage,
// S3, Azure Blob Storage or a directory. bqbr's own have manifests; the original service's have
// `{dataset}/{table}-*.{ext}` data files and no manifests. Timestamps, projects and datasets are found with
// folder listings, so a store holding millions of data files is never listed file by file for them.
// A backup folder is named by its snapshot second, and bqbr's own also by its operation
// (`yyyyMMdd_HHmmss_<suffix>`, see backupFolderName), so one second may hold several backups of a project.
import type { Readable } from 'node:stream';
import { decode, ValidationError } from './decode.js';
import { BackupManifest } from './contracts/manifests.js';
import { PermanentError } from './errors.js';
import { BACKUP_MANIFEST, PRUNE_MARKER } from './storage-layout.js';
import { parseBackupFolderName } from './snapshot-time.js';
import type { BackupStore } from './stores/types.js';

export type BackupLayout = 'bqbr' | 'original' | 'incomplete' | 'pruning';

/** Where the backups of a store live: `backups/{folder}/{projectId}/` under its root. */
const BACKUPS = 'backups/';

export interface StoredBackup {
  /**
   * The backup's folder under `backups/`: `yyyyMMdd_HHmmss` (UTC; the original service's, and bqbr's
   * before its folders had a suffix) or bqbr's `yyyyMMdd_HHmmss_<suffix>`.
   */
  readonly timestamp: string;
  /** The snapshot second the timestamp names. */
  readonly snapshotMillis: number;
  readonly projectId: string;
  /** The folder's path in the store: `backups/{timestamp}/{projectId}`. */
  readonly folderPath: string;
  /** The folder as people see it (`store.uri(folderPath)`), e.g. `gs://bucket/prefix/backups/{timestamp}/{projectId}`. */
  readonly folder: string;
  /**
   * `bqbr`: `_backup.json` is there (the operation finished, whatever its status). `incomplete`: bqbr's
   * table folders but no readable `_backup.json` (running, crashed, or a manifest that does not decode).
   * `original`: the original service's `{dataset}/{table}-*.{ext}` files. `pruning`: partially deleted, a
   * prune's marker (`_pruning.json`) is there: never restored, the next prune finishes deleting it.
   */
  readonly layout: BackupLayout;
  /** bqbr layout (and a pruning folder whose `_backup.json` is still there): the decoded `_backup.json`. */
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

/**
 * The instant a backup folder's name names (UTC, to the second: `yyyyMMdd_HHmmss`, with or without bqbr's
 * suffix), or undefined for anything else (e.g. `20241399_000000`).
 */
export const timestampMillis = (timestamp: string): number | undefined =>
  parseBackupFolderName(timestamp)?.snapshotMillis;

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
  // Within one second, folder names do not tell which backup is newer: their manifests' instants do.
  return backups
    .filter((backup): backup is StoredBackup => backup !== undefined)
    .sort((a, b) => compare(secondOf(b), secondOf(a)) || instantOf(b) - instantOf(a));
}

/**
 * One project's backup as a restore names it (any layout or status), or undefined when there is none:
 * - a folder name: that folder (one read for a bqbr backup, a few folder listings otherwise);
 * - a plain `yyyyMMdd_HHmmss`: the folder of that very name (the original service's, or bqbr's from before
 *   its folders had a suffix), else the one bqbr folder of that second; a PermanentError when the second
 *   holds several backups of the project, which only their full names tell apart;
 * - `latest`: the newest bqbr backup of the project whose status is not FAILED (by its snapshot instant,
 *   then its end), else the newest original-layout one; never an incomplete or partially deleted one.
 */
export async function findStoredBackup(
  store: BackupStore,
  projectId: string,
  timestamp: string,
): Promise<StoredBackup | undefined> {
  if (timestamp === 'latest') return findLatest(store, projectId);
  const name = parseBackupFolderName(timestamp);
  if (name === undefined)
    throw new RangeError(`not a backup timestamp (yyyyMMdd_HHmmss or latest): ${timestamp}`);
  const exact = await describeFolder(store, timestamp, projectId);
  if (exact !== undefined || name.suffix !== undefined) return exact;
  const sameSecond = (await listTimestamps(store)).filter(
    (folder) => folder !== timestamp && parseBackupFolderName(folder)?.timestamp === timestamp,
  );
  const found = (
    await mapLimit(sameSecond, CONCURRENCY, (folder) => describeFolder(store, folder, projectId))
  ).filter((backup): backup is StoredBackup => backup !== undefined);
  if (found.length > 1)
    throw new PermanentError(
      'invalid',
      `${found.length} backups of project ${projectId} were taken at ${timestamp}: ${found
        .map((backup) => backup.timestamp)
        .join(', ')}: name one of these folders as backupTimestamp (latest restores the newest)`,
    );
  return found[0];
}

async function findLatest(store: BackupStore, projectId: string): Promise<StoredBackup | undefined> {
  const timestamps = await listTimestamps(store);
  // Manifests first, newest second first: the newest finished bqbr backup wins over any original-layout one.
  const manifests = new Map<string, ManifestRead>();
  const usable = await firstInOrder(bySecond(timestamps), async (sameSecond) => {
    const reads = await Promise.all(
      sameSecond.map(async (ts) => {
        const [read, pruning] = await Promise.all([
          readBackupManifest(store, ts, projectId),
          isBeingPruned(store, ts, projectId),
        ]);
        manifests.set(ts, read);
        return { ts, read, pruning };
      }),
    );
    const newest = reads
      .filter(
        ({ read, pruning }) => !pruning && read.manifest !== undefined && read.manifest.status !== 'FAILED',
      )
      .sort((a, b) => newer(a.read.manifest!, b.read.manifest!) || compare(b.ts, a.ts))[0];
    return newest && backupOf(store, newest.ts, projectId, 'bqbr', newest.read);
  });
  if (usable) return usable;
  const withoutManifest = timestamps.filter((ts) => manifests.get(ts)?.found === false);
  return firstInOrder(withoutManifest, async (ts) => {
    if (await isBeingPruned(store, ts, projectId)) return undefined;
    const layout = await probeLayout(store, folderPathOf(ts, projectId));
    return layout === 'original' ? backupOf(store, ts, projectId, 'original', {}) : undefined;
  });
}

/** Negative when `a` is the newer backup: by snapshot instant, then by when it finished. */
const newer = (a: BackupManifest, b: BackupManifest): number =>
  b.snapshotMillis - a.snapshotMillis || compare(b.finishedAt, a.finishedAt);

/** The `yyyyMMdd_HHmmss` a listed backup's folder starts with. */
const secondOf = (backup: StoredBackup): string => parseBackupFolderName(backup.timestamp)!.timestamp;

/** A listed backup's snapshot instant: its manifest's, to the millisecond, else its folder's second. */
const instantOf = (backup: StoredBackup): number => backup.manifest?.snapshotMillis ?? backup.snapshotMillis;

/** Folder names (newest first) grouped by the second they name. */
function bySecond(timestamps: readonly string[]): string[][] {
  const groups: string[][] = [];
  let second: string | undefined;
  for (const ts of timestamps) {
    const next = parseBackupFolderName(ts)!.timestamp;
    if (next === second) groups.at(-1)!.push(ts);
    else groups.push([ts]);
    second = next;
  }
  return groups;
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

/** The backup folders under `backups/`, newest second first (a second's folders in reverse name order). */
async function listTimestamps(store: BackupStore): Promise<string[]> {
  const names = await listSubfolders(store, BACKUPS);
  return names
    .filter((name) => parseBackupFolderName(name) !== undefined)
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
  const [read, pruning] = await Promise.all([
    readBackupManifest(store, timestamp, projectId),
    isBeingPruned(store, timestamp, projectId),
  ]);
  if (pruning) return backupOf(store, timestamp, projectId, 'pruning', read);
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
    snapshotMillis: parseBackupFolderName(timestamp)!.snapshotMillis,
    projectId,
    folderPath,
    folder: store.uri(folderPath),
    layout,
    ...(read.manifest ? { manifest: read.manifest } : {}),
    ...(read.problem ? { problem: read.problem } : {}),
  };
}

/** Whether a prune's marker is in the folder: it is partially deleted (one stat). */
const isBeingPruned = async (store: BackupStore, timestamp: string, projectId: string): Promise<boolean> =>
  (await store.stat(`${folderPathOf(timestamp, projectId)}/${PRUNE_MARKER}`)) !== undefined;

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
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
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
