// Prune planning on a real directory store and a small in-memory catalogue: which backups go, which stay
// and why, what reconcileOnly rebuilds, and what finalization marks.
import {
  MANIFEST_VERSION,
  PRUNE_MARKER,
  backupFolderName,
  createSilentLogger,
  decodeRequest,
  fileStore,
  type BackupCatalogEntry,
  type BackupManifest,
  type BackupStore,
  type ListOperationsQuery,
  type OperationDoc,
  type PruneRequest,
  type TaskDoc,
  type TaskStatus,
} from '@bqbr/shared';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { PlannedTask } from '../src/engine/operation-kind.js';
import { createPruneKind } from '../src/kinds/prune/prune-kind.js';

const PROJECT = 'prod-project';
const NOW = new Date('2026-12-02T18:00:00Z');
const logger = createSilentLogger();

/** The part of the state store prune planning and finalization use, in memory. */
class MemoryState {
  readonly operations: OperationDoc[] = [];
  readonly backups = new Map<string, BackupCatalogEntry>();
  readonly tasks: TaskDoc[] = [];
  writes = 0;

  listOperations(query: ListOperationsQuery): Promise<OperationDoc[]> {
    return Promise.resolve(
      this.operations.filter(
        (op) =>
          (query.kind === undefined || op.kind === query.kind) &&
          (query.status === undefined || op.status === query.status) &&
          (query.projectId === undefined || op.projectId === query.projectId),
      ),
    );
  }
  listBackups(options: { projectId?: string } = {}): Promise<BackupCatalogEntry[]> {
    return Promise.resolve(
      [...this.backups.values()].filter(
        (b) => options.projectId === undefined || b.projectId === options.projectId,
      ),
    );
  }
  putBackup(entry: BackupCatalogEntry): Promise<void> {
    this.writes++;
    this.backups.set(entry.backupId, structuredClone(entry));
    return Promise.resolve();
  }
  updateBackup(backupId: string, patch: Partial<BackupCatalogEntry>): Promise<boolean> {
    const entry = this.backups.get(backupId);
    if (entry === undefined) return Promise.resolve(false);
    this.writes++;
    this.backups.set(backupId, { ...entry, ...patch });
    return Promise.resolve(true);
  }
  listTasks(_operationId: string, options: { status?: TaskStatus } = {}): Promise<TaskDoc[]> {
    return Promise.resolve(
      this.tasks.filter((t) => options.status === undefined || t.status === options.status),
    );
  }
}

interface Fixture {
  readonly dir: string;
  readonly store: BackupStore;
  readonly state: MemoryState;
  /** Retention locks stat reports, by path. */
  readonly locks: Map<string, string>;
}

let fixture: Fixture;
let roots: string[] = [];

async function newFixture(): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'prune-plan-'));
  roots.push(dir);
  const files = fileStore(dir, dir, [dir]);
  const locks = new Map<string, string>();
  // The directory store knows no retention locks: stat reports those the test sets, as a locking store would.
  const store: BackupStore = {
    ...files,
    stat: async (path) => {
      const found = await files.stat(path);
      const until = locks.get(path);
      return found && until !== undefined
        ? { ...found, retention: { mode: 'GOVERNANCE', retainUntil: until } }
        : found;
    },
  };
  return { dir, store, state: new MemoryState(), locks };
}

const put = (store: BackupStore, path: string, text: string): Promise<unknown> =>
  store.put(path, Readable.from([Buffer.from(text)]));

/** A bqbr backup at `iso`: one table's data file and manifest, then `_backup.json` unless `finished` is false. */
async function bqbrBackup(
  iso: string,
  options: {
    status?: string;
    operationId?: string;
    finished?: boolean;
    catalogue?: Partial<BackupCatalogEntry>;
  } = {},
): Promise<string> {
  const snapshotMillis = Date.parse(iso);
  const operationId = options.operationId ?? `op-${iso}`;
  const folder = backupFolderName(new Date(snapshotMillis), operationId);
  const root = `backups/${folder}/${PROJECT}`;
  await put(fixture.store, `${root}/sales/orders/data-000000000000.avro`, 'data');
  await put(fixture.store, `${root}/sales/orders/_table.json`, '{}');
  if (options.finished === false) return folder;
  const manifest: BackupManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: 'bqbr#backup',
    operationId,
    projectId: PROJECT,
    snapshotMillis,
    snapshotTime: new Date(snapshotMillis).toISOString(),
    location: fixture.store.uri(`backups/${folder}`),
    export: {
      format: 'AVRO',
      compression: 'NONE',
      header: true,
      fieldDelimiter: ',',
      useAvroLogicalTypes: true,
    },
    status: options.status ?? 'SUCCEEDED',
    summary: { tables: 1, succeeded: 1, failed: 0, skipped: 0, rows: 5, bytes: 4, files: 1 },
    tables: [{ datasetId: 'sales', tableId: 'orders', status: 'SUCCEEDED', rows: 5, bytes: 4, files: 1 }],
    startedAt: new Date(snapshotMillis).toISOString(),
    finishedAt: new Date(snapshotMillis + 60_000).toISOString(),
  };
  await put(fixture.store, `${root}/_backup.json`, JSON.stringify(manifest));
  if (options.catalogue !== undefined) {
    await fixture.state.putBackup({
      backupId: operationId,
      operationId,
      projectId: PROJECT,
      snapshotMillis,
      snapshotTime: manifest.snapshotTime,
      location: manifest.location,
      format: 'AVRO',
      compression: 'NONE',
      status: 'SUCCEEDED',
      tables: 1,
      failedTables: 0,
      rows: 5,
      bytes: 4,
      files: 1,
      createdAt: manifest.finishedAt,
      ...options.catalogue,
    });
  }
  return folder;
}

function request(fields: Partial<PruneRequest> = {}): PruneRequest {
  return decodeRequest({
    kind: 'prune',
    bigQuery: { projectId: PROJECT },
    backupStorage: { fileOptions: { path: fixture.dir } },
    ...fields,
  }).request as PruneRequest;
}

const kind = () =>
  createPruneKind({
    store: fixture.state,
    stores: () => fixture.store,
    endpoints: { s3: [], azure: [] },
    now: () => NOW,
  });

const operation = { operationId: 'prune-op' } as OperationDoc;

async function plan(req: PruneRequest): Promise<PlannedTask[]> {
  return [...((await kind().plan(req, operation, logger)).tasks as PlannedTask[])];
}

/** `folder: PENDING` or `folder: SKIPPED (note)` of every task, newest first. */
const decided = (tasks: readonly PlannedTask[]): Record<string, string> =>
  Object.fromEntries(
    tasks.map((t) => [t.table.tableId, t.status === 'PENDING' ? 'DELETE' : `KEEP ${t.note ?? ''}`]),
  );

describe('prune planning', function () {
  beforeEach(async function () {
    fixture = await newFixture();
  });
  afterEach(async function () {
    await Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true })));
    roots = [];
  });

  it('keeps the three newest days and the newest backup of each of two weeks of 10 daily backups', async function () {
    // Monday 2026-11-23 to Wednesday 2026-12-02, at noon: ISO weeks 48 (23-29 Nov) and 49 (30 Nov-6 Dec).
    const folders: string[] = [];
    for (let day = 0; day < 10; day++)
      folders.push(await bqbrBackup(new Date(Date.UTC(2026, 10, 23 + day, 12)).toISOString()));
    const tasks = await plan(request({ retention: { keepDaily: 3, keepWeekly: 2 } }));
    const byDay = (day: number): string => folders[day]!;
    const result = decided(tasks);
    expect(Object.keys(result)).to.deep.equal([...folders].reverse());
    expect(result[byDay(9)]).to.equal('KEEP kept: newest successful; daily 2026-12-02; weekly 2026-W49');
    expect(result[byDay(8)]).to.equal('KEEP kept: daily 2026-12-01');
    expect(result[byDay(7)]).to.equal('KEEP kept: daily 2026-11-30');
    expect(result[byDay(6)]).to.equal('KEEP kept: weekly 2026-W48');
    for (let day = 0; day < 6; day++) expect(result[byDay(day)], `day ${day}`).to.equal('DELETE');
    const deleting = tasks.filter((t) => t.status === 'PENDING');
    expect(deleting[0]!.spec).to.deep.include({
      kind: 'prune',
      folderPath: `backups/${byDay(5)}/${PROJECT}`,
      timestamp: byDay(5),
      reasons: ['no rule keeps it'],
      backupId: 'op-2026-11-28T12:00:00.000Z',
    });
    expect(deleting[0]!.table).to.deep.equal({ projectId: PROJECT, datasetId: 'backups', tableId: byDay(5) });
  });

  it('decides failed, partially failed, crashed, running, unreadable, original and half-pruned folders', async function () {
    const oldest = await bqbrBackup('2026-11-25T12:00:00Z', { status: 'PARTIALLY_FAILED' });
    const success = await bqbrBackup('2026-11-26T12:00:00Z');
    const failed = await bqbrBackup('2026-11-27T12:00:00Z', { status: 'FAILED' });
    const crashed = await bqbrBackup('2026-11-28T12:00:00Z', { finished: false });
    const runningAt = Date.parse('2026-11-29T12:00:00Z');
    const running = await bqbrBackup('2026-11-29T12:00:00Z', { finished: false, operationId: 'op-running' });
    fixture.state.operations.push({
      operationId: 'op-running',
      kind: 'backup',
      projectId: PROJECT,
      status: 'RUNNING',
      snapshotMillis: runningAt,
    } as OperationDoc);
    const partial = await bqbrBackup('2026-11-30T12:00:00Z', { status: 'PARTIALLY_FAILED' });
    const unreadable = backupFolderName(new Date('2026-12-01T06:00:00Z'), 'op-unreadable');
    await put(fixture.store, `backups/${unreadable}/${PROJECT}/_backup.json`, '{"kind":"bqbr#backup"}');
    const original = backupFolderName(new Date('2026-11-20T12:00:00Z'));
    await put(fixture.store, `backups/${original}/${PROJECT}/sales/orders-000000000000.avro`, 'x');
    // The newest backup, half deleted by an earlier prune: it goes whatever the rules say.
    const halfPruned = await bqbrBackup('2026-12-01T12:00:00Z');
    await put(fixture.store, `backups/${halfPruned}/${PROJECT}/${PRUNE_MARKER}`, '{}');

    const result = decided(await plan(request({ retention: { keepLast: 1 } })));
    expect(result).to.deep.equal({
      [halfPruned]: 'DELETE',
      [unreadable]: `KEEP kept: unreadable: ${result[unreadable]!.slice('KEEP kept: unreadable: '.length)}`,
      [partial]: 'KEEP kept: partially failed, newer than the newest successful backup',
      [running]: 'KEEP kept: still running',
      [crashed]: 'DELETE',
      [failed]: 'DELETE',
      [success]: 'KEEP kept: newest successful; last 1',
      [oldest]: 'DELETE',
      [original]: 'DELETE',
    });
    expect(result[unreadable]).to.match(/_backup\.json/);
  });

  it('holds write-once backups and those a kept backup depends on', async function () {
    const base = await bqbrBackup('2026-11-27T12:00:00Z', { operationId: 'op-base', catalogue: {} });
    const locked = await bqbrBackup('2026-11-28T12:00:00Z');
    const recorded = await bqbrBackup('2026-11-29T12:00:00Z', {
      operationId: 'op-recorded',
      catalogue: { retainUntil: '2027-01-01T00:00:00.000Z' },
    });
    const expired = await bqbrBackup('2026-11-30T12:00:00Z');
    await bqbrBackup('2026-12-01T12:00:00Z', {
      operationId: 'op-incremental',
      catalogue: { dependsOn: [base] },
    });
    fixture.locks.set(`backups/${locked}/${PROJECT}/_backup.json`, '2026-12-24T00:00:00.000Z');
    fixture.locks.set(`backups/${expired}/${PROJECT}/_backup.json`, '2026-12-01T00:00:00.000Z');

    const result = decided(await plan(request({ retention: { keepLast: 1 } })));
    expect(result[base]).to.equal('KEEP kept: a kept backup depends on it (' + Object.keys(result)[0] + ')');
    expect(result[locked]).to.equal('KEEP kept: write-once until 2026-12-24T00:00:00.000Z');
    expect(result[recorded]).to.equal('KEEP kept: write-once until 2027-01-01T00:00:00.000Z');
    expect(result[expired]).to.equal('DELETE');
  });

  it('reconcileOnly deletes nothing and rebuilds the catalogue from storage', async function () {
    const present = await bqbrBackup('2026-11-29T12:00:00Z', {
      operationId: 'op-present',
      catalogue: {
        verification: {
          operationId: 'v',
          status: 'SUCCEEDED',
          verifiedAt: 'x',
          tables: 1,
          failedTables: 0,
          filesRead: 1,
          bytesRead: 4,
        },
      },
    });
    const uncatalogued = await bqbrBackup('2026-11-30T12:00:00Z', { operationId: 'op-new' });
    const pruning = await bqbrBackup('2026-12-01T12:00:00Z', { operationId: 'op-pruning', catalogue: {} });
    await put(fixture.store, `backups/${pruning}/${PROJECT}/${PRUNE_MARKER}`, '{}');
    // Entries whose folders are gone: at this location (marked deleted) and elsewhere (left alone).
    const gone = backupFolderName(new Date('2026-11-01T00:00:00Z'), 'op-gone');
    const base = {
      projectId: PROJECT,
      snapshotMillis: 1,
      snapshotTime: 'x',
      format: 'AVRO',
      compression: 'NONE',
      status: 'SUCCEEDED',
      tables: 1,
      failedTables: 0,
      rows: 1,
      bytes: 1,
      files: 1,
      createdAt: 'x',
    } as const;
    await fixture.state.putBackup({
      ...base,
      backupId: 'op-gone',
      operationId: 'op-gone',
      location: fixture.store.uri(`backups/${gone}`),
    });
    await fixture.state.putBackup({
      ...base,
      backupId: 'op-elsewhere',
      operationId: 'op-elsewhere',
      location: `gs://other/backups/${gone}`,
    });

    const tasks = await plan(request({ reconcileOnly: true }));
    expect(tasks.map((t) => t.status)).to.deep.equal(['SKIPPED', 'SKIPPED', 'SKIPPED']);
    expect(tasks[0]!.note).to.equal(
      'kept: reconcileOnly: nothing is deleted; partially deleted: a previous prune started deleting it',
    );
    expect(await fixture.store.stat(`backups/${pruning}/${PROJECT}/_backup.json`)).to.not.equal(undefined);
    const catalogue = fixture.state.backups;
    expect(catalogue.get('op-new')).to.deep.include({
      state: 'PRESENT',
      location: fixture.store.uri(`backups/${uncatalogued}`),
      rows: 5,
      status: 'SUCCEEDED',
    });
    expect(catalogue.get('op-present')?.verification?.operationId, 'verification kept').to.equal('v');
    expect(catalogue.get('op-present')?.location).to.equal(fixture.store.uri(`backups/${present}`));
    expect(catalogue.get('op-pruning')?.state).to.equal('DELETING');
    expect(catalogue.get('op-gone')).to.deep.include({ state: 'DELETED', deletedBy: 'prune-op' });
    expect(catalogue.get('op-elsewhere')?.state).to.equal(undefined);

    // A second reconcile finds the catalogue in step: nothing written.
    const writes = fixture.state.writes;
    await plan(request({ reconcileOnly: true }));
    expect(fixture.state.writes - writes).to.equal(0);
  });

  it('dry run lists every backup with KEEP or DELETE and writes nothing', async function () {
    const old = await bqbrBackup('2026-11-30T12:00:00Z');
    const newest = await bqbrBackup('2026-12-01T12:00:00Z');
    const { plan: summary } = await kind().dryRun(
      request({ retention: { keepLast: 1 }, dryRun: true }),
      operation,
      logger,
    );
    expect(summary).to.deep.equal({
      tables: 2,
      skipped: 1,
      bytes: 4,
      rows: 5,
      sample: [
        { table: newest, action: 'KEEP', note: 'newest successful; last 1', bytes: 4 },
        { table: old, action: 'DELETE', note: 'no rule keeps it', bytes: 4 },
      ],
    });
    expect(fixture.state.writes).to.equal(0);
  });

  it('finalization marks the backups its succeeded tasks deleted', async function () {
    await bqbrBackup('2026-11-30T12:00:00Z', { operationId: 'op-deleted', catalogue: {} });
    await bqbrBackup('2026-12-01T12:00:00Z', { operationId: 'op-failed-delete', catalogue: {} });
    const task = (backupId: string, status: TaskStatus): TaskDoc =>
      ({ status, spec: { kind: 'prune', backupId } }) as unknown as TaskDoc;
    fixture.state.tasks.push(task('op-deleted', 'SUCCEEDED'), task('op-failed-delete', 'FAILED'));
    const finishedAt = '2026-12-02T18:05:00.000Z';
    const summary = { tables: 2, succeeded: 1, failed: 1, skipped: 0, rows: 0, bytes: 0, files: 0 };
    await kind().finalize!(operation, { status: 'PARTIALLY_FAILED', summary, finishedAt }, logger);
    expect(fixture.state.backups.get('op-deleted')).to.deep.include({
      state: 'DELETED',
      deletedBy: 'prune-op',
      deletedAt: finishedAt,
    });
    expect(fixture.state.backups.get('op-failed-delete')?.state).to.equal(undefined);
  });
});
