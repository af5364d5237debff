// bqbr backups show <uri> <timestamp>: one backup as its store holds it (no dispatcher): `_backup.json`, every
// `_table.json` with its files and checksums, its write-once retention and whether a prune began deleting it.
import {
  BACKUP_MANIFEST,
  decode,
  findStoredBackup,
  listOriginalLayoutTables,
  listStoredBackups,
  parseBackupFolderName,
  PermanentError,
  PRUNE_MARKER,
  TABLE_MANIFEST,
  TableManifest,
  ValidationError,
  type BackupStore,
  type Env,
  type ObjectRetention,
  type StoredBackup,
} from '@bqbr/shared';
import type { Storage } from '@google-cloud/storage';
import type { Readable } from 'node:stream';
import { formatOf, openStore, PARTIALLY_DELETED, withClearErrors } from './backups.js';
import type { Output } from './commands.js';
import { CliError, EXIT, UsageError } from './failure.js';
import { formatBytes } from './progress.js';
import { printTable } from './text-table.js';

export interface ShownFile {
  readonly name: string;
  readonly bytes: number;
  readonly md5?: string;
  readonly crc32c?: string;
}

/** One table of the backup: its `_backup.json` entry and what its `_table.json` says. */
export interface ShownTable {
  readonly datasetId: string;
  readonly tableId: string;
  /** As `_backup.json` records it; absent for a backup without one. */
  readonly status?: string;
  readonly tableType?: string;
  readonly rows?: number;
  readonly bytes?: number;
  readonly format?: string;
  readonly files?: readonly ShownFile[];
  /** Why the table was skipped or failed (`_backup.json`). */
  readonly note?: string;
  /** `_table.json` missing or unreadable where one was expected. */
  readonly problem?: string;
}

export interface ShownBackup extends StoredBackup {
  /** A prune began deleting it (its `_pruning.json` marker is there): the next prune finishes it. */
  readonly partiallyDeleted: boolean;
  /** The marker's contents (the prune that wrote it), when there is one. */
  readonly pruning?: unknown;
  /** The write-once lock on `_backup.json` (every object of a write-once backup has the same). */
  readonly retention?: ObjectRetention;
  /** Incremental backups: the backup folders it reads unchanged data from; none for a full backup. */
  readonly dependsOn: readonly string[];
  readonly tables: readonly ShownTable[];
}

export async function showBackup(
  storage: Storage,
  out: Output,
  uri: string,
  timestamp: string,
  options: { projectId?: string; json: boolean; env?: Env; now?: () => Date },
): Promise<number> {
  if (timestamp !== 'latest' && parseBackupFolderName(timestamp) === undefined)
    throw new UsageError(
      `backups show takes a backup timestamp (yyyyMMdd_HHmmss, a folder name yyyyMMdd_HHmmss_<suffix>, or latest), not "${timestamp}"`,
    );
  const { destination, store } = await openStore(storage, uri, options.env ?? process.env);
  const shown = await withClearErrors(destination, async () =>
    describeBackup(store, await findBackup(store, uri, timestamp, options.projectId)),
  );
  if (options.json) out.line(JSON.stringify(shown));
  else print(out, shown, (options.now ?? (() => new Date()))());
  return EXIT.ok;
}

/** The backup `timestamp` names; without a project, the only project that has one. */
async function findBackup(
  store: BackupStore,
  uri: string,
  timestamp: string,
  projectId: string | undefined,
): Promise<StoredBackup> {
  let project = projectId;
  if (project === undefined) {
    const second = parseBackupFolderName(timestamp);
    const projects = [
      ...new Set(
        (await listStoredBackups(store))
          .filter(
            (backup) =>
              timestamp === 'latest' ||
              backup.timestamp === timestamp ||
              (second?.suffix === undefined && backup.timestamp.startsWith(`${timestamp}_`)),
          )
          .map((backup) => backup.projectId),
      ),
    ].sort();
    if (projects.length > 1)
      throw new UsageError(
        `${uri} holds backups${timestamp === 'latest' ? '' : ` ${timestamp}`} of several projects (${projects.join(', ')}): name one with --project`,
      );
    project = projects[0];
  }
  const found = project === undefined ? undefined : await findStoredBackup(store, project, timestamp);
  if (found === undefined)
    throw new CliError(
      `no backup ${timestamp}${project !== undefined ? ` of project ${project}` : ''} under ${uri}: bqbr backups ${uri} lists them`,
    );
  return found;
}

async function describeBackup(store: BackupStore, backup: StoredBackup): Promise<ShownBackup> {
  const partiallyDeleted = backup.layout === 'pruning';
  const [entry, pruning] = await Promise.all([
    store.stat(`${backup.folderPath}/${BACKUP_MANIFEST}`),
    partiallyDeleted ? readJson(store, `${backup.folderPath}/${PRUNE_MARKER}`) : undefined,
  ]);
  const dependsOn = (backup.manifest as { dependsOn?: unknown } | undefined)?.dependsOn;
  return {
    ...backup,
    partiallyDeleted,
    ...(pruning !== undefined ? { pruning } : {}),
    ...(entry?.retention ? { retention: entry.retention } : {}),
    dependsOn: Array.isArray(dependsOn) ? dependsOn.filter((d): d is string => typeof d === 'string') : [],
    tables: await tablesOf(store, backup, partiallyDeleted),
  };
}

async function tablesOf(
  store: BackupStore,
  backup: StoredBackup,
  partiallyDeleted: boolean,
): Promise<ShownTable[]> {
  if (backup.layout === 'original') {
    return (await listOriginalLayoutTables(store, backup.folderPath)).map((table) => ({
      datasetId: table.datasetId,
      tableId: table.tableId,
      bytes: table.files.reduce((sum, file) => sum + file.bytes, 0),
      format: table.compressed ? `${table.format}/GZIP` : table.format,
      files: table.files.map((file) => ({ name: file.path.split('/').pop()!, bytes: file.bytes })),
    }));
  }
  // Without `_backup.json` (running, crashed, or pruned that far), the table manifests there are what is known.
  const entries =
    backup.manifest?.tables ??
    (await store.list(`${backup.folderPath}/`))
      .map((file) => file.path.slice(backup.folderPath.length + 1).split('/'))
      .filter((parts) => parts.length === 3 && parts[2] === TABLE_MANIFEST)
      .map(([datasetId, tableId]) => ({ datasetId: datasetId!, tableId: tableId! }));
  const tables: ShownTable[] = [];
  for (const entry of entries) tables.push(await tableOf(store, backup, entry, partiallyDeleted));
  return tables;
}

async function tableOf(
  store: BackupStore,
  backup: StoredBackup,
  entry: {
    datasetId: string;
    tableId: string;
    status?: string;
    rows?: number;
    bytes?: number;
    note?: string;
    error?: { reason: string; message: string };
  },
  partiallyDeleted: boolean,
): Promise<ShownTable> {
  const { datasetId, tableId, status } = entry;
  const recorded = {
    datasetId,
    tableId,
    ...(status !== undefined ? { status } : {}),
    ...(entry.rows !== undefined ? { rows: entry.rows } : {}),
    ...(entry.bytes !== undefined ? { bytes: entry.bytes } : {}),
    ...(entry.note !== undefined || entry.error !== undefined
      ? { note: entry.note ?? `${entry.error!.reason}: ${entry.error!.message}` }
      : {}),
  };
  // Only a table that was backed up has a manifest.
  if (status !== undefined && status !== 'SUCCEEDED') return recorded;
  const path = `${backup.folderPath}/${datasetId}/${tableId}/${TABLE_MANIFEST}`;
  let manifest: TableManifest;
  try {
    const json = await readJson(store, path);
    if (json === undefined)
      return { ...recorded, problem: partiallyDeleted ? 'deleted by the prune' : `no ${TABLE_MANIFEST}` };
    manifest = decode(TableManifest, json, path);
  } catch (err) {
    if (err instanceof ValidationError || err instanceof SyntaxError)
      return { ...recorded, problem: `${TABLE_MANIFEST} unreadable: ${err.message}` };
    throw err;
  }
  return {
    ...recorded,
    tableType: manifest.tableType,
    rows: manifest.numRows,
    bytes: manifest.files.reduce((sum, file) => sum + file.bytes, 0),
    format: formatOf(manifest.export),
    files: manifest.files.map((file) => ({
      name: file.name,
      bytes: file.bytes,
      ...(file.md5 !== undefined ? { md5: file.md5 } : {}),
      ...(file.crc32c !== undefined ? { crc32c: file.crc32c } : {}),
    })),
  };
}

/** The parsed JSON at `path`, or undefined when there is no such object. */
async function readJson(store: BackupStore, path: string): Promise<unknown> {
  let stream: Readable;
  try {
    stream = await store.get(path);
  } catch (err) {
    if (err instanceof PermanentError && err.reason === 'notFound') return undefined;
    throw err;
  }
  return JSON.parse(Buffer.concat((await stream.toArray()) as Buffer[]).toString('utf8'));
}

function print(out: Output, shown: ShownBackup, now: Date): void {
  const { manifest } = shown;
  const state = shown.partiallyDeleted ? PARTIALLY_DELETED : (manifest?.status ?? shown.layout);
  out.line(`backup ${shown.timestamp} of project ${shown.projectId}: ${state}`);
  const field = (name: string, value: string): void => out.line(`  ${name.padEnd(11)} ${value}`);
  field('folder', shown.folder);
  field('layout', shown.layout);
  if (shown.problem) field('problem', shown.problem);
  if (shown.partiallyDeleted) {
    const by = (shown.pruning as { operationId?: unknown } | undefined)?.operationId;
    field(
      'state',
      `${PARTIALLY_DELETED}: a prune${typeof by === 'string' ? ` (${by})` : ''} began deleting it; the next prune finishes it`,
    );
  }
  if (manifest) {
    field('status', manifest.status);
    field('operation', manifest.operationId);
    field('snapshot', manifest.snapshotTime);
    field('ran', `${manifest.startedAt} to ${manifest.finishedAt}`);
    field('format', formatOf(manifest.export));
    const { summary } = manifest;
    field(
      'tables',
      `${summary.tables}: ${summary.succeeded} succeeded, ${summary.failed} failed, ${summary.skipped} skipped`,
    );
    field('data', `${summary.rows} rows, ${formatBytes(summary.bytes)} in ${summary.files} files`);
  }
  field('depends on', shown.dependsOn.length > 0 ? shown.dependsOn.join(', ') : 'nothing (a full backup)');
  field('retention', retentionText(shown.retention, now));
  if (shown.tables.length === 0) return;
  out.line('');
  printTable(
    out,
    ['TABLE', 'STATUS', 'TYPE', 'ROWS', 'SIZE', 'FILES', 'FORMAT', 'NOTE'],
    shown.tables.map((table) => [
      `${table.datasetId}.${table.tableId}`,
      table.status ?? '-',
      table.tableType ?? '-',
      table.rows !== undefined ? String(table.rows) : '-',
      table.bytes !== undefined ? formatBytes(table.bytes) : '-',
      table.files !== undefined ? String(table.files.length) : '-',
      table.format ?? '-',
      table.problem ?? table.note ?? '',
    ]),
  );
  for (const table of shown.tables) {
    if (!table.files || table.files.length === 0) continue;
    out.line('');
    out.line(`${table.datasetId}.${table.tableId}:`);
    printTable(
      out,
      ['  FILE', 'SIZE', 'MD5', 'CRC32C'],
      table.files.map((file) => [
        `  ${file.name}`,
        formatBytes(file.bytes),
        file.md5 ?? '-',
        file.crc32c ?? '-',
      ]),
    );
  }
}

function retentionText(retention: ObjectRetention | undefined, now: Date): string {
  if (retention === undefined) return 'none (not write-once)';
  const ended = Date.parse(retention.retainUntil) <= now.getTime() ? ' (ended)' : '';
  return `write-once (${retention.mode}) until ${retention.retainUntil}${ended}`;
}
