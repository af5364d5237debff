// Prune, end to end (dispatcher and workers as processes), at simulated dates: the services and a BigQuery
// emulator of their own run on a fake clock (libfaketime, test/support/faketime.ts) that the test moves a
// day at a time. Ten daily backups on every kind of location, `keepDaily 3, keepWeekly 2` keeps exactly the
// expected four, the catalogue agrees, and each kept backup still restores; then a prune whose worker is
// SIGKILLed mid-delete, rerun: nothing half deleted remains and nothing kept was touched.
import {
  BACKUP_MANIFEST,
  PRUNE_MARKER,
  listStoredBackups,
  type BackupCatalogEntry,
  type BackupStore,
  type OperationDoc,
  type TaskDoc,
} from '@bqbr/shared';
import { BigQuery } from '@google-cloud/bigquery';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import {
  publishRequest,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';
import {
  fakeClock,
  fakedServiceEnv,
  libfaketime,
  reserveBigQueryPort,
  startFakedBigQuery,
  type FakeClock,
} from '../support/faketime.js';
import { STORE_KINDS, StoreLocations, type StoreKind } from '../support/store-locations.js';

/** Noon UTC of Monday 2026-11-23 plus `day` days: ten days span ISO weeks 48 (to Sun 29) and 49. */
const dayAt = (day: number, hours = 12): Date => new Date(Date.UTC(2026, 10, 23 + day, hours));
const DAYS = 10;
/** keepDaily 3 keeps days 9, 8, 7 (2 Dec, 1 Dec, 30 Nov); keepWeekly 2 the newest of W49 (day 9) and W48 (day 6). */
const KEPT_DAYS = [9, 8, 7, 6];

const why = (operation: OperationDoc, tasks: readonly TaskDoc[]): string =>
  JSON.stringify({
    error: operation.error,
    failed: tasks.filter((t) => t.status === 'FAILED').map((t) => ({ task: t.taskId, error: t.error })),
  });

/** Every object under a folder: path, size and MD5, to tell whether anything changed. */
const snapshotOf = async (store: BackupStore, prefix: string): Promise<string[]> =>
  (await store.list(prefix)).map((o) => `${o.path} ${o.bytes} ${o.md5 ?? ''}`);

const folderOf = (operation: OperationDoc): string => operation.location!.split('/').at(-1)!;

describe('prune end to end at simulated dates, on every kind of location (gcs, s3, azure, file)', function () {
  this.timeout(300_000);
  let clock: FakeClock;
  let environment: Environment;
  let bigquery: { url: string; process: { stop(): Promise<void> } } | undefined;
  let locations: StoreLocations;
  const client = (projectId: string): BigQuery =>
    new BigQuery({ apiEndpoint: bigquery!.url, projectId, authClient: new PassThroughClient() });

  before(async function () {
    if (libfaketime() === undefined) throw new Error('libfaketime is required: apt-get install -y faketime');
    clock = await fakeClock();
    const port = await reserveBigQueryPort();
    const faked = fakedServiceEnv(clock, port);
    environment = await startEnvironment({
      destinations: true,
      workers: 2,
      ackDeadlineSeconds: 10,
      dispatcherEnv: faked,
      workerEnv: faked,
    });
    bigquery = await startFakedBigQuery(clock, port, environment.env['STORAGE_EMULATOR_HOST']!);
    locations = new StoreLocations(environment);
    await locations.prepare();
  });

  after(async function () {
    await environment?.stop();
    await bigquery?.process.stop();
    await clock?.remove();
  });

  /** Publishes a request and waits for its operation to end. */
  async function run(body: Record<string, unknown>, kind: string): Promise<OperationDoc> {
    const operationId = body['operationId'] as string;
    await publishRequest(environment, { kind, ...body }, { kind });
    return waitForOperation(environment, operationId, undefined, 180_000);
  }

  async function succeeded(body: Record<string, unknown>, kind: string): Promise<OperationDoc> {
    const operation = await run(body, kind);
    const tasks = await tasksOf(environment, operation.operationId);
    expect(operation.status, why(operation, tasks)).to.equal('SUCCEEDED');
    return operation;
  }

  const backup = (projectId: string, kind: StoreKind, prefix: string): Promise<OperationDoc> =>
    succeeded(
      {
        operationId: unique(`b_${kind}`),
        bigQuery: { projectId },
        backupStorage: locations.storage(kind, prefix, { exportOptions: { format: 'AVRO' } }),
      },
      'backup',
    );

  const prune = (
    projectId: string,
    kind: StoreKind,
    prefix: string,
    retention: object,
  ): Promise<OperationDoc> =>
    run(
      {
        operationId: unique(`p_${kind}`),
        bigQuery: { projectId },
        backupStorage: locations.storage(kind, prefix),
        retention,
      },
      'prune',
    );

  const catalogue = async (projectId: string): Promise<BackupCatalogEntry[]> =>
    (await environment.firestore.collection('backups').where('projectId', '==', projectId).get()).docs.map(
      (d) => d.data() as BackupCatalogEntry,
    );

  it('10 daily backups, keepDaily 3 and keepWeekly 2: exactly the expected ones stay, the catalogue agrees, each restores', async function () {
    const projectId = unique('src').replaceAll('_', '-');
    const prefixes = Object.fromEntries(STORE_KINDS.map((kind) => [kind, unique(kind)])) as Record<
      StoreKind,
      string
    >;
    await clock.set(dayAt(0, 9));
    const source = client(projectId);
    const [dataset] = await source.createDataset('sales');
    const [table] = await dataset.createTable('daily', {
      schema: { fields: [{ name: 'day', type: 'INT64' }] },
    });

    // One row a day, then that day's backup on every kind of location at once.
    const folders: Record<StoreKind, string[]> = { gcs: [], s3: [], azure: [], file: [] };
    for (let day = 0; day < DAYS; day++) {
      await clock.set(dayAt(day, 11));
      await table.insert([{ day }]);
      await clock.set(dayAt(day));
      const made = await Promise.all(STORE_KINDS.map((kind) => backup(projectId, kind, prefixes[kind])));
      STORE_KINDS.forEach((kind, i) => folders[kind].push(folderOf(made[i]!)));
      expect(made[0]!.snapshotTime!.slice(0, 10), `day ${day}`).to.equal(
        dayAt(day).toISOString().slice(0, 10),
      );
    }

    await clock.set(dayAt(DAYS - 1, 13));
    const pruned = await Promise.all(
      STORE_KINDS.map((kind) => prune(projectId, kind, prefixes[kind], { keepDaily: 3, keepWeekly: 2 })),
    );
    const entries = await catalogue(projectId);
    for (const [i, kind] of STORE_KINDS.entries()) {
      const operation = pruned[i]!;
      const tasks = await tasksOf(environment, operation.operationId);
      expect(operation.status, `${kind}: ${why(operation, tasks)}`).to.equal('SUCCEEDED');
      expect(operation.summary, kind).to.deep.include({
        tables: DAYS,
        succeeded: DAYS - 4,
        skipped: 4,
        failed: 0,
      });
      const kept = KEPT_DAYS.map((day) => folders[kind][day]!);
      const store = locations.store(kind, prefixes[kind]);
      const listed = await listStoredBackups(store, { projectId });
      expect(
        listed.map((b) => `${b.timestamp} ${b.layout}`),
        kind,
      ).to.deep.equal(kept.map((f) => `${f} bqbr`));
      // Nothing of a deleted backup is left anywhere, marker included.
      const left = (await store.list('backups/')).map((o) => o.path.split('/')[1]);
      expect([...new Set(left)].sort(), kind).to.deep.equal([...kept].sort());
      // The catalogue: every backup of this location once, the deleted ones DELETED by this prune.
      const here = entries.filter((e) => e.location.startsWith(store.uri('backups/')));
      expect(here, kind).to.have.length(DAYS);
      for (const entry of here) {
        const folder = entry.location.split('/').at(-1)!;
        if (kept.includes(folder)) expect(entry.state ?? 'PRESENT', `${kind} ${folder}`).to.equal('PRESENT');
        else
          expect(entry, `${kind} ${folder}`).to.deep.include({
            state: 'DELETED',
            deletedBy: operation.operationId,
          });
      }
    }

    // Each kept backup restores: the rows of its day and those before.
    for (const day of KEPT_DAYS) {
      await Promise.all(
        STORE_KINDS.map(async (kind) => {
          const targetProject = unique('dst').replaceAll('_', '-');
          await succeeded(
            {
              operationId: unique(`r_${kind}`),
              bigQuery: { projectId: targetProject },
              restoreStorage: {
                [`${kind}Options`]: {
                  ...locations.fields(kind, prefixes[kind]),
                  backupTimestamp: folders[kind][day],
                  projectIdOfBackup: projectId,
                },
              },
            },
            'restore',
          );
          const [rows] = await client(targetProject).dataset('restored_sales').table('daily').getRows();
          const days = rows.map((r) => Number((r as { day: unknown }).day)).sort((a, b) => a - b);
          expect(days, `${kind} day ${day}`).to.deep.equal(Array.from({ length: day + 1 }, (_, i) => i));
        }),
      );
    }
  });

  it('a prune whose worker is killed mid-delete, rerun: nothing half deleted remains, nothing kept was touched', async function () {
    const projectId = unique('kill').replaceAll('_', '-');
    const prefix = unique('kill');
    const store = locations.store('gcs', prefix);
    await clock.set(dayAt(DAYS, 8));
    const [dataset] = await client(projectId).createDataset('bulk');
    const [table] = await dataset.createTable('many', { schema: { fields: [{ name: 'n', type: 'INT64' }] } });
    await table.insert(Array.from({ length: 600 }, (_, n) => ({ n })));
    // One row per file: the old backup has 600 files to delete, time enough to kill the worker among them.
    await fetch(`${bigquery!.url}/emulator/v1/controls`, {
      method: 'PATCH',
      body: JSON.stringify({ exportShardRows: 1 }),
    });
    await clock.set(dayAt(DAYS, 9));
    const old = folderOf(await backup(projectId, 'gcs', prefix));
    await clock.set(dayAt(DAYS, 10));
    const kept = folderOf(await backup(projectId, 'gcs', prefix));
    await fetch(`${bigquery!.url}/emulator/v1/controls`, {
      method: 'PATCH',
      body: JSON.stringify({ exportShardRows: 1_000_000 }),
    });
    const keptBefore = await snapshotOf(store, `backups/${kept}/`);
    const oldFiles = (await store.list(`backups/${old}/`)).length;
    expect(oldFiles).to.be.greaterThan(600);

    await clock.set(dayAt(DAYS, 11));
    const firstId = unique('p_killed');
    await publishRequest(
      environment,
      {
        kind: 'prune',
        operationId: firstId,
        bigQuery: { projectId },
        backupStorage: locations.storage('gcs', prefix),
        retention: { keepLast: 1 },
      },
      { kind: 'prune' },
    );
    // The marker goes first, then the files in path order: once the first file is gone, deletes are under way.
    const marker = `backups/${old}/${projectId}/${PRUNE_MARKER}`;
    const firstFile = `backups/${old}/${projectId}/bulk/many/data-000000000000.avro`;
    const deadline = Date.now() + 60_000;
    while ((await store.stat(marker)) === undefined || (await store.stat(firstFile)) !== undefined) {
      if (Date.now() > deadline) throw new Error(`the prune did not start deleting within 60 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
    for (const worker of environment.workers) worker.killNow();
    await Promise.all(environment.workers.map((w) => w.stop()));

    // Half deleted: the marker and _backup.json are there, and the listing says so.
    const half = await store.list(`backups/${old}/`);
    expect(half.length, 'files left after the kill').to.be.lessThan(oldFiles).and.greaterThan(2);
    expect(half.map((o) => o.path)).to.include(marker);
    expect(half.map((o) => o.path)).to.include(`backups/${old}/${projectId}/${BACKUP_MANIFEST}`);
    const listed = await listStoredBackups(store, { projectId });
    expect(listed.map((b) => `${b.timestamp} ${b.layout}`)).to.deep.equal([`${kept} bqbr`, `${old} pruning`]);

    // Rerun: new workers, and the prune again (the killed one's task is redelivered too).
    environment.workers.length = 0;
    await environment.startWorker();
    await environment.startWorker();
    const rerun = await prune(projectId, 'gcs', prefix, { keepLast: 1 });
    const first = await waitForOperation(environment, firstId, undefined, 120_000);
    for (const operation of [first, rerun]) {
      const tasks = await tasksOf(environment, operation.operationId);
      expect(operation.status, why(operation, tasks)).to.equal('SUCCEEDED');
    }
    expect(await store.list(`backups/${old}/`)).to.deep.equal([]);
    expect(await snapshotOf(store, `backups/${kept}/`), 'the kept backup').to.deep.equal(keptBefore);
    expect(
      (await listStoredBackups(store, { projectId })).map((b) => `${b.timestamp} ${b.layout}`),
    ).to.deep.equal([`${kept} bqbr`]);
    const entries = await catalogue(projectId);
    const stateOf = (folder: string): string | undefined =>
      entries.find((e) => e.location.endsWith(`/${folder}`))?.state;
    expect([stateOf(old), stateOf(kept) ?? 'PRESENT']).to.deep.equal(['DELETED', 'PRESENT']);
  });
});
