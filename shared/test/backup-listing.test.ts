import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import { Storage, type Bucket } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import {
  findStoredBackup,
  listOriginalLayoutTables,
  listStoredBackups,
  backupFolderName,
  createSilentLogger,
  MANIFEST_VERSION,
  timestampMillis,
  type BackupManifest,
  type Logger,
  type StoredBackup,
} from '../src/index.js';

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

describe('listing the backups stored under a URI (Cloud Storage emulator)', function () {
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let bucket: Bucket;
  let uri: string;
  let requests: number;

  const put = (name: string, contents: string | object = 'x'): Promise<void> =>
    bucket
      .file(`team/bq/backups/${name}`)
      .save(typeof contents === 'string' ? contents : JSON.stringify(contents), { resumable: false });
  const bqbr = (timestamp: string, projectId: string, status: string): Promise<void> =>
    put(
      `${timestamp}/${projectId}/_backup.json`,
      manifest(projectId, timestamp, status, `${uri}/backups/${timestamp}`),
    );

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
    const name = `listing-${randomUUID().slice(0, 8)}`;
    [bucket] = await storage.createBucket(name);
    uri = `gs://${name}/team/bq`;

    await Promise.all([
      // T1: alpha in the original service's layout, beta and delta bqbr, gamma original.
      put(`${T1}/${ALPHA}/sales/orders-000000000000.avro`, 'a'.repeat(100)),
      put(`${T1}/${ALPHA}/sales/orders-000000000001.avro`, 'b'.repeat(50)),
      put(`${T1}/${ALPHA}/sales/customer-list-000000000000.csv.gz`, 'c'.repeat(30)),
      put(`${T1}/${ALPHA}/sales/customer-list-000000000001.csv.gz`, 'd'.repeat(20)),
      put(`${T1}/${ALPHA}/sales/notes.txt`),
      put(`${T1}/${ALPHA}/hr/staff-*.parquet`, 'e'.repeat(7)),
      put(`${T1}/${ALPHA}/hr/events-000000000000.json`, 'f'.repeat(3)),
      bqbr(T1, BETA, 'SUCCEEDED'),
      put(`${T1}/${BETA}/sales/orders/_table.json`, '{}'),
      put(`${T1}/${GAMMA}/web/visits-000000000000.parquet`),
      // T2: alpha bqbr, beta original (newer than beta's bqbr backup), gamma bqbr but FAILED.
      bqbr(T2, ALPHA, 'SUCCEEDED'),
      put(`${T2}/${ALPHA}/sales/orders/data-000000000000.avro`),
      put(`${T2}/${ALPHA}/sales/orders/_table.json`, '{}'),
      put(`${T2}/${BETA}/sales/orders-000000000000.avro`),
      bqbr(T2, GAMMA, 'FAILED'),
      // T3: alpha FAILED, beta still running (table manifests, no _backup.json), gamma original.
      bqbr(T3, ALPHA, 'FAILED'),
      put(`${T3}/${BETA}/sales/orders/_table.json`, '{}'),
      put(`${T3}/${GAMMA}/web/visits-000000000000.parquet`),
      // T4: alpha crashed, beta with a _backup.json that does not decode, delta running.
      put(`${T4}/${ALPHA}/sales/orders/data-000000000000.avro`),
      put(`${T4}/${ALPHA}/sales/orders/_table.json`, '{}'),
      put(`${T4}/${BETA}/_backup.json`, { kind: 'bqbr#backup', status: 'SUCCEEDED' }),
      put(`${T4}/${DELTA}/sales/orders/data-000000000000.avro`),
      // Not timestamps: ignored.
      put('notes/readme.txt'),
      put('20241399_000000/proj-alpha/_backup.json', '{}'),
    ]);
  });

  after(async function () {
    await emulator?.close();
  });

  beforeEach(() => {
    requests = 0;
  });

  it('lists every backup newest first, telling bqbr, original and incomplete folders apart', async function () {
    const backups = await listStoredBackups(storage, uri);
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
      folder: `${uri}/backups/${T2}/${ALPHA}`,
    });
    expect(t2alpha.manifest?.summary.rows).to.equal(10);
    const broken = backups.find((b) => b.timestamp === T4 && b.projectId === BETA)!;
    expect(broken.manifest).to.equal(undefined);
    expect(broken.problem)
      .to.match(/_backup\.json/)
      .and.to.match(/operationId/);
  });

  it("lists one project's backups", async function () {
    const backups = await listStoredBackups(storage, uri, { projectId: ALPHA });
    expect(summarize(backups)).to.deep.equal([
      `${T4} ${ALPHA} incomplete`,
      `${T3} ${ALPHA} bqbr FAILED`,
      `${T2} ${ALPHA} bqbr SUCCEEDED`,
      `${T1} ${ALPHA} original`,
    ]);
    expect(await listStoredBackups(storage, uri, { projectId: 'proj-nobody' })).to.deep.equal([]);
  });

  it('finds a backup by timestamp in at most two requests, and nothing where there is none', async function () {
    const found = await findStoredBackup(storage, uri, ALPHA, T2);
    expect(found?.layout).to.equal('bqbr');
    expect(found?.manifest?.operationId).to.equal(`op-${ALPHA}-${T2}`);
    expect(requests).to.equal(1);

    requests = 0;
    expect((await findStoredBackup(storage, uri, ALPHA, T1))?.layout).to.equal('original');
    expect(requests).to.equal(2);

    expect((await findStoredBackup(storage, uri, BETA, T3))?.layout).to.equal('incomplete');
    expect(await findStoredBackup(storage, uri, ALPHA, '20240501_000000')).to.equal(undefined);
    expect(await findStoredBackup(storage, uri, 'proj-nobody', T1)).to.equal(undefined);
    expect(await findStoredBackup(storage, `gs://${bucket.name}/elsewhere`, ALPHA, T1)).to.equal(undefined);
    let error: unknown;
    await findStoredBackup(storage, uri, ALPHA, '2024-01-01').catch((err: unknown) => (error = err));
    expect(error).to.be.instanceOf(RangeError);
  });

  it('resolves latest to the newest bqbr backup that did not fail, never an incomplete one', async function () {
    const alpha = await findStoredBackup(storage, uri, ALPHA, 'latest');
    expect([alpha?.timestamp, alpha?.layout]).to.deep.equal([T2, 'bqbr']);
    // One listing of the timestamps, then the manifests of T4, T3 and T2 only.
    expect(requests).to.equal(4);
    // Beta: T4 undecodable, T3 running, T2 original: the older bqbr backup of T1 wins.
    const beta = await findStoredBackup(storage, uri, BETA, 'latest');
    expect([beta?.timestamp, beta?.layout, beta?.manifest?.status]).to.deep.equal([T1, 'bqbr', 'SUCCEEDED']);
  });

  it('resolves latest to the newest original-layout backup when no bqbr backup is usable', async function () {
    // Gamma: T2 bqbr FAILED, original at T3 and T1.
    const gamma = await findStoredBackup(storage, uri, GAMMA, 'latest');
    expect([gamma?.timestamp, gamma?.layout]).to.deep.equal([T3, 'original']);
    // Delta: only a running backup.
    expect(await findStoredBackup(storage, uri, DELTA, 'latest')).to.equal(undefined);
    expect(await findStoredBackup(storage, uri, 'proj-nobody', 'latest')).to.equal(undefined);
  });

  it("groups an original-layout backup's shards into tables", async function () {
    const tables = await listOriginalLayoutTables(storage, `${uri}/backups/${T1}/${ALPHA}`);
    const base = `${uri}/backups/${T1}/${ALPHA}`;
    expect(tables).to.deep.equal([
      {
        datasetId: 'hr',
        tableId: 'events',
        format: 'JSON',
        compressed: false,
        files: [{ uri: `${base}/hr/events-000000000000.json`, bytes: 3 }],
      },
      {
        datasetId: 'hr',
        tableId: 'staff',
        format: 'PARQUET',
        compressed: false,
        files: [{ uri: `${base}/hr/staff-*.parquet`, bytes: 7 }],
      },
      {
        datasetId: 'sales',
        tableId: 'customer-list',
        format: 'CSV',
        compressed: true,
        files: [
          { uri: `${base}/sales/customer-list-000000000000.csv.gz`, bytes: 30 },
          { uri: `${base}/sales/customer-list-000000000001.csv.gz`, bytes: 20 },
        ],
      },
      {
        datasetId: 'sales',
        tableId: 'orders',
        format: 'AVRO',
        compressed: false,
        files: [
          { uri: `${base}/sales/orders-000000000000.avro`, bytes: 100 },
          { uri: `${base}/sales/orders-000000000001.avro`, bytes: 50 },
        ],
      },
    ]);
  });

  it('finds backups stored at the root of a bucket', async function () {
    const name = `listing-root-${randomUUID().slice(0, 8)}`;
    const [root] = await storage.createBucket(name);
    await root.file(`backups/${T1}/${ALPHA}/sales/orders-000000000000.avro`).save('x', { resumable: false });
    const backups = await listStoredBackups(storage, `gs://${name}`);
    expect(summarize(backups)).to.deep.equal([`${T1} ${ALPHA} original`]);
    expect(backups[0]?.folder).to.equal(`gs://${name}/backups/${T1}/${ALPHA}`);
    expect((await findStoredBackup(storage, `gs://${name}/`, ALPHA, 'latest'))?.timestamp).to.equal(T1);
  });

  it('reads timestamp folders past the first page of a listing (1000 prefixes)', async function () {
    this.timeout(120_000);
    const name = `listing-pages-${randomUUID().slice(0, 8)}`;
    const [many] = await storage.createBucket(name);
    const hourly = Array.from({ length: 1001 }, (_, i) =>
      backupFolderName(new Date(Date.UTC(2020, 0, 1) + i * 3_600_000)),
    );
    for (let i = 0; i < hourly.length; i += 50)
      await Promise.all(
        hourly
          .slice(i, i + 50)
          .map((ts) => many.file(`backups/${ts}/${BETA}/_backup.json`).save('{}', { resumable: false })),
      );
    // Alpha's only backup is the oldest timestamp: on the first page, which autoPaginate would drop.
    await many
      .file(`backups/${hourly[0]}/${ALPHA}/_backup.json`)
      .save(JSON.stringify(manifest(ALPHA, hourly[0]!, 'SUCCEEDED', `gs://${name}/backups/${hourly[0]}`)), {
        resumable: false,
      });
    const latest = await findStoredBackup(storage, `gs://${name}`, ALPHA, 'latest');
    expect([latest?.timestamp, latest?.layout]).to.deep.equal([hourly[0], 'bqbr']);
  });
});
