import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import {
  azureStore,
  findStoredBackup,
  fileStore,
  gcsStore,
  listOriginalLayoutTables,
  listStoredBackups,
  backupFolderName,
  createSilentLogger,
  MANIFEST_VERSION,
  PermanentError,
  PRUNE_MARKER,
  s3Store,
  timestampMillis,
  type BackupManifest,
  type BackupStore,
  type Logger,
  type StoredBackup,
} from '../src/index.js';
import {
  startAzurite,
  startS3rver,
  withProcessEnv,
  type RunningAzurite,
  type RunningS3rver,
} from './support/emulated-stores.js';

const ALPHA = 'proj-alpha';
const BETA = 'proj-beta';
const GAMMA = 'proj-gamma';
const DELTA = 'proj-delta';
const T1 = '20240101_000000';
const T2 = '20240201_120000';
const T3 = '20240301_000000';
const T4 = '20240401_063015';

function manifest(projectId: string, timestamp: string, status: string, location: string): BackupManifest {
  const snapshotMillis = timestampMillis(timestamp)!;
  return {
    manifestVersion: MANIFEST_VERSION,
    kind: 'bqbr#backup',
    operationId: `op-${projectId}-${timestamp}`,
    projectId,
    snapshotMillis,
    snapshotTime: new Date(snapshotMillis).toISOString(),
    location,
    export: {
      format: 'AVRO',
      compression: 'SNAPPY',
      header: false,
      fieldDelimiter: ',',
      useAvroLogicalTypes: true,
    },
    status,
    summary: { tables: 2, succeeded: 2, failed: 0, skipped: 0, rows: 10, bytes: 2048, files: 2 },
    tables: [{ datasetId: 'sales', tableId: 'orders', status: 'SUCCEEDED', rows: 10, bytes: 2048, files: 2 }],
    startedAt: new Date(snapshotMillis).toISOString(),
    finishedAt: new Date(snapshotMillis + 60_000).toISOString(),
  };
}

const summarize = (backups: StoredBackup[]): string[] =>
  backups.map(
    (b) =>
      `${b.timestamp} ${b.projectId} ${b.layout}` +
      (b.manifest ? ` ${b.manifest.status}` : '') +
      (b.problem ? ' (problem)' : ''),
  );

const put = async (store: BackupStore, path: string, contents: string | object = 'x'): Promise<void> => {
  const text = typeof contents === 'string' ? contents : JSON.stringify(contents);
  await store.put(path, Readable.from([Buffer.from(text)]));
};

/** The store, counting the calls the listing makes (each one request unless a listing spans pages). */
function counting(store: BackupStore): { store: BackupStore; calls: () => number; reset: () => void } {
  let calls = 0;
  const counted = <R>(call: () => Promise<R>): Promise<R> => {
    calls++;
    return call();
  };
  return {
    store: {
      ...store,
      get: (path) => counted(() => store.get(path)),
      stat: (path) => counted(() => store.stat(path)),
      list: (prefix) => counted(() => store.list(prefix)),
      listFolders: (prefix) => counted(() => store.listFolders(prefix)),
    },
    calls: () => calls,
    reset: () => {
      calls = 0;
    },
  };
}

/** One kind of store on its emulator (or directory), for the shared behaviour below. */
interface ListingFixture {
  /**
   * A new, empty store: under a prefix of its own in a shared bucket (container, directory), or at the
   * root of a bucket of its own; `base` is the URI its root has for people.
   */
  newStore(options?: { atRoot?: boolean; pageSize?: number }): Promise<{ store: BackupStore; base: string }>;
  /** The HTTP requests the server has answered, where it counts them. */
  readonly requests?: () => number;
}

function listsBackupsLikeAnyStore(fixture: () => ListingFixture): void {
  let f: ListingFixture;
  let store: BackupStore;
  let base: string;
  let calls: () => number;
  let resetCalls: () => void;
  let requestsBefore: number;
  /** Store calls since the test's start, after checking that each was one HTTP request where that is counted. */
  const requestsSoFar = async (): Promise<number> => {
    if (f.requests) {
      // The server counts a request once its response has gone out, which can be just after the
      // client has read it: give the count a moment to catch up (it never runs ahead).
      for (let waited = 0; f.requests() - requestsBefore < calls() && waited < 2_000; waited += 10)
        await new Promise((r) => setTimeout(r, 10));
      expect(f.requests() - requestsBefore, 'HTTP requests').to.equal(calls());
    }
    return calls();
  };

  before(async function () {
    f = fixture();
    const made = await f.newStore();
    base = made.base;
    ({ store, calls, reset: resetCalls } = counting(made.store));
    const bqbr = (timestamp: string, projectId: string, status: string): Promise<void> =>
      put(
        store,
        `backups/${timestamp}/${projectId}/_backup.json`,
        manifest(projectId, timestamp, status, `${base}/backups/${timestamp}`),
      );
    const files: [string, string?][] = [
      // T1: alpha in the original service's layout, beta and delta bqbr, gamma original.
      [`${T1}/${ALPHA}/sales/orders-000000000000.avro`, 'a'.repeat(100)],
      [`${T1}/${ALPHA}/sales/orders-000000000001.avro`, 'b'.repeat(50)],
      [`${T1}/${ALPHA}/sales/customer-list-000000000000.csv.gz`, 'c'.repeat(30)],
      [`${T1}/${ALPHA}/sales/customer-list-000000000001.csv.gz`, 'd'.repeat(20)],
      [`${T1}/${ALPHA}/sales/notes.txt`],
      [`${T1}/${ALPHA}/hr/staff-*.parquet`, 'e'.repeat(7)],
      [`${T1}/${ALPHA}/hr/events-000000000000.json`, 'f'.repeat(3)],
      [`${T1}/${BETA}/sales/orders/_table.json`, '{}'],
      [`${T1}/${GAMMA}/web/visits-000000000000.parquet`],
      // T2: alpha bqbr, beta original (newer than beta's bqbr backup), gamma bqbr but FAILED.
      [`${T2}/${ALPHA}/sales/orders/data-000000000000.avro`],
      [`${T2}/${ALPHA}/sales/orders/_table.json`, '{}'],
      [`${T2}/${BETA}/sales/orders-000000000000.avro`],
      // T3: alpha FAILED, beta still running (table manifests, no _backup.json), gamma original.
      [`${T3}/${BETA}/sales/orders/_table.json`, '{}'],
      [`${T3}/${GAMMA}/web/visits-000000000000.parquet`],
      // T4: alpha crashed, beta with a _backup.json that does not decode, delta running.
      [`${T4}/${ALPHA}/sales/orders/data-000000000000.avro`],
      [`${T4}/${ALPHA}/sales/orders/_table.json`, '{}'],
      [`${T4}/${BETA}/_backup.json`, JSON.stringify({ kind: 'bqbr#backup', status: 'SUCCEEDED' })],
      [`${T4}/${DELTA}/sales/orders/data-000000000000.avro`],
      // Not timestamps: ignored.
      ['notes/readme.txt'],
      ['20241399_000000/proj-alpha/_backup.json', '{}'],
    ];
    await Promise.all([
      ...files.map(([path, contents]) => put(store, `backups/${path}`, contents)),
      bqbr(T1, BETA, 'SUCCEEDED'),
      bqbr(T2, ALPHA, 'SUCCEEDED'),
      bqbr(T2, GAMMA, 'FAILED'),
      bqbr(T3, ALPHA, 'FAILED'),
    ]);
  });

  beforeEach(function () {
    resetCalls();
    requestsBefore = f.requests?.() ?? 0;
  });

  it('lists every backup newest first, telling bqbr, original and incomplete folders apart', async function () {
    const backups = await listStoredBackups(store);
    expect(summarize(backups)).to.deep.equal([
      `${T4} ${ALPHA} incomplete`,
      `${T4} ${BETA} incomplete (problem)`,
      `${T4} ${DELTA} incomplete`,
      `${T3} ${ALPHA} bqbr FAILED`,
      `${T3} ${BETA} incomplete`,
      `${T3} ${GAMMA} original`,
      `${T2} ${ALPHA} bqbr SUCCEEDED`,
      `${T2} ${BETA} original`,
      `${T2} ${GAMMA} bqbr FAILED`,
      `${T1} ${ALPHA} original`,
      `${T1} ${BETA} bqbr SUCCEEDED`,
      `${T1} ${GAMMA} original`,
    ]);
    const t2alpha = backups.find((b) => b.timestamp === T2 && b.projectId === ALPHA)!;
    expect(t2alpha).to.deep.include({
      snapshotMillis: Date.UTC(2024, 1, 1, 12, 0, 0),
      folderPath: `backups/${T2}/${ALPHA}`,
      folder: `${base}/backups/${T2}/${ALPHA}`,
    });
    expect(t2alpha.manifest?.summary.rows).to.equal(10);
    const broken = backups.find((b) => b.timestamp === T4 && b.projectId === BETA)!;
    expect(broken.manifest).to.equal(undefined);
    expect(broken.problem)
      .to.match(/_backup\.json/)
      .and.to.match(/operationId/);
  });

  it("lists one project's backups", async function () {
    const backups = await listStoredBackups(store, { projectId: ALPHA });
    expect(summarize(backups)).to.deep.equal([
      `${T4} ${ALPHA} incomplete`,
      `${T3} ${ALPHA} bqbr FAILED`,
      `${T2} ${ALPHA} bqbr SUCCEEDED`,
      `${T1} ${ALPHA} original`,
    ]);
    expect(await listStoredBackups(store, { projectId: 'proj-nobody' })).to.deep.equal([]);
  });

  it('finds a backup by timestamp in one read (and a look for a prune marker), or a few folder listings without a manifest', async function () {
    const found = await findStoredBackup(store, ALPHA, T2);
    expect(found?.layout).to.equal('bqbr');
    expect(found?.manifest?.operationId).to.equal(`op-${ALPHA}-${T2}`);
    // `_backup.json` and a stat of `_pruning.json`, at once.
    expect(await requestsSoFar()).to.equal(2);

    // The manifest, the marker, the datasets, the first dataset's sub-folders (none) and its files:
    // however many files the backup holds.
    resetCalls();
    requestsBefore = f.requests?.() ?? 0;
    expect((await findStoredBackup(store, ALPHA, T1))?.layout).to.equal('original');
    expect(await requestsSoFar()).to.equal(5);

    expect((await findStoredBackup(store, BETA, T3))?.layout).to.equal('incomplete');
    expect(await findStoredBackup(store, ALPHA, '20240501_000000')).to.equal(undefined);
    expect(await findStoredBackup(store, 'proj-nobody', T1)).to.equal(undefined);
    const elsewhere = await f.newStore();
    expect(await findStoredBackup(elsewhere.store, ALPHA, T1)).to.equal(undefined);
    let error: unknown;
    await findStoredBackup(store, ALPHA, '2024-01-01').catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(RangeError);
  });

  it('resolves latest to the newest bqbr backup that did not fail, never an incomplete one', async function () {
    const alpha = await findStoredBackup(store, ALPHA, 'latest');
    expect([alpha?.timestamp, alpha?.layout]).to.deep.equal([T2, 'bqbr']);
    // One listing of the timestamps, then the manifests (and prune markers) of T4, T3 and T2 only.
    expect(await requestsSoFar()).to.equal(7);
    // Beta: T4 undecodable, T3 running, T2 original: the older bqbr backup of T1 wins.
    const beta = await findStoredBackup(store, BETA, 'latest');
    expect([beta?.timestamp, beta?.layout, beta?.manifest?.status]).to.deep.equal([T1, 'bqbr', 'SUCCEEDED']);
  });

  it('resolves latest to the newest original-layout backup when no bqbr backup is usable', async function () {
    // Gamma: T2 bqbr FAILED, original at T3 and T1.
    const gamma = await findStoredBackup(store, GAMMA, 'latest');
    expect([gamma?.timestamp, gamma?.layout]).to.deep.equal([T3, 'original']);
    // Delta: only a running backup.
    expect(await findStoredBackup(store, DELTA, 'latest')).to.equal(undefined);
    expect(await findStoredBackup(store, 'proj-nobody', 'latest')).to.equal(undefined);
  });

  it('reports a folder holding a prune marker as pruning, and latest passes over it', async function () {
    const { store: pruned, base: prunedBase } = await f.newStore();
    const bqbrAt = (timestamp: string): Promise<void> =>
      put(
        pruned,
        `backups/${timestamp}/${ALPHA}/_backup.json`,
        manifest(ALPHA, timestamp, 'SUCCEEDED', `${prunedBase}/backups/${timestamp}`),
      );
    await Promise.all([
      bqbrAt(T1),
      bqbrAt(T3),
      put(pruned, `backups/${T3}/${ALPHA}/${PRUNE_MARKER}`, '{}'),
      put(pruned, `backups/${T3}/${ALPHA}/sales/orders/data-000000000000.avro`),
      // Only the marker left: a prune stopped just before its last delete.
      put(pruned, `backups/${T4}/${ALPHA}/${PRUNE_MARKER}`, '{}'),
    ]);
    expect(summarize(await listStoredBackups(pruned, { projectId: ALPHA }))).to.deep.equal([
      `${T4} ${ALPHA} pruning`,
      `${T3} ${ALPHA} pruning SUCCEEDED`,
      `${T1} ${ALPHA} bqbr SUCCEEDED`,
    ]);
    expect((await findStoredBackup(pruned, ALPHA, T3))?.layout).to.equal('pruning');
    expect((await findStoredBackup(pruned, ALPHA, 'latest'))?.timestamp).to.equal(T1);
  });

  it('keeps backups of one second in folders of their own, lists and finds each, and latest is the newest', async function () {
    const { store: shared, base: sharedBase } = await f.newStore();
    const second = Date.UTC(2024, 4, 1, 8, 30, 0);
    const plain = backupFolderName(new Date(second));
    const folderOf = (operationId: string): string => backupFolderName(new Date(second), operationId);
    const [early, late, failed] = [folderOf('op-early'), folderOf('op-late'), folderOf('op-failed')];
    const before = backupFolderName(new Date(second - 3_600_000), 'op-before');
    const original = backupFolderName(new Date(second - 7_200_000));
    const bqbr = (folder: string, operationId: string, snapshotMillis: number, status = 'SUCCEEDED') =>
      put(shared, `backups/${folder}/${ALPHA}/_backup.json`, {
        ...manifest(ALPHA, folder, status, `${sharedBase}/backups/${folder}`),
        operationId,
        snapshotMillis,
      });
    await Promise.all([
      bqbr(early, 'op-early', second + 100),
      bqbr(late, 'op-late', second + 700),
      bqbr(failed, 'op-failed', second + 900, 'FAILED'),
      bqbr(before, 'op-before', second - 3_600_000),
      put(shared, `backups/${original}/${ALPHA}/sales/orders-000000000000.avro`),
    ]);
    expect(new Set([early, late, failed]).size).to.equal(3);
    for (const folder of [early, late, failed])
      expect(folder).to.match(new RegExp(`^${plain}_[0-9a-f]{12}$`));

    // Newest first, to the millisecond within the second.
    expect(summarize(await listStoredBackups(shared, { projectId: ALPHA }))).to.deep.equal([
      `${failed} ${ALPHA} bqbr FAILED`,
      `${late} ${ALPHA} bqbr SUCCEEDED`,
      `${early} ${ALPHA} bqbr SUCCEEDED`,
      `${before} ${ALPHA} bqbr SUCCEEDED`,
      `${original} ${ALPHA} original`,
    ]);
    const latest = await findStoredBackup(shared, ALPHA, 'latest');
    expect([latest?.timestamp, latest?.manifest?.operationId]).to.deep.equal([late, 'op-late']);
    for (const [folder, operationId] of [
      [early, 'op-early'],
      [late, 'op-late'],
    ] as const) {
      const found = await findStoredBackup(shared, ALPHA, folder);
      expect(found).to.deep.include({ layout: 'bqbr', folderPath: `backups/${folder}/${ALPHA}` });
      expect(found?.manifest?.operationId).to.equal(operationId);
    }
    // A plain timestamp: the one backup of its second, the original service's folder, or a refusal.
    expect((await findStoredBackup(shared, ALPHA, before.slice(0, plain.length)))?.timestamp).to.equal(
      before,
    );
    expect((await findStoredBackup(shared, ALPHA, original))?.layout).to.equal('original');
    expect(await findStoredBackup(shared, BETA, plain)).to.equal(undefined);
    let refusal: unknown;
    await findStoredBackup(shared, ALPHA, plain).catch((err: unknown) => (refusal = err));
    expect(refusal).to.be.instanceOf(PermanentError).with.property('reason', 'invalid');
    for (const folder of [early, late, failed]) expect((refusal as Error).message).to.contain(folder);
  });

  it("groups an original-layout backup's shards into tables", async function () {
    const folderPath = `backups/${T1}/${ALPHA}`;
    const file = (path: string, bytes: number) => ({
      path: `${folderPath}/${path}`,
      uri: `${base}/${folderPath}/${path}`,
      bytes,
    });
    const expected = [
      {
        datasetId: 'hr',
        tableId: 'events',
        format: 'JSON',
        compressed: false,
        files: [file('hr/events-000000000000.json', 3)],
      },
      {
        datasetId: 'hr',
        tableId: 'staff',
        format: 'PARQUET',
        compressed: false,
        files: [file('hr/staff-*.parquet', 7)],
      },
      {
        datasetId: 'sales',
        tableId: 'customer-list',
        format: 'CSV',
        compressed: true,
        files: [
          file('sales/customer-list-000000000000.csv.gz', 30),
          file('sales/customer-list-000000000001.csv.gz', 20),
        ],
      },
      {
        datasetId: 'sales',
        tableId: 'orders',
        format: 'AVRO',
        compressed: false,
        files: [file('sales/orders-000000000000.avro', 100), file('sales/orders-000000000001.avro', 50)],
      },
    ];
    expect(await listOriginalLayoutTables(store, folderPath)).to.deep.equal(expected);
    // The folder as StoredBackup names it, with a trailing slash too.
    expect(await listOriginalLayoutTables(store, `${folderPath}/`)).to.deep.equal(expected);
    // bqbr's table folders are not tables of the original layout.
    expect(await listOriginalLayoutTables(store, `backups/${T2}/${ALPHA}`)).to.deep.equal([]);
  });

  it('finds backups stored at the root of a bucket', async function () {
    const { store: root, base: rootBase } = await f.newStore({ atRoot: true });
    await put(root, `backups/${T1}/${ALPHA}/sales/orders-000000000000.avro`);
    const backups = await listStoredBackups(root);
    expect(summarize(backups)).to.deep.equal([`${T1} ${ALPHA} original`]);
    expect(backups[0]).to.deep.include({
      folderPath: `backups/${T1}/${ALPHA}`,
      folder: `${rootBase}/backups/${T1}/${ALPHA}`,
    });
    expect((await findStoredBackup(root, ALPHA, 'latest'))?.timestamp).to.equal(T1);
  });

  it('reads timestamp folders past the first page of a listing (1000 folders)', async function () {
    this.timeout(180_000);
    const { store: many } = await f.newStore({ atRoot: true, pageSize: 1000 });
    const hourly = Array.from({ length: 1001 }, (_, i) =>
      backupFolderName(new Date(Date.UTC(2020, 0, 1) + i * 3_600_000)),
    );
    for (let i = 0; i < hourly.length; i += 50)
      await Promise.all(
        hourly.slice(i, i + 50).map((ts) => put(many, `backups/${ts}/${BETA}/_backup.json`, '{}')),
      );
    // Alpha's only backup is the oldest timestamp: on the first page, which a client keeping only the
    // last page would drop.
    await put(
      many,
      `backups/${hourly[0]}/${ALPHA}/_backup.json`,
      manifest(ALPHA, hourly[0]!, 'SUCCEEDED', many.uri(`backups/${hourly[0]}`)),
    );
    const latest = await findStoredBackup(many, ALPHA, 'latest');
    expect([latest?.timestamp, latest?.layout]).to.deep.equal([hourly[0], 'bqbr']);
  });
}

describe('listing the backups in a store', function () {
  describe('Cloud Storage (emulator)', function () {
    let emulator: RunningGcsEmulator;
    let storage: Storage;
    let bucket: string;
    let requests = 0;

    before(async function () {
      // The emulator logs each request it served at debug level: that is the count planning pays for.
      const counter: Logger = {
        ...createSilentLogger(),
        debug: (message) => {
          if (message === 'request') requests++;
        },
        child: () => counter,
      };
      emulator = await startGcsEmulator({ port: 0, logger: counter });
      storage = new Storage({ apiEndpoint: emulator.url, projectId: 'listing-test' });
      bucket = `listing-${randomUUID().slice(0, 8)}`;
      await storage.createBucket(bucket);
    });

    after(async function () {
      await emulator?.close();
    });

    listsBackupsLikeAnyStore(() => ({
      async newStore({ atRoot = false, pageSize } = {}) {
        let uri = `gs://${bucket}/${randomUUID().slice(0, 8)}/team/bq`;
        if (atRoot) {
          const name = `listing-root-${randomUUID().slice(0, 8)}`;
          await storage.createBucket(name);
          uri = `gs://${name}`;
        }
        return { store: gcsStore(storage, uri, pageSize ? { pageSize } : {}), base: uri };
      },
      requests: () => requests,
    }));
  });

  describe('S3 (s3rver)', function () {
    let s3rver: RunningS3rver;
    let restoreEnv: () => void = () => undefined;
    const bucket = `listing-${randomUUID().slice(0, 8)}`;

    before(async function () {
      s3rver = await startS3rver();
      // Credentials reach the store only through the SDK's default chain: here, the environment.
      restoreEnv = withProcessEnv(s3rver.env);
      await s3rver.createBucket(bucket);
    });

    after(async function () {
      restoreEnv();
      await s3rver?.stop();
    });

    listsBackupsLikeAnyStore(() => ({
      async newStore({ atRoot = false, pageSize } = {}) {
        let name = bucket;
        let prefix = `${randomUUID().slice(0, 8)}/team/bq`;
        if (atRoot) {
          name = `listing-root-${randomUUID().slice(0, 8)}`;
          await s3rver.createBucket(name);
          prefix = '';
        }
        const store = s3Store({
          bucket: name,
          ...(prefix ? { prefix } : {}),
          endpoint: s3rver.endpoint,
          forcePathStyle: true,
          ...(pageSize ? { pageSize } : {}),
        });
        return { store, base: `s3://${name}${prefix ? `/${prefix}` : ''}` };
      },
    }));
  });

  describe('Azure Blob Storage (Azurite)', function () {
    let azurite: RunningAzurite;
    const container = `listing-${randomUUID().slice(0, 8)}`;

    before(async function () {
      azurite = await startAzurite();
      await azurite.createContainer(container);
    });

    after(async function () {
      await azurite?.stop();
    });

    listsBackupsLikeAnyStore(() => ({
      async newStore({ atRoot = false, pageSize } = {}) {
        let name = container;
        let prefix = `${randomUUID().slice(0, 8)}/team/bq`;
        if (atRoot) {
          name = `listing-root-${randomUUID().slice(0, 8)}`;
          await azurite.createContainer(name);
          prefix = '';
        }
        const store = azureStore(
          {
            accountUrl: azurite.accountUrl,
            container: name,
            ...(prefix ? { prefix } : {}),
            ...(pageSize ? { pageSize } : {}),
          },
          azurite.env,
        );
        return { store, base: `${azurite.accountUrl}/${name}${prefix ? `/${prefix}` : ''}` };
      },
    }));
  });

  describe('files (a temporary directory)', function () {
    let root: string;

    before(async function () {
      root = await mkdtemp(join(tmpdir(), 'listing-'));
    });

    after(async function () {
      await rm(root, { recursive: true, force: true });
    });

    listsBackupsLikeAnyStore(() => ({
      newStore({ atRoot = false } = {}) {
        const directory = atRoot ? join(root, randomUUID()) : join(root, randomUUID(), 'team', 'bq');
        return Promise.resolve({
          store: fileStore('/', directory, [root]),
          base: pathToFileURL(directory).href,
        });
      },
    }));
  });
});
