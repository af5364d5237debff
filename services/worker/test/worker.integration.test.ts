// The worker against the local stack (Google's Pub/Sub and Firestore emulators, bqbr's Cloud Storage and
// BigQuery emulators): files, manifests and task documents a backup step leaves, one BigQuery job per
// table across redeliveries, retries of failed jobs, continuations of long jobs, pull and push intake.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BigQuery } from '@google-cloud/bigquery';
import type { Message, Subscription } from '@google-cloud/pubsub';
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  DEFAULT_TOPOLOGY,
  FirestoreStateStore,
  type BackupTaskSpec,
  TableManifest,
  TaskMessage,
  closeClients,
  createClients,
  createSilentLogger,
  decode,
  ensureTopology,
  extractJobId,
  parseGcsUri,
  taskIdFor,
  tableFolder,
  tablePath,
  type Clients,
  type OperationDoc,
  type TableRef,
  type TaskEvent,
} from '@bqbr/shared';
import { expect } from 'chai';
import { parseConfig, type WorkerConfig } from '../src/config.js';
import { extractConfiguration } from '../src/backup-step.js';
import { handleTaskMessage } from '../src/task-handler.js';
import { createBackupStepDeps, startWorker } from '../src/worker.js';
import { pendingTask } from './fakes.js';

const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 10)}`;
const BUCKET = 'worker-backups';

describe('worker against the local stack', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let clients: Clients;
  let store: FirestoreStateStore;
  let config: WorkerConfig;
  let sourceProject: string;
  let source: BigQuery;
  let events: TaskEvent[];
  let republished: TaskMessage[];
  let taps: Subscription[];
  const ctx = () => ({
    logger: createSilentLogger(),
    signal: new AbortController().signal,
    deps: createBackupStepDeps(clients, config),
  });

  before(async function () {
    const projectId = unique('worker').replaceAll('_', '-');
    stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 }, projectId });
    const env = { ...stack.env, GOOGLE_CLOUD_PROJECT: projectId, BQBR_JOB_POLL_MS: '100' };
    config = parseConfig(env);
    clients = createClients(env, projectId);
    store = new FirestoreStateStore(clients.firestore);
    await ensureTopology(clients.pubsub, DEFAULT_TOPOLOGY, {
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 2,
    });
    await clients.storage.createBucket(BUCKET);

    // What the worker publishes, seen through subscriptions of our own.
    events = [];
    republished = [];
    const eventsTap = await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.events)
      .createSubscription(unique('events'));
    const tasksTap = await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.tasks)
      .createSubscription(unique('tasks'));
    taps = [eventsTap[0], tasksTap[0]];
    eventsTap[0].on('message', (m: Message) => {
      events.push(JSON.parse(m.data.toString()) as TaskEvent);
      m.ack();
    });
    tasksTap[0].on('message', (m: Message) => {
      republished.push(decode(TaskMessage, JSON.parse(m.data.toString()), 'task'));
      m.ack();
    });

    sourceProject = unique('src').replaceAll('_', '-');
    source = createClients(env, sourceProject).bigquery;
    const [sales] = await source.createDataset('sales');
    const [orders] = await sales.createTable('orders', {
      description: 'Orders',
      labels: { team: 'sales' },
      schema: {
        fields: [
          { name: 'id', type: 'INT64', mode: 'REQUIRED', description: 'order id' },
          { name: 'customer_id', type: 'INT64' },
          { name: 'order_date', type: 'DATE' },
        ],
      },
      timePartitioning: { type: 'DAY', field: 'order_date' },
      clustering: { fields: ['customer_id'] },
    });
    await orders.insert(
      Array.from({ length: 25 }, (_, i) => ({ id: i, customer_id: i % 5, order_date: '2026-11-20' })),
    );
    const [customers] = await sales.createTable('customers', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64' },
          { name: 'address', type: 'RECORD', fields: [{ name: 'city', type: 'STRING' }] },
          { name: 'phones', type: 'STRING', mode: 'REPEATED' },
        ],
      },
    });
    await customers.insert([{ id: 1, address: { city: 'Berlin' }, phones: ['1', '2'] }]);
    await sales.createTable('big_orders', {
      view: { query: 'SELECT id FROM sales.orders WHERE id > 10', useLegacySql: false },
    });
    for (const name of ['refunds', 'returns', 'slow', 'pushed', 'pulled', 'long_pull', 'long_push']) {
      const [table] = await sales.createTable(name, { schema: { fields: [{ name: 'n', type: 'INT64' }] } });
      await table.insert([{ n: 1 }, { n: 2 }, { n: 3 }]);
    }
    // Every task of these tests reads its table at this instant, after the rows above.
    await sleep(20);
  });

  after(async function () {
    await Promise.allSettled(taps.map((tap) => tap.close()));
    if (clients) await closeClients(clients);
    await stack?.stop();
  });

  afterEach(async function () {
    await bigqueryControl('DELETE', '/emulator/v1/controls');
  });

  async function bigqueryControl(method: string, path: string, body?: object): Promise<unknown> {
    const res = await fetch(`${stack.env['BIGQUERY_EMULATOR_HOST']}${path}`, {
      method,
      ...(body ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  async function extractJobsOf(tableId: string): Promise<number> {
    const { jobs } = (await bigqueryControl('GET', '/emulator/v1/jobs')) as {
      jobs: { type: string; tableIds: string[] }[];
    };
    return jobs.filter((j) => j.type === 'EXTRACT' && j.tableIds.includes(tableId)).length;
  }

  /** An operation with one PENDING task, as the dispatcher would leave it; returns its message. */
  async function plannedTask(
    tableId: string,
    spec: Partial<BackupTaskSpec> = {},
    snapshotMillis = Date.now() - 5,
    operationId = unique('op'),
  ): Promise<TaskMessage & { spec: BackupTaskSpec }> {
    const ref: TableRef = { projectId: sourceProject, datasetId: 'sales', tableId };
    const taskId = taskIdFor(ref);
    const uri = `gs://${BUCKET}/${operationId}`;
    const folder = tableFolder(uri, snapshotMillis, sourceProject, 'sales', tableId);
    const now = new Date().toISOString();
    const message: TaskMessage & { spec: BackupTaskSpec } = {
      operationId,
      taskId,
      spec: {
        kind: 'backup',
        source: ref,
        snapshotMillis,
        // A Cloud Storage home: the extract lands in the table folder itself.
        home: { kind: 'gcs', uri },
        tablePath: tablePath(snapshotMillis, sourceProject, 'sales', tableId),
        landingFolder: folder,
        tableFolder: folder,
        format: 'AVRO',
        compression: 'NONE',
        header: true,
        fieldDelimiter: ',',
        ...spec,
      },
    };
    const operation: OperationDoc = {
      operationId,
      kind: 'backup',
      status: 'RUNNING',
      projectId: sourceProject,
      request: {},
      dryRun: false,
      snapshotMillis,
      taskTotal: 1,
      fanOutComplete: true,
      createdAt: now,
      updatedAt: now,
    };
    await store.createOperation(operation);
    await store.createTasks(operationId, [pendingTask(message, ref, now)]);
    return message;
  }

  let deliveries = 0;
  const delivery = (message: TaskMessage, deliveryAttempt = 1) => ({
    data: Buffer.from(JSON.stringify(message)),
    attributes: { operationId: message.operationId, taskId: message.taskId, kind: 'backup' },
    messageId: String(++deliveries),
    publishTime: new Date().toISOString(),
    deliveryAttempt,
  });

  async function readJson(uri: string): Promise<unknown> {
    const { bucket, name } = parseGcsUri(uri);
    const [bytes] = await clients.storage.bucket(bucket).file(name).download();
    return JSON.parse(bytes.toString('utf8')) as unknown;
  }

  async function waitFor<T>(
    what: string,
    probe: () => Promise<T | undefined> | T | undefined,
    timeoutMs = 30_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const value = await probe();
      if (value !== undefined) return value;
      await sleep(100);
    }
    throw new Error(`timed out waiting for ${what}`);
  }

  const eventFor = (message: TaskMessage) => () =>
    events.find((e) => e.operationId === message.operationId && e.taskId === message.taskId);

  it('backs up a table: data files, _table.json with schema, partitioning and row count, task SUCCEEDED, event', async function () {
    const message = await plannedTask('orders');
    const disposition = await handleTaskMessage(delivery(message), ctx());
    expect(disposition).to.equal('ack');

    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task).to.deep.include({ status: 'SUCCEEDED', rows: 25, deliveries: 1, jobAttempt: 0 });
    expect(task.jobIds).to.have.length(1);
    expect(task.fileCount).to.be.greaterThan(0);
    const manifest = decode(TableManifest, await readJson(task.manifestUri!), '_table.json');
    expect(manifest.numRows).to.equal(25);
    expect(manifest.source).to.deep.equal(message.spec.source);
    expect(manifest.schema.fields.map((f) => `${f.name}:${f.type}:${f.mode ?? 'NULLABLE'}`)).to.deep.equal([
      'id:INTEGER:REQUIRED',
      'customer_id:INTEGER:NULLABLE',
      'order_date:DATE:NULLABLE',
    ]);
    expect(manifest.schema.fields[0]?.description).to.equal('order id');
    expect(manifest.timePartitioning).to.deep.include({ type: 'DAY', field: 'order_date' });
    expect(manifest.clustering).to.deep.equal({ fields: ['customer_id'] });
    expect(manifest.labels).to.deep.equal({ team: 'sales' });
    expect(manifest.extractJobId).to.equal(task.jobIds[0]);
    const { bucket, name } = parseGcsUri(message.spec.tableFolder);
    const [objects] = await clients.storage.bucket(bucket).getFiles({ prefix: `${name}/` });
    const sizes = new Map(objects.map((o) => [o.name, Number(o.metadata.size)]));
    expect(manifest.files.length).to.equal(task.fileCount);
    for (const file of manifest.files) {
      expect(file.name).to.match(/^data-\d+\.avro$/);
      expect(sizes.get(parseGcsUri(file.uri).name)).to.equal(file.bytes);
      expect(file.md5 ?? file.crc32c).to.be.a('string');
    }
    expect(await waitFor('the SUCCEEDED event', eventFor(message))).to.include({ status: 'SUCCEEDED' });
  });

  /** The rows of a JSON backup's files, read with the Storage client. */
  async function jsonRows(files: readonly { readonly uri: string }[]): Promise<string[]> {
    const lines: string[] = [];
    for (const file of files) {
      const { bucket, name } = parseGcsUri(file.uri);
      const [bytes] = await clients.storage.bucket(bucket).file(name).download();
      lines.push(...bytes.toString('utf8').split('\n').filter(Boolean));
    }
    return lines;
  }

  /** A table of its own with `rows` rows, for a test that changes what its folder holds. */
  async function ownTable(prefix: string, rows: number): Promise<string> {
    const [table] = await source
      .dataset('sales')
      .createTable(unique(prefix), { schema: { fields: [{ name: 'n', type: 'INT64' }] } });
    await table.insert(Array.from({ length: rows }, (_, n) => ({ n })));
    await sleep(20);
    return table.id!;
  }

  const folderObject = (message: TaskMessage & { spec: BackupTaskSpec }, name: string) => {
    const { bucket, name: folder } = parseGcsUri(message.spec.tableFolder);
    return clients.storage.bucket(bucket).file(`${folder}/${name}`);
  };

  it('operations a.b and a_b backing up one table run their own jobs and each keeps its own data', async function () {
    const base = unique('op');
    const snapshot = Date.now() - 5;
    const dotted = await plannedTask('orders', { format: 'JSON' }, snapshot, `${base}.b`);
    const underscored = await plannedTask('orders', { format: 'JSON' }, snapshot, `${base}_b`);
    for (const message of [dotted, underscored])
      expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');

    const tasks = await Promise.all(
      [dotted, underscored].map(async (m) => (await store.getTask(m.operationId, m.taskId))!),
    );
    expect(tasks[0]!.jobIds[0]).not.to.equal(tasks[1]!.jobIds[0]);
    for (const [i, message] of [dotted, underscored].entries()) {
      const task = tasks[i]!;
      expect(task).to.deep.include({ status: 'SUCCEEDED', rows: 25 });
      const manifest = decode(TableManifest, await readJson(task.manifestUri!), '_table.json');
      expect(manifest.files.length, message.operationId).to.be.greaterThan(0);
      for (const file of manifest.files)
        expect(file.uri.startsWith(`${message.spec.tableFolder}/`)).to.equal(true);
      expect(await jsonRows(manifest.files), message.operationId).to.have.length(25);
    }
  });

  it('does not adopt a job of another configuration found under its job id: the task fails and says why', async function () {
    const message = await plannedTask('pulled');
    const jobId = extractJobId(message.operationId, message.taskId, 0);
    // Another table's extract into this very folder, under the id this task would use.
    const other = { ...message.spec, source: { ...message.spec.source, tableId: 'orders' } };
    await clients.bigquery.createJob({ jobId, configuration: extractConfiguration(other) as object });

    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task.status).to.equal('FAILED');
    expect(task.error?.reason).to.equal('duplicate');
    expect(task.error?.message).to.match(
      new RegExp(
        `${jobId} already exists but is not this task's job: its sourceTable is .*:sales\\.orders@.*this task's: .*:sales\\.pulled@.*not adopted`,
      ),
    );
    expect((await folderObject(message, '_table.json').exists())[0]).to.equal(false);
  });

  it('leaves data files beyond the count of the task job (an earlier attempt wrote them) out of the manifest', async function () {
    const tableId = await ownTable('stale', 3);
    const message = await plannedTask(tableId, { format: 'JSON' });
    // What an earlier job attempt that wrote more files left behind.
    for (const name of ['data-000000000001.json', 'data-000000000002.json'])
      await folderObject(message, name).save('{"n":"99"}\n');

    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task).to.deep.include({ status: 'SUCCEEDED', rows: 3, fileCount: 1 });
    const manifest = decode(TableManifest, await readJson(task.manifestUri!), '_table.json');
    expect(manifest.files.map((f) => f.name)).to.deep.equal(['data-000000000000.json']);
    expect(
      (await jsonRows(manifest.files)).map((l) => (JSON.parse(l) as { n: string }).n).sort(),
    ).to.deep.equal(['0', '1', '2']);
  });

  it('fails the task when a file its job counted is not in the folder', async function () {
    await bigqueryControl('PATCH', '/emulator/v1/controls', { exportShardRows: 1 });
    const tableId = await ownTable('counted', 3);
    const message = await plannedTask(tableId);
    // The task's own job, run to its end first (a delivery that died after it), then one of its files lost.
    const jobId = extractJobId(message.operationId, message.taskId, 0);
    const [job] = await clients.bigquery.createJob({
      jobId,
      configuration: extractConfiguration(message.spec) as object,
    });
    await job.promise();
    const { statistics } = (await job.getMetadata())[0] as {
      statistics: { extract: { destinationUriFileCounts: string[] } };
    };
    // One count per destination URI, as a string (int64 in BigQuery's JSON).
    expect(statistics.extract.destinationUriFileCounts).to.deep.equal(['3']);
    await folderObject(message, 'data-000000000001.avro').delete();

    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task.status).to.equal('FAILED');
    expect(task.error?.reason).to.equal('fileCountMismatch');
    expect(task.error?.message).to.match(/wrote 3 file\(s\), but 1 of them \(data-000000000001\.avro\)/);
    expect((await folderObject(message, '_table.json').exists())[0]).to.equal(false);
  });

  it('reads the table at the snapshot instant: rows inserted later are not counted', async function () {
    const [table] = await source
      .dataset('sales')
      .createTable(unique('pit'), { schema: { fields: [{ name: 'n', type: 'INT64' }] } });
    await table.insert([{ n: 1 }, { n: 2 }]);
    await sleep(50);
    const snapshot = Date.now();
    await sleep(50);
    await table.insert([{ n: 3 }]);
    const message = await plannedTask(table.id!, { format: 'JSON' }, snapshot);
    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task).to.deep.include({ status: 'SUCCEEDED', rows: 2 });
    const lines: string[] = [];
    for (const file of task.files ?? []) {
      const { bucket, name } = parseGcsUri(file.uri);
      const [bytes] = await clients.storage.bucket(bucket).file(name).download();
      lines.push(...bytes.toString('utf8').split('\n').filter(Boolean));
    }
    expect(lines.map((l) => (JSON.parse(l) as { n: string }).n).sort()).to.deep.equal(['1', '2']);
  });

  it('two deliveries of one task at once run one extract job', async function () {
    await bigqueryControl('PATCH', '/emulator/v1/controls', { jobLatencyMs: { EXTRACT: 1_000 } });
    const message = await plannedTask('refunds', { format: 'PARQUET' });
    const dispositions = await Promise.all([
      handleTaskMessage(delivery(message), ctx()),
      handleTaskMessage(delivery(message, 2), ctx()),
    ]);
    expect(dispositions).to.deep.equal(['ack', 'ack']);
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task.status).to.equal('SUCCEEDED');
    expect(task.jobIds).to.have.length(1);
    expect(await extractJobsOf('refunds')).to.equal(1);
    // A later redelivery of the finished task runs nothing.
    expect(await handleTaskMessage(delivery(message, 3), ctx())).to.equal('ack');
    expect(await extractJobsOf('refunds')).to.equal(1);
  });

  it('a backendError job is nacked, then the next delivery succeeds with job attempt 1', async function () {
    await bigqueryControl('POST', '/emulator/v1/faults', {
      jobType: 'EXTRACT',
      count: 1,
      reason: 'backendError',
      tableId: 'returns',
    });
    const message = await plannedTask('returns');
    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('nack');
    const failed = (await store.getTask(message.operationId, message.taskId))!;
    expect(failed).to.deep.include({ status: 'RUNNING', jobAttempt: 1 });

    expect(await handleTaskMessage(delivery(message, 2), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task).to.deep.include({ status: 'SUCCEEDED', jobAttempt: 1, rows: 3 });
    expect(task.jobIds).to.have.length(2);
    expect(await extractJobsOf('returns')).to.equal(2);
  });

  it('a job that outlasts the wait budget publishes a continuation; the continuation finishes it with the same job', async function () {
    await bigqueryControl('PATCH', '/emulator/v1/controls', { jobLatencyMs: { EXTRACT: 2_500 } });
    const message = await plannedTask('slow');
    const shortWait = {
      ...ctx(),
      deps: { ...ctx().deps, settings: { ...ctx().deps.settings, jobWaitMs: 500 } },
    };
    expect(await handleTaskMessage(delivery(message), shortWait)).to.equal('ack');
    expect((await store.getTask(message.operationId, message.taskId))?.status).to.equal('RUNNING');
    const continuation = await waitFor('the continuation message', () =>
      republished.find((m) => m.operationId === message.operationId),
    );
    expect(continuation).to.deep.equal({ ...message, continuation: 1 });

    expect(await handleTaskMessage(delivery(continuation), ctx())).to.equal('ack');
    const task = (await store.getTask(message.operationId, message.taskId))!;
    expect(task).to.deep.include({ status: 'SUCCEEDED', jobAttempt: 0, deliveries: 2 });
    expect(await extractJobsOf('slow')).to.equal(1);
  });

  it('fails a table with nested fields as CSV (invalid) and skips a view, keeping its query', async function () {
    const csv = await plannedTask('customers', { format: 'CSV', compression: 'GZIP' });
    expect(await handleTaskMessage(delivery(csv), ctx())).to.equal('ack');
    const failed = (await store.getTask(csv.operationId, csv.taskId))!;
    expect(failed.status).to.equal('FAILED');
    expect(failed.error?.reason).to.equal('invalid');
    expect(failed.error?.message).to.match(/CSV cannot hold nested or repeated fields \(address, phones\)/);
    expect(await waitFor('the FAILED event', eventFor(csv))).to.include({ status: 'FAILED' });

    const view = await plannedTask('big_orders');
    expect(await handleTaskMessage(delivery(view), ctx())).to.equal('ack');
    const skipped = (await store.getTask(view.operationId, view.taskId))!;
    expect(skipped.status).to.equal('SKIPPED');
    const manifest = decode(TableManifest, await readJson(skipped.manifestUri!), '_table.json');
    expect(manifest.tableType).to.equal('VIEW');
    expect(manifest.view).to.deep.include({ query: 'SELECT id FROM sales.orders WHERE id > 10' });
  });

  it('fails a table that does not exist (notFound) and acks an undecodable message', async function () {
    const message = await plannedTask('no_such_table');
    expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
    expect((await store.getTask(message.operationId, message.taskId))?.error?.reason).to.equal('notFound');
    const garbage = { ...delivery(message), data: Buffer.from('{"operationId": 1}') };
    expect(await handleTaskMessage(garbage, ctx())).to.equal('ack');
  });

  it('fails a task whose S3 endpoint the operator did not allow, without connecting to it', async function () {
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    try {
      const operationId = unique('op');
      const message = await plannedTask(
        'refunds',
        {
          // A task message as a dispatcher without the allowlist could have written it (docs/security.md#endpoints).
          home: {
            kind: 's3',
            bucket: 'backups',
            endpoint: `http://127.0.0.1:${address.port}`,
            forcePathStyle: true,
          },
          landingFolder: `gs://${BUCKET}/staging/${operationId}/refunds`,
        },
        Date.now() - 5,
        operationId,
      );
      expect(await handleTaskMessage(delivery(message), ctx())).to.equal('ack');
      const task = await store.getTask(message.operationId, message.taskId);
      expect(task?.status).to.equal('FAILED');
      expect(task?.error?.message).to.include('BQBR_S3_ENDPOINTS');
      expect(connections).to.equal(0);
    } finally {
      listener.close();
    }
  });

  /** A tasks topic and subscription of the test's own, so only this test's worker sees its messages. */
  async function ownTasksTopology(push?: string): Promise<WorkerConfig['topology']> {
    const topic = unique('tasks');
    const subscription = `${topic}-worker`;
    await clients.pubsub.createTopic(topic);
    await clients.pubsub.topic(topic).createSubscription(subscription, {
      ackDeadlineSeconds: 10,
      retryPolicy: { minimumBackoff: { seconds: 1 }, maximumBackoff: { seconds: 2 } },
      ...(push ? { pushConfig: { pushEndpoint: push } } : {}),
    });
    return {
      topics: { ...DEFAULT_TOPOLOGY.topics, tasks: topic },
      subscriptions: { ...DEFAULT_TOPOLOGY.subscriptions, tasks: subscription },
    };
  }

  it('pull: a job longer than the ack deadline finishes on one delivery (the lease is extended), one job', async function () {
    await bigqueryControl('PATCH', '/emulator/v1/controls', { jobLatencyMs: { EXTRACT: 13_000 } });
    const topology = await ownTasksTopology();
    const worker = await startWorker(
      { ...config, topology, port: 0, shutdownGraceMs: 2_000 },
      { ...stack.env },
      createSilentLogger(),
    );
    try {
      const message = await plannedTask('long_pull');
      await clients.pubsub.topic(topology.topics.tasks).publishMessage({ json: message });
      const task = await waitFor(
        'the task to succeed',
        async () => {
          const current = await store.getTask(message.operationId, message.taskId);
          return current?.status === 'SUCCEEDED' ? current : undefined;
        },
        60_000,
      );
      expect(task).to.deep.include({ deliveries: 1, jobAttempt: 0 });
      expect(await extractJobsOf('long_pull')).to.equal(1);
    } finally {
      await worker.stop();
    }
  });

  it("push: a job longer than one delivery's wait is carried on by continuation messages, one job", async function () {
    await bigqueryControl('PATCH', '/emulator/v1/controls', { jobLatencyMs: { EXTRACT: 3_000 } });
    const base = { ...config, intake: 'push' as const, port: 0, jobWaitSeconds: 1, shutdownGraceMs: 2_000 };
    // The endpoint must exist before the push subscription points at it.
    const probe = await startWorker(base, { ...stack.env }, createSilentLogger());
    const topology = await ownTasksTopology(`http://127.0.0.1:${probe.port}/pubsub/tasks`);
    await probe.stop();
    const worker = await startWorker(
      { ...base, port: probe.port, topology },
      { ...stack.env },
      createSilentLogger(),
    );
    try {
      const message = await plannedTask('long_push');
      await clients.pubsub.topic(topology.topics.tasks).publishMessage({ json: message });
      const task = await waitFor(
        'the task to succeed',
        async () => {
          const current = await store.getTask(message.operationId, message.taskId);
          return current?.status === 'SUCCEEDED' ? current : undefined;
        },
        60_000,
      );
      expect(task.deliveries).to.be.greaterThan(1);
      expect(task.jobAttempt).to.equal(0);
      expect(await extractJobsOf('long_push')).to.equal(1);
    } finally {
      await worker.stop();
    }
  });

  it('runs as a pull worker: a task published to bqbr-tasks ends SUCCEEDED', async function () {
    const worker = await startWorker(
      { ...config, port: 0, shutdownGraceMs: 2_000 },
      { ...stack.env },
      createSilentLogger(),
    );
    try {
      const message = await plannedTask('pulled');
      await clients.pubsub.topic(DEFAULT_TOPOLOGY.topics.tasks).publishMessage({ json: message });
      const task = await waitFor('the task to succeed', async () => {
        const current = await store.getTask(message.operationId, message.taskId);
        return current?.status === 'SUCCEEDED' ? current : undefined;
      });
      expect(task.rows).to.equal(3);
      expect((await fetch(`http://127.0.0.1:${worker.port}/healthz`)).status).to.equal(200);
    } finally {
      await worker.stop();
    }
  });

  it('runs as a push worker: a push envelope is answered 204 once the task is done', async function () {
    const worker = await startWorker(
      { ...config, intake: 'push', port: 0, shutdownGraceMs: 2_000 },
      { ...stack.env },
      createSilentLogger(),
    );
    try {
      const message = await plannedTask('pushed');
      const url = `http://127.0.0.1:${worker.port}/pubsub/tasks`;
      const envelope = {
        message: {
          data: Buffer.from(JSON.stringify(message)).toString('base64'),
          attributes: { operationId: message.operationId, taskId: message.taskId },
          messageId: unique('m'),
          publishTime: new Date().toISOString(),
        },
        subscription: `projects/${config.projectId}/subscriptions/${DEFAULT_TOPOLOGY.subscriptions.tasks}`,
        deliveryAttempt: 1,
      };
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(envelope),
      });
      expect(res.status).to.equal(204);
      expect((await store.getTask(message.operationId, message.taskId))?.status).to.equal('SUCCEEDED');
      const bad = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"nope":1}',
      });
      expect(bad.status).to.equal(400);
    } finally {
      await worker.stop();
    }
  });
});
