// The prune step on every kind of store, each on its emulator (bqbr's Cloud Storage emulator, s3rver,
// Azurite) or a directory: the order it deletes in, redelivery after a delivery died halfway, retention
// locks, continuations, and the catalogue entry following the folder.
import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import {
  BACKUP_MANIFEST,
  PRUNE_MARKER,
  PermanentError,
  RetryableError,
  azureStore,
  createSilentLogger,
  fileStore,
  gcsStore,
  listStoredBackups,
  s3Store,
  taskIdFor,
  type BackupCatalogEntry,
  type BackupStore,
  type DestinationSpec,
  type PruneTaskSpec,
  type StateStore,
  type TaskMessage,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  startAzurite,
  startS3rver,
  withProcessEnv,
  type RunningAzurite,
  type RunningS3rver,
} from '../../../shared/test/support/emulated-stores.js';
import { runPruneStep, type PruneStepDeps } from '../src/prune-step.js';
import { FakePublisher, FakeTaskStore, pendingTask } from './fakes.js';

const PROJECT = 'prod-project';
const FOLDER = '20261130_120000_0123456789ab';
const OTHER = '20261201_120000_ba9876543210';
const FILES = 40;

/** The task half of the state store and the catalogue's updates, in memory, remembering every update. */
class PruneState extends FakeTaskStore {
  readonly backupUpdates: [string, Partial<BackupCatalogEntry>][] = [];
  updateBackup(backupId: string, patch: Partial<BackupCatalogEntry>): Promise<boolean> {
    this.backupUpdates.push([backupId, patch]);
    return Promise.resolve(true);
  }
}

/** A store that records its puts and deletes, and lets a test refuse or break some of them. */
function watched(
  store: BackupStore,
  options: {
    locked?: (path: string) => boolean;
    /** Deletes before a retryable failure (a delivery dying halfway). */
    breakAfter?: number;
    /** Retention stat reports for `_backup.json`. */
    manifestLock?: string;
  } = {},
): { store: BackupStore; log: string[] } {
  const log: string[] = [];
  let deletes = 0;
  return {
    log,
    store: {
      ...store,
      put: (path, body, putOptions) => {
        log.push(`put ${path}`);
        return store.put(path, body, putOptions);
      },
      stat: async (path) => {
        const found = await store.stat(path);
        return found && options.manifestLock !== undefined && path.endsWith(`/${BACKUP_MANIFEST}`)
          ? { ...found, retention: { mode: 'COMPLIANCE', retainUntil: options.manifestLock } }
          : found;
      },
      delete: async (path) => {
        if (options.locked?.(path) === true)
          throw new PermanentError('retentionLocked', `retained until 2027-01-01T00:00:00.000Z`);
        if (options.breakAfter !== undefined && deletes++ >= options.breakAfter)
          throw new RetryableError('unavailable', 'the delivery died here');
        log.push(`delete ${path}`);
        await store.delete(path);
      },
    },
  };
}

interface StoreFixture {
  /** A new, empty store under a prefix of its own. */
  newStore(): Promise<{ store: BackupStore; spec: DestinationSpec }>;
}

const put = (store: BackupStore, path: string, text: string): Promise<unknown> =>
  store.put(path, Readable.from([Buffer.from(text)]));

/** A finished backup at `folder`: FILES data files over two tables, their manifests, `_backup.json`. */
async function writeBackup(store: BackupStore, folder: string): Promise<string[]> {
  const root = `backups/${folder}/${PROJECT}`;
  const paths: string[] = [];
  for (const table of ['orders', 'customers']) {
    for (let i = 0; i < FILES / 2; i++)
      paths.push(`${root}/sales/${table}/data-${String(i).padStart(12, '0')}.avro`);
    paths.push(`${root}/sales/${table}/_table.json`);
  }
  await Promise.all(paths.map((path) => put(store, path, `bytes of ${path}`)));
  await put(store, `${root}/${BACKUP_MANIFEST}`, '{"kind":"bqbr#backup"}');
  return [...paths, `${root}/${BACKUP_MANIFEST}`].sort();
}

const listed = async (store: BackupStore, folder: string): Promise<string[]> =>
  (await store.list(`backups/${folder}/`)).map((o) => o.path).sort();

function prunesLikeAnyStore(fixture: () => StoreFixture): void {
  let store: BackupStore;
  let spec: DestinationSpec;
  let state: PruneState;
  let publisher: FakePublisher;
  let message: TaskMessage & { spec: PruneTaskSpec };

  const deps = (on: BackupStore, jobWaitMs = 30_000): PruneStepDeps => ({
    state: state as unknown as StateStore,
    jobs: undefined as never,
    publisher,
    settings: { jobWaitMs, jobPollMs: 1, maxJobAttempts: 1 },
    stores: () => on,
    now: () => new Date('2026-12-02T18:00:00Z'),
  });
  const ctx = { logger: createSilentLogger(), signal: new AbortController().signal };

  beforeEach(async function () {
    ({ store, spec } = await fixture().newStore());
    state = new PruneState();
    publisher = new FakePublisher();
    const table = { projectId: PROJECT, datasetId: 'backups', tableId: FOLDER };
    const pruneSpec: PruneTaskSpec = {
      kind: 'prune',
      home: spec,
      folderPath: `backups/${FOLDER}/${PROJECT}`,
      folder: store.uri(`backups/${FOLDER}/${PROJECT}`),
      timestamp: FOLDER,
      snapshotMillis: Date.UTC(2026, 10, 30, 12),
      reasons: ['no rule keeps it'],
      backupId: 'op-backup',
    };
    message = { operationId: 'op-prune', taskId: taskIdFor(table), spec: pruneSpec };
    state.put(pendingTask(message, table));
  });

  it('writes the marker first, deletes every file, then _backup.json, then the marker; the catalogue follows', async function () {
    const files = await writeBackup(store, FOLDER);
    const kept = await writeBackup(store, OTHER);
    const { store: recorded, log } = watched(store);
    const outcome = await runPruneStep(message, deps(recorded), ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    const root = `backups/${FOLDER}/${PROJECT}`;
    expect(log[0]).to.equal(`put ${root}/${PRUNE_MARKER}`);
    expect(log.slice(-2)).to.deep.equal([
      `delete ${root}/${BACKUP_MANIFEST}`,
      `delete ${root}/${PRUNE_MARKER}`,
    ]);
    expect(log.slice(1, -2).sort()).to.deep.equal(
      files.filter((f) => !f.endsWith(BACKUP_MANIFEST)).map((f) => `delete ${f}`),
    );
    expect(await listed(store, FOLDER)).to.deep.equal([]);
    expect(await listed(store, OTHER), 'the other backup').to.deep.equal(kept);
    const task = state.task(message.operationId, message.taskId);
    expect([task.status, task.fileCount]).to.deep.equal(['SUCCEEDED', FILES + 3]);
    expect(task.bytes).to.be.greaterThan(0);
    expect(state.backupUpdates).to.deep.equal([
      ['op-backup', { state: 'DELETING' }],
      ['op-backup', { state: 'DELETED', deletedBy: 'op-prune', deletedAt: '2026-12-02T18:00:00.000Z' }],
    ]);
    expect(publisher.events).to.deep.equal([
      { operationId: 'op-prune', taskId: message.taskId, status: 'SUCCEEDED' },
    ]);
  });

  it('leaves a delivery that died halfway partially deleted, and the redelivery finishes it', async function () {
    await writeBackup(store, FOLDER);
    const kept = await writeBackup(store, OTHER);
    const { store: breaking } = watched(store, { breakAfter: FILES / 2 });
    let failure: unknown;
    await runPruneStep(message, deps(breaking), ctx).catch((err: unknown) => (failure = err));
    expect(failure).to.be.instanceOf(RetryableError);
    const left = await listed(store, FOLDER);
    expect(left).to.include(`backups/${FOLDER}/${PROJECT}/${PRUNE_MARKER}`);
    expect(left).to.include(`backups/${FOLDER}/${PROJECT}/${BACKUP_MANIFEST}`);
    expect(left.length).to.be.lessThan(FILES + 4);
    const half = await listStoredBackups(store, { projectId: PROJECT });
    expect(half.find((b) => b.timestamp === FOLDER)?.layout, 'listed as').to.equal('pruning');

    expect(await runPruneStep(message, deps(store), ctx)).to.deep.equal({
      kind: 'finished',
      status: 'SUCCEEDED',
    });
    expect(await listed(store, FOLDER)).to.deep.equal([]);
    expect(await listed(store, OTHER)).to.deep.equal(kept);
    // A third delivery (the event was lost) finds the task finished and only publishes its event again.
    expect(await runPruneStep(message, deps(store), ctx)).to.deep.equal({
      kind: 'alreadyFinished',
      status: 'SUCCEEDED',
    });
  });

  it('stops at the first locked file, keeps the marker and _backup.json, and fails naming the file', async function () {
    await writeBackup(store, FOLDER);
    const lockedPath = `backups/${FOLDER}/${PROJECT}/sales/orders/data-000000000003.avro`;
    const { store: locking } = watched(store, { locked: (path) => path === lockedPath });
    expect(await runPruneStep(message, deps(locking), ctx)).to.deep.equal({
      kind: 'finished',
      status: 'FAILED',
    });
    const task = state.task(message.operationId, message.taskId);
    expect(task.error?.reason).to.equal('retentionLocked');
    expect(task.error?.message).to.include(store.uri(lockedPath)).and.to.include('2027-01-01T00:00:00.000Z');
    const left = await listed(store, FOLDER);
    expect(left).to.include.members([
      lockedPath,
      `backups/${FOLDER}/${PROJECT}/${PRUNE_MARKER}`,
      `backups/${FOLDER}/${PROJECT}/${BACKUP_MANIFEST}`,
    ]);
    expect(state.backupUpdates).to.deep.equal([['op-backup', { state: 'DELETING' }]]);
  });

  it('touches nothing while _backup.json is under a retention lock', async function () {
    const files = await writeBackup(store, FOLDER);
    const { store: locked, log } = watched(store, { manifestLock: '2026-12-24T00:00:00.000Z' });
    expect(await runPruneStep(message, deps(locked), ctx)).to.deep.equal({
      kind: 'finished',
      status: 'FAILED',
    });
    expect(state.task(message.operationId, message.taskId).error?.message).to.match(
      /write-once \(COMPLIANCE\) until 2026-12-24T00:00:00.000Z: nothing was deleted/,
    );
    expect(log).to.deep.equal([]);
    expect(await listed(store, FOLDER)).to.deep.equal(files);
  });

  it('hands over to a continuation when its budget runs out, and the continuation finishes', async function () {
    await writeBackup(store, FOLDER);
    const outcome = await runPruneStep(message, deps(store, -1), ctx);
    expect(outcome).to.deep.equal({ kind: 'continued', continuation: 1 });
    expect(publisher.tasks).to.have.length(1);
    expect(await listed(store, FOLDER)).to.include(`backups/${FOLDER}/${PROJECT}/${PRUNE_MARKER}`);
    expect(await runPruneStep(publisher.tasks[0]!, deps(store), ctx)).to.deep.equal({
      kind: 'finished',
      status: 'SUCCEEDED',
    });
    expect(await listed(store, FOLDER)).to.deep.equal([]);
    expect(state.task(message.operationId, message.taskId).fileCount).to.equal(FILES + 3);
  });
}

describe('the prune step on every kind of store', function () {
  this.timeout(60_000);

  describe('Cloud Storage (emulator)', function () {
    let emulator: RunningGcsEmulator;
    let storage: Storage;
    const bucket = `prune-${randomUUID().slice(0, 8)}`;
    before(async function () {
      emulator = await startGcsEmulator({ port: 0 });
      storage = new Storage({ apiEndpoint: emulator.url, projectId: 'prune-test' });
      await storage.createBucket(bucket);
    });
    after(async function () {
      await emulator?.close();
    });
    prunesLikeAnyStore(() => ({
      newStore() {
        const uri = `gs://${bucket}/${randomUUID().slice(0, 8)}`;
        return Promise.resolve({ store: gcsStore(storage, uri), spec: { kind: 'gcs', uri } });
      },
    }));
  });

  describe('S3 (s3rver)', function () {
    let s3rver: RunningS3rver;
    let restoreEnv: () => void = () => undefined;
    const bucket = `prune-${randomUUID().slice(0, 8)}`;
    before(async function () {
      s3rver = await startS3rver();
      restoreEnv = withProcessEnv(s3rver.env);
      await s3rver.createBucket(bucket);
    });
    after(async function () {
      restoreEnv();
      await s3rver?.stop();
    });
    prunesLikeAnyStore(() => ({
      newStore() {
        const prefix = randomUUID().slice(0, 8);
        const options = { bucket, prefix, endpoint: s3rver.endpoint, forcePathStyle: true };
        return Promise.resolve({ store: s3Store(options), spec: { kind: 's3', ...options } });
      },
    }));
  });

  describe('Azure Blob Storage (Azurite)', function () {
    let azurite: RunningAzurite;
    const container = `prune-${randomUUID().slice(0, 8)}`;
    before(async function () {
      azurite = await startAzurite();
      await azurite.createContainer(container);
    });
    after(async function () {
      await azurite?.stop();
    });
    prunesLikeAnyStore(() => ({
      newStore() {
        const options = { accountUrl: azurite.accountUrl, container, prefix: randomUUID().slice(0, 8) };
        return Promise.resolve({
          store: azureStore(options, azurite.env),
          spec: { kind: 'azure', ...options },
        });
      },
    }));
  });

  describe('files (a temporary directory)', function () {
    let root: string;
    before(async function () {
      root = await mkdtemp(join(tmpdir(), 'prune-step-'));
    });
    after(async function () {
      await rm(root, { recursive: true, force: true });
    });
    prunesLikeAnyStore(() => ({
      newStore() {
        const directory = join(root, randomUUID());
        return Promise.resolve({
          store: fileStore('/', directory, [root]),
          spec: { kind: 'file', path: directory },
        });
      },
    }));
  });
});
