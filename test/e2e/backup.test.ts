// Backup, end to end: requests published to bqbr-requests, the dispatcher and workers running as
// separate processes against the local stack, outcomes read from Cloud Storage, Firestore and BigQuery.
import { seedDemoData, type DemoTable } from '@bqbr/local/demo-data';
import {
  BackupManifest,
  TableManifest,
  backupFolderName,
  backupManifestUri,
  decode,
  findStoredBackup,
  gcsStore,
  parseGcsUri,
  tableFolder,
  tableManifestUri,
  type OperationDoc,
} from '@bqbr/shared';
import { expect } from 'chai';
import {
  listObjects,
  publishRequest,
  readJsonObject,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';

const BUCKET = 'e2e-backups';

interface Seeded {
  readonly projectId: string;
  readonly tables: DemoTable[];
}

async function seed(environment: Environment): Promise<Seeded> {
  const projectId = unique('src').replaceAll('_', '-');
  const { tables } = await seedDemoData(environment.bigquery(projectId));
  const [exists] = await environment.storage.bucket(BUCKET).exists();
  if (!exists) await environment.storage.createBucket(BUCKET);
  return { projectId, tables };
}

const backupRequest = (
  projectId: string,
  uri: string,
  exportOptions: object,
  extra: object = {},
): object => ({
  bigQuery: { projectId, ...((extra as { bigQuery?: object }).bigQuery ?? {}) },
  backupStorage: { gcsOptions: { uri, exportOptions: { overwrite: true, ...exportOptions } } },
  ...Object.fromEntries(Object.entries(extra).filter(([k]) => k !== 'bigQuery')),
});

/** Publishes a backup of `tablesToBackup` to gs://BUCKET/<operationId>, with that operation id. */
async function submitBackup(
  environment: Environment,
  projectId: string,
  operationId: string,
  exportOptions: object,
  tablesToBackup: object[],
): Promise<void> {
  await publishRequest(
    environment,
    backupRequest(projectId, `gs://${BUCKET}/${operationId}`, exportOptions, {
      operationId,
      bigQuery: { tablesToBackup },
    }),
  );
}

async function readManifest(environment: Environment, uri: string): Promise<TableManifest> {
  const { bucket, name } = parseGcsUri(uri);
  return decode(TableManifest, await readJsonObject(environment, bucket, name), uri);
}

describe('backup end to end (dispatcher and worker as processes, pull mode)', function () {
  this.timeout(180_000);
  let environment: Environment;
  let seeded: Seeded;

  before(async function () {
    environment = await startEnvironment();
    seeded = await seed(environment);
  });

  after(async function () {
    await environment?.stop();
  });

  for (const format of ['AVRO', 'PARQUET', 'JSON'] as const) {
    it(`backs up a multi-dataset project in ${format}: files and manifests at the documented paths`, async function () {
      const uri = `gs://${BUCKET}/${unique(format.toLowerCase())}`;
      const messageId = await publishRequest(environment, backupRequest(seeded.projectId, uri, { format }));
      // No operationId in the request: the message id names the operation.
      const operation = await waitForOperation(environment, messageId);
      expect(operation.status).to.equal('SUCCEEDED');
      const exported = seeded.tables.filter((t) => t.type === 'TABLE');
      const views = seeded.tables.filter((t) => t.type === 'VIEW');
      expect(operation.summary).to.include({
        tables: seeded.tables.length,
        succeeded: exported.length,
        failed: 0,
        skipped: views.length,
        rows: exported.reduce((n, t) => n + t.rows, 0),
      });
      const snapshotMillis = operation.snapshotMillis!;
      for (const table of exported) {
        const folder = tableFolder(
          uri,
          snapshotMillis,
          seeded.projectId,
          table.datasetId,
          table.tableId,
          messageId,
        );
        const manifest = await readManifest(environment, tableManifestUri(folder));
        expect(manifest.numRows, `${table.tableId} rows`).to.equal(table.rows);
        expect(manifest.snapshotMillis).to.equal(snapshotMillis);
        expect(manifest.export.format).to.equal(format);
        const { bucket, name } = parseGcsUri(folder);
        const objects = await listObjects(environment, bucket, `${name}/`);
        for (const file of manifest.files) {
          expect(file.uri.startsWith(`${folder}/data-`), file.uri).to.equal(true);
          expect(objects.get(parseGcsUri(file.uri).name), file.uri).to.equal(file.bytes);
        }
        expect(manifest.files.length).to.be.greaterThan(0);
      }
      const customers = await readManifest(
        environment,
        tableManifestUri(tableFolder(uri, snapshotMillis, seeded.projectId, 'sales', 'customers', messageId)),
      );
      expect(
        customers.schema.fields.map((f) => `${f.name}:${f.type}:${f.mode ?? 'NULLABLE'}`),
      ).to.include.members(['address:RECORD:NULLABLE', 'phones:STRING:REPEATED']);
      const orders = await readManifest(
        environment,
        tableManifestUri(tableFolder(uri, snapshotMillis, seeded.projectId, 'sales', 'orders', messageId)),
      );
      expect(orders.timePartitioning).to.deep.include({ type: 'DAY', field: 'order_date' });
      expect(orders.clustering).to.deep.equal({ fields: ['customer_id'] });
      expect(orders.labels).to.deep.equal({ team: 'sales', demo: 'true' });
      const { bucket, name } = parseGcsUri(
        backupManifestUri(uri, snapshotMillis, seeded.projectId, messageId),
      );
      const backup = decode(BackupManifest, await readJsonObject(environment, bucket, name), '_backup.json');
      expect(backup.operationId).to.equal(messageId);
      expect(backup.tables).to.have.length(seeded.tables.length);
      const catalogue = await environment.firestore.collection('backups').doc(messageId).get();
      expect(catalogue.get('status')).to.equal('SUCCEEDED');
    });
  }

  it('backs up flat tables as CSV, and fails a nested table as CSV per table (PARTIALLY_FAILED)', async function () {
    const uri = `gs://${BUCKET}/${unique('csv')}`;
    const operationId = unique('op');
    await publishRequest(
      environment,
      backupRequest(
        seeded.projectId,
        uri,
        { format: 'CSV', header: true, compression: 'GZIP' },
        {
          operationId,
          bigQuery: {
            tablesToBackup: [{ datasetName: 'sales', tables: ['orders', 'customers', 'refunds'] }],
          },
        },
      ),
    );
    const operation = await waitForOperation(environment, operationId);
    expect(operation.status).to.equal('PARTIALLY_FAILED');
    const tasks = await tasksOf(environment, operationId);
    const byTable = new Map(tasks.map((t) => [t.table.tableId, t]));
    expect(byTable.get('orders')?.status).to.equal('SUCCEEDED');
    expect(byTable.get('refunds')?.status).to.equal('SUCCEEDED');
    expect(byTable.get('customers')?.status).to.equal('FAILED');
    expect(byTable.get('customers')?.error?.reason).to.equal('invalid');
    expect(byTable.get('customers')?.error?.message).to.match(/nested|repeated/i);
  });

  it('reads every table at the snapshot instant: rows written after it are not in the backup', async function () {
    const dataset = environment.bigquery(seeded.projectId).dataset('analytics');
    const [table] = await dataset.createTable(unique('pit'), {
      schema: { fields: [{ name: 'n', type: 'INT64' }] },
    });
    await table.insert([{ n: 1 }, { n: 2 }]);
    // backupTime has whole seconds: leave a clear second between the two writes.
    await new Promise((r) => setTimeout(r, 1_100));
    const snapshot = new Date(Math.floor(Date.now() / 1000) * 1000);
    await new Promise((r) => setTimeout(r, 1_100));
    await table.insert([{ n: 3 }]);
    const operationId = unique('pit');
    const uri = `gs://${BUCKET}/${operationId}`;
    // Europe/Berlin: the request names local wall-clock time.
    const local = new Intl.DateTimeFormat('sv-SE', {
      timeZone: 'Europe/Berlin',
      dateStyle: 'short',
      timeStyle: 'medium',
    })
      .format(snapshot)
      .replace(' ', 'T');
    await publishRequest(
      environment,
      backupRequest(
        seeded.projectId,
        uri,
        { format: 'JSON' },
        {
          operationId,
          bigQuery: { tablesToBackup: [{ datasetName: 'analytics', tables: [table.id!] }] },
          backupTime: { localDateTime: local, timezone: 'Europe/Berlin' },
        },
      ),
    );
    const operation = await waitForOperation(environment, operationId);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.snapshotMillis).to.equal(snapshot.getTime());
    const folder = tableFolder(
      uri,
      snapshot.getTime(),
      seeded.projectId,
      'analytics',
      table.id!,
      operationId,
    );
    const manifest = await readManifest(environment, tableManifestUri(folder));
    expect(manifest.numRows).to.equal(2);
    const values: string[] = [];
    for (const file of manifest.files) {
      const { bucket, name } = parseGcsUri(file.uri);
      const [bytes] = await environment.storage.bucket(bucket).file(name).download();
      for (const line of bytes.toString('utf8').split('\n').filter(Boolean))
        values.push((JSON.parse(line) as { n: string }).n);
    }
    expect(values.sort()).to.deep.equal(['1', '2']);
  });

  it('records a table failing permanently and retries transient job failures to success', async function () {
    const operationId = unique('faults');
    await environment.fault({
      jobType: 'EXTRACT',
      tableId: 'daily_2026_11_20',
      reason: 'invalid',
      message: 'Injected: bad table',
      fraction: 1,
    });
    await environment.fault({
      jobType: 'EXTRACT',
      tableId: 'daily_2026_11_21',
      reason: 'backendError',
      count: 2,
    });
    try {
      await submitBackup(environment, seeded.projectId, operationId, { format: 'AVRO' }, [
        { datasetName: 'analytics', tableFilter: 'daily_*' },
      ]);
      const operation = await waitForOperation(environment, operationId);
      expect(operation.status).to.equal('PARTIALLY_FAILED');
      expect(operation.summary).to.include({ tables: 3, succeeded: 2, failed: 1 });
      const byTable = new Map((await tasksOf(environment, operationId)).map((t) => [t.table.tableId, t]));
      expect(byTable.get('daily_2026_11_20')?.status).to.equal('FAILED');
      expect(byTable.get('daily_2026_11_20')?.error).to.deep.include({
        reason: 'invalid',
        message: 'Injected: bad table',
      });
      expect(byTable.get('daily_2026_11_21')?.status).to.equal('SUCCEEDED');
      expect(byTable.get('daily_2026_11_21')?.jobAttempt).to.equal(2);
      expect(byTable.get('daily_2026_11_21')?.jobIds).to.have.length(3);
    } finally {
      await environment.controls({ faults: [] });
    }
  });

  it('exports each table exactly once when every task message is delivered twice', async function () {
    const operationId = unique('dup');
    // A tap on bqbr-tasks publishes every task message a second time, as an at-least-once redelivery would.
    const tap = environment.pubsub.topic('bqbr-tasks').subscription(unique('tap'));
    await tap.create();
    tap.on('message', (message: { data: Buffer; attributes: Record<string, string>; ack(): void }) => {
      message.ack();
      if (message.attributes['e2eDuplicate'] === undefined)
        void environment.pubsub
          .topic('bqbr-tasks')
          .publishMessage({ data: message.data, attributes: { ...message.attributes, e2eDuplicate: '1' } });
    });
    try {
      const before = await environment.extractJobsByTable();
      await submitBackup(environment, seeded.projectId, operationId, { format: 'PARQUET' }, [
        { datasetName: 'sales' },
      ]);
      const operation = await waitForOperation(environment, operationId);
      expect(operation.status).to.equal('SUCCEEDED');
      // Let the duplicates drain, then count jobs.
      await new Promise((r) => setTimeout(r, 1_500));
      const after = await environment.extractJobsByTable();
      for (const table of ['orders', 'customers', 'refunds'])
        expect((after.get(table) ?? 0) - (before.get(table) ?? 0), table).to.equal(1);
    } finally {
      await tap.close();
      await tap.delete();
    }
  });

  it('writes two backups of one project in the same second to folders of their own; latest restores the newer', async function () {
    // Both name the same whole second, as two scheduled runs (or a repeated backupTime) would.
    const snapshot = new Date(Math.floor(Date.now() / 1000) * 1000);
    const backupTime = { localDateTime: snapshot.toISOString().slice(0, 19), timezone: 'UTC' };
    const uri = `gs://${BUCKET}/${unique('twins')}`;
    const ids = [unique('twin_a'), unique('twin_b')];
    await Promise.all(
      ids.map((operationId) =>
        publishRequest(
          environment,
          backupRequest(
            seeded.projectId,
            uri,
            { format: 'AVRO' },
            {
              operationId,
              bigQuery: { tablesToBackup: [{ datasetName: 'sales', tables: ['orders', 'refunds'] }] },
              backupTime,
            },
          ),
        ),
      ),
    );
    const operations = await Promise.all(ids.map((id) => waitForOperation(environment, id)));
    const store = gcsStore(environment.storage, uri);
    const manifests: BackupManifest[] = [];
    for (const operation of operations) {
      expect(operation.status, JSON.stringify(operation.error)).to.equal('SUCCEEDED');
      expect(operation.snapshotMillis).to.equal(snapshot.getTime());
      const folder = backupFolderName(snapshot, operation.operationId);
      expect(operation.location).to.equal(`${uri}/backups/${folder}`);
      const { bucket, name } = parseGcsUri(
        backupManifestUri(uri, snapshot.getTime(), seeded.projectId, operation.operationId),
      );
      const manifest = decode(
        BackupManifest,
        await readJsonObject(environment, bucket, name),
        '_backup.json',
      );
      expect(manifest.operationId).to.equal(operation.operationId);
      // Every file of its tables lies in its own folder: nothing of the other backup mixed in.
      for (const table of manifest.tables) {
        const files = (await readManifest(environment, table.manifest!)).files;
        expect(files.length, `${table.tableId} files`).to.be.greaterThan(0);
        for (const file of files)
          expect(file.uri.startsWith(`${operation.location!}/`), file.uri).to.equal(true);
      }
      // A restore finds each by its folder's name.
      const found = await findStoredBackup(store, seeded.projectId, folder);
      expect([found?.layout, found?.manifest?.operationId]).to.deep.equal(['bqbr', operation.operationId]);
      manifests.push(manifest);
    }
    expect(operations[0]!.location).not.to.equal(operations[1]!.location);

    const restore = async (backupTimestamp: string): Promise<OperationDoc> => {
      const operationId = unique('twin_r');
      await publishRequest(
        environment,
        {
          operationId,
          bigQuery: { projectId: unique('twin-dst').replaceAll('_', '-') },
          restoreStorage: {
            gcsOptions: { uri, backupTimestamp, projectIdOfBackup: seeded.projectId, importOptions: {} },
          },
        },
        { kind: 'restore' },
      );
      return waitForOperation(environment, operationId);
    };
    // latest: the same snapshot instant, so the one that finished last (then the greater folder name).
    const [a, b] = manifests as [BackupManifest, BackupManifest];
    const folderOf = (manifest: BackupManifest): string => backupFolderName(snapshot, manifest.operationId);
    const newer =
      a.finishedAt > b.finishedAt || (a.finishedAt === b.finishedAt && folderOf(a) > folderOf(b)) ? a : b;
    const restored = await restore('latest');
    expect(restored.status, JSON.stringify(restored.error)).to.equal('SUCCEEDED');
    expect(restored.backupFolder).to.equal(`${uri}/backups/${folderOf(newer)}/${seeded.projectId}`);
    expect(restored.summary).to.include({ tables: 2, succeeded: 2 });
    // The plain second names both: refused, naming each folder.
    const ambiguous = await restore(backupFolderName(snapshot));
    expect(ambiguous.status).to.equal('FAILED');
    expect(ambiguous.error?.reason).to.equal('invalid');
    for (const operation of operations)
      expect(ambiguous.error?.message).to.contain(backupFolderName(snapshot, operation.operationId));
  });
});

describe('backup end to end: a worker killed mid-task', function () {
  this.timeout(240_000);
  let environment: Environment;

  before(async function () {
    // Push mode: the kill breaks the push request in flight and Pub/Sub retries it (after 1-5 s here) to the
    // replacement worker on the same endpoint. (With streaming pull the redelivery waits for the dead
    // stream's lease to run out, which the Pub/Sub emulator sometimes never does after a SIGKILL.)
    environment = await startEnvironment({ workerMode: 'push', ackDeadlineSeconds: 20, jobWaitSeconds: 10 });
  });

  after(async function () {
    await environment?.stop();
  });

  it('completes with one extract job per table after SIGKILL of the worker', async function () {
    const seeded = await seed(environment);
    await environment.controls({ jobLatencyMs: { EXTRACT: 3_000 } });
    const operationId = unique('kill');
    await submitBackup(environment, seeded.projectId, operationId, { format: 'AVRO' }, [
      { datasetName: 'sales', tables: ['orders', 'customers'] },
    ]);
    // Kill the worker once it is inside a task (a job started, not finished).
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const tasks = await tasksOf(environment, operationId);
      if (tasks.some((t) => t.status === 'RUNNING' && t.jobIds.length > 0)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    environment.workers[0]!.killNow();
    await environment.startWorker(environment.workerPorts[0]);
    const operation = await waitForOperation(environment, operationId, undefined, 180_000);
    expect(operation.status).to.equal('SUCCEEDED');
    const jobs = await environment.extractJobsByTable();
    expect(jobs.get('orders')).to.equal(1);
    expect(jobs.get('customers')).to.equal(1);
  });
});

for (const workerMode of ['pull', 'push'] as const) {
  describe(`backup end to end: an extract job that outlasts the ack deadline (${workerMode} mode)`, function () {
    this.timeout(180_000);
    let environment: Environment;

    before(async function () {
      environment = await startEnvironment({
        workerMode,
        ackDeadlineSeconds: 10,
        // Push: one delivery waits 3 s, then a continuation message keeps the task going.
        ...(workerMode === 'push' ? { jobWaitSeconds: 3 } : {}),
      });
    });

    after(async function () {
      await environment?.stop();
    });

    it('completes with one job and no dead letter', async function () {
      const seeded = await seed(environment);
      await environment.controls({ jobLatencyMs: { EXTRACT: 14_000 } });
      const operationId = unique('long');
      await submitBackup(environment, seeded.projectId, operationId, { format: 'AVRO' }, [
        { datasetName: 'sales', tables: ['refunds'] },
      ]);
      const operation = await waitForOperation(environment, operationId, undefined, 120_000);
      expect(operation.status).to.equal('SUCCEEDED');
      const jobs = await environment.extractJobsByTable();
      expect(jobs.get('refunds')).to.equal(1);
      const [task] = await tasksOf(environment, operationId);
      expect(task?.jobAttempt).to.equal(0);
      expect(task?.error).to.equal(undefined);
    });
  });
}

describe('backup end to end: the dispatcher killed in the middle of the fan-out', function () {
  this.timeout(240_000);
  let environment: Environment;

  before(async function () {
    environment = await startEnvironment({
      // Requests by push: the kill breaks the push in flight, and Pub/Sub retries it to the new dispatcher
      // on the same endpoint (a streaming pull would wait for the dead stream's lease, see above).
      dispatcherMode: 'push',
      ackDeadlineSeconds: 30,
      dispatcherEnv: { BQBR_FANOUT_BATCH_SIZE: '10' },
      workerEnv: { BQBR_WORKER_CONCURRENCY: '16' },
    });
  });

  after(async function () {
    await environment?.stop();
  });

  it('continues the same operation when the request is redelivered: no task or job twice', async function () {
    const projectId = unique('many').replaceAll('_', '-');
    const bigquery = environment.bigquery(projectId);
    const [dataset] = await bigquery.createDataset('wide');
    const names = Array.from({ length: 300 }, (_, i) => `t_${String(i).padStart(3, '0')}`);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((name) => dataset.createTable(name, { schema: { fields: [{ name: 'n', type: 'INT64' }] } })),
      );
    const [exists] = await environment.storage.bucket(BUCKET).exists();
    if (!exists) await environment.storage.createBucket(BUCKET);
    const operationId = unique('resume');
    await submitBackup(environment, projectId, operationId, { format: 'AVRO' }, [{ datasetName: 'wide' }]);

    // Kill the dispatcher once some, not all, task pages are out.
    const operationDoc = environment.firestore.collection('operations').doc(operationId);
    const deadline = Date.now() + 60_000;
    let killedAt: number | undefined;
    while (Date.now() < deadline) {
      const data = (await operationDoc.get()).data();
      if (data && data['fanOutComplete'] !== true && Number(data['taskTotal']) >= 30) {
        environment.dispatcher.killNow();
        killedAt = Number(data['taskTotal']);
        break;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(killedAt, 'the dispatcher was killed mid-fan-out').to.be.a('number');
    expect(killedAt).to.be.lessThan(300);
    await environment.startDispatcher();

    const operation = await waitForOperation(environment, operationId, undefined, 180_000);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.taskTotal).to.equal(300);
    expect(operation.summary).to.include({ tables: 300, succeeded: 300 });
    const jobs = await environment.extractJobsByTable();
    expect(
      names.filter((name) => jobs.get(name) !== 1),
      'tables not exported exactly once',
    ).to.deep.equal([]);
  });
});

describe('backup end to end: everything by push, as on Cloud Run', function () {
  this.timeout(180_000);
  let environment: Environment;

  before(async function () {
    environment = await startEnvironment({ dispatcherMode: 'push', workerMode: 'push', jobWaitSeconds: 5 });
  });

  after(async function () {
    await environment?.stop();
  });

  it('backs up a project with requests, tasks, events pushed to the services', async function () {
    const seeded = await seed(environment);
    const operationId = unique('push');
    await submitBackup(environment, seeded.projectId, operationId, { format: 'PARQUET' }, [
      { datasetName: 'sales' },
      { datasetName: 'analytics', tableFilter: 'daily_*' },
    ]);
    const operation = await waitForOperation(environment, operationId);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.summary).to.include({ tables: 8, succeeded: 7, skipped: 1, failed: 0 });
    const catalogue = await environment.firestore.collection('backups').doc(operationId).get();
    expect(catalogue.get('tables')).to.equal(8);
  });
});
