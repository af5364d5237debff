// The dispatcher against the local stack: requests in by Pub/Sub, push and HTTP; tasks out to
// bqbr-tasks; a stand-in worker finishes them; completion writes _backup.json, the catalogue entry and
// the notification. Outcomes are read from Firestore, Cloud Storage and Pub/Sub.
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  BackupManifest,
  DEFAULT_TOPOLOGY,
  FirestoreStateStore,
  TaskMessage,
  backupManifestUri,
  closeClients,
  createClients,
  createLogger,
  decode,
  ensureTopology,
  parseGcsUri,
  type Clients,
  type LogLevel,
  type OperationDoc,
  type PlanSummary,
  type TaskDoc,
} from '@bqbr/shared';
import { BigQuery } from '@google-cloud/bigquery';
import type { Message, Subscription } from '@google-cloud/pubsub';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { parseConfig } from '../src/config.js';
import { startDispatcher, type RunningDispatcher } from '../src/dispatcher.js';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const BUCKET = 'dispatcher-test-backups';
const FINAL = ['SUCCEEDED', 'PARTIALLY_FAILED', 'FAILED'];

describe('dispatcher against the local stack', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let clients: Clients;
  let store: FirestoreStateStore;
  let dispatcher: RunningDispatcher;
  let baseUrl: string;
  let sourceProject: string;
  let workerSubscription: Subscription;
  let notifications: Subscription;
  const received: { notification: Record<string, unknown>; attributes: Record<string, string> }[] = [];
  /** Task messages the stand-in worker saw, per operation/task. */
  const deliveries = new Map<string, number>();
  /** What the stand-in worker does with a table (default: SUCCEEDED). */
  const outcomes = new Map<string, 'FAILED' | 'HOLD'>();
  /** The dispatcher's log lines, to see how often a message was delivered. */
  const logLines: Record<string, unknown>[] = [];

  before(async function () {
    const projectId = unique('dispatcher');
    stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 }, projectId });
    clients = createClients(stack.env, projectId);
    store = new FirestoreStateStore(clients.firestore);
    await ensureTopology(clients.pubsub, DEFAULT_TOPOLOGY, {
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 2,
      maxDeliveryAttempts: 5,
    });
    await clients.storage.createBucket(BUCKET);

    sourceProject = unique('source');
    const bigquery = new BigQuery({
      apiEndpoint: stack.env['BIGQUERY_EMULATOR_HOST'],
      projectId: sourceProject,
      authClient: new PassThroughClient(),
    });
    const [sales] = await bigquery.createDataset('sales');
    for (const name of ['orders', 'customers', 'refunds']) {
      await sales.createTable(name, { schema: { fields: [{ name: 'id', type: 'INT64' }] } });
    }
    await sales.createTable('paid_orders', { view: { query: `SELECT 1 AS x`, useLegacySql: false } });
    await bigquery.createDataset('empty');

    // Stand-in worker: records each task message and finishes the task as the real worker would.
    workerSubscription = clients.pubsub.subscription(DEFAULT_TOPOLOGY.subscriptions.tasks);
    workerSubscription.on('message', (message: Message) => {
      void (async () => {
        const task = decode(TaskMessage, JSON.parse(message.data.toString('utf8')), 'task');
        const key = `${task.operationId}/${task.taskId}`;
        deliveries.set(key, (deliveries.get(key) ?? 0) + 1);
        const outcome = outcomes.get((task.spec as { source: { tableId: string } }).source.tableId);
        if (outcome === 'HOLD') {
          await store.transitionTask(task.operationId, task.taskId, ['PENDING'], 'RUNNING');
          message.ack();
          return;
        }
        const status = outcome ?? 'SUCCEEDED';
        const moved = await store.transitionTask(
          task.operationId,
          task.taskId,
          ['PENDING', 'RUNNING'],
          status,
          {
            ...(status === 'SUCCEEDED'
              ? { rows: 10, bytes: 100, fileCount: 1 }
              : { error: { reason: 'invalid', message: 'injected' } }),
            finishedAt: new Date().toISOString(),
          },
        );
        if (moved) {
          await clients.pubsub.topic(DEFAULT_TOPOLOGY.topics.events).publishMessage({
            json: { operationId: task.operationId, taskId: task.taskId, status },
            attributes: { status },
          });
        }
        message.ack();
      })().catch((err: unknown) => {
        console.error('stand-in worker:', err);
        message.nack();
      });
    });
    await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.notifications)
      .createSubscription('test-notifications');
    notifications = clients.pubsub.subscription('test-notifications');
    notifications.on('message', (message: Message) => {
      received.push({
        notification: JSON.parse(message.data.toString('utf8')) as Record<string, unknown>,
        attributes: message.attributes,
      });
      message.ack();
    });

    const config = parseConfig({
      ...stack.env,
      PORT: '0',
      BQBR_COMPLETION_DEBOUNCE_MS: '50',
      BQBR_FANOUT_BATCH_SIZE: '2',
    });
    // DISPATCHER_TEST_LOG=debug also shows the dispatcher's log lines.
    const level = process.env['DISPATCHER_TEST_LOG'] as LogLevel | undefined;
    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
          logLines.push(JSON.parse(line) as Record<string, unknown>);
          if (level) process.stderr.write(`${line}\n`);
        }
        done();
      },
    });
    const logger = createLogger({
      service: 'dispatcher',
      level: level ?? 'info',
      format: 'json',
      stream: capture,
    });
    dispatcher = await startDispatcher(config, stack.env, logger);
    baseUrl = `http://127.0.0.1:${dispatcher.port}`;
  });

  after(async function () {
    await dispatcher?.stop();
    await workerSubscription?.close();
    await notifications?.close();
    if (clients) await closeClients(clients);
    await stack?.stop();
  });

  const request = (uri: string, extra: object = {}, bigQuery: object = {}): Record<string, unknown> => ({
    bigQuery: { projectId: sourceProject, ...bigQuery },
    backupStorage: { gcsOptions: { uri, exportOptions: { format: 'AVRO', overwrite: true } } },
    ...extra,
  });

  const publish = (body: unknown, attributes: Record<string, string> = { kind: 'backup' }): Promise<string> =>
    clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.requests)
      .publishMessage({ data: Buffer.from(JSON.stringify(body)), attributes });

  async function waitFor(
    operationId: string,
    statuses: readonly string[] = FINAL,
    timeoutMs = 30_000,
  ): Promise<OperationDoc> {
    const deadline = Date.now() + timeoutMs;
    let last: OperationDoc | undefined;
    while (Date.now() < deadline) {
      last = await store.getOperation(operationId);
      if (last && statuses.includes(last.status)) return last;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`operation ${operationId} is ${last?.status ?? 'absent'} after ${timeoutMs} ms`);
  }

  async function tasks(operationId: string): Promise<Map<string, TaskDoc>> {
    const list = await store.listTasks(operationId, { limit: 1000 });
    return new Map(list.map((t) => [`${t.table.datasetId}.${t.table.tableId}`, t]));
  }

  async function waitForNotification(operationId: string): Promise<Record<string, unknown>> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const found = received.find((r) => r.notification.operationId === operationId);
      if (found) return found.notification;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no notification for ${operationId}`);
  }

  /** The dispatcher's log lines about one message. */
  const linesOf = (messageId: string): Record<string, unknown>[] =>
    logLines.filter((line) => line.messageId === messageId);

  async function waitForLog(messageId: string, message: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      if (linesOf(messageId).some((line) => line.message === message)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`no log line "${message}" for message ${messageId}`);
  }

  /** The finished operation once its notification is recorded: nothing changes it after that. */
  async function settled(operationId: string): Promise<OperationDoc> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const operation = await store.getOperation(operationId);
      if (operation?.notified === true) return operation;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`operation ${operationId} not announced`);
  }

  /**
   * Each refused request was handled on its first delivery only: its operation does not change, and
   * the log shows no second attempt, though the subscription redelivers a nacked message within 2 s.
   */
  async function expectOneDelivery(refused: readonly (readonly [string, string])[]): Promise<void> {
    const before = await Promise.all(refused.map(([, operationId]) => settled(operationId)));
    await new Promise((r) => setTimeout(r, 3_000));
    for (const [i, [messageId, operationId]] of refused.entries()) {
      const lines = linesOf(messageId);
      expect(
        lines.filter((l) => l.message === 'invalid request rejected'),
        messageId,
      ).to.have.length(1);
      expect(new Set(lines.map((l) => l.deliveryAttempt)), messageId).to.deep.equal(new Set([1]));
      expect(lines.map((l) => l.message)).to.not.include('message will be redelivered');
      expect(await store.getOperation(operationId)).to.deep.equal(before[i]);
    }
  }

  /** A backup request naming 60,000 datasets: about 1.9 MB, more than a Firestore document holds. */
  const sixtyThousandDatasets = (operationId: string): Record<string, unknown> =>
    request(
      `gs://${BUCKET}/${operationId}`,
      { operationId },
      { tablesToBackup: Array.from({ length: 60_000 }, (_, i) => ({ datasetName: `dataset_${i}` })) },
    );

  /** A backup request with a field nested 20,000 levels deep. */
  const twentyThousandLevels = (): string =>
    JSON.stringify(request(`gs://${BUCKET}/deep`)).replace(
      '"bigQuery":{',
      `"bigQuery":{"deep":${'['.repeat(20_000)}${']'.repeat(20_000)},`,
    );

  it('backs up a whole project from a Pub/Sub request named by its message id: manifest, catalogue, notification', async function () {
    const uri = `gs://${BUCKET}/${unique('all')}`;
    const messageId = await publish(request(uri));
    const operation = await waitFor(messageId);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.fanOutComplete).to.equal(true);
    expect(operation.taskTotal).to.equal(4);
    expect(operation.summary).to.deep.equal({
      tables: 4,
      succeeded: 4,
      failed: 0,
      skipped: 0,
      rows: 40,
      bytes: 400,
      files: 4,
    });
    const byTable = await tasks(messageId);
    expect([...byTable.keys()].sort()).to.deep.equal([
      'sales.customers',
      'sales.orders',
      'sales.paid_orders',
      'sales.refunds',
    ]);
    const ordersSpec = byTable.get('sales.orders')?.spec;
    expect(ordersSpec?.kind === 'backup' ? ordersSpec.tableFolder : undefined).to.match(
      new RegExp(`^${uri}/backups/\\d{8}_\\d{6}_[0-9a-f]{12}/${sourceProject}/sales/orders$`),
    );

    const { bucket, name } = parseGcsUri(
      backupManifestUri(uri, operation.snapshotMillis!, sourceProject, operation.operationId),
    );
    const [bytes] = await clients.storage.bucket(bucket).file(name).download();
    const manifest = decode(BackupManifest, JSON.parse(bytes.toString('utf8')), '_backup.json');
    expect(manifest).to.deep.include({
      operationId: messageId,
      projectId: sourceProject,
      status: 'SUCCEEDED',
      location: operation.location,
    });
    expect(manifest.tables).to.have.length(4);
    expect(manifest.export).to.deep.equal({
      format: 'AVRO',
      compression: 'NONE',
      header: true,
      fieldDelimiter: ',',
      useAvroLogicalTypes: true,
    });

    const [catalogue] = await store.listBackups({ projectId: sourceProject, limit: 100 });
    expect(catalogue).to.deep.include({ backupId: messageId, status: 'SUCCEEDED', tables: 4, rows: 40 });
    const notification = await waitForNotification(messageId);
    expect(notification).to.deep.include({ status: 'SUCCEEDED', kind: 'backup', projectId: sourceProject });
    expect((await store.getOperation(messageId))?.notified).to.equal(true);
  });

  it('finishes PARTIALLY_FAILED when a table fails and a named table does not exist', async function () {
    const operationId = unique('partial');
    outcomes.set('customers', 'FAILED');
    try {
      await publish(
        request(
          `gs://${BUCKET}/${operationId}`,
          { operationId },
          { tablesToBackup: [{ datasetName: 'sales', tables: ['orders', 'customers', 'ghost'] }] },
        ),
      );
      const operation = await waitFor(operationId);
      expect(operation.status).to.equal('PARTIALLY_FAILED');
      expect(operation.summary).to.include({ tables: 3, succeeded: 1, failed: 2 });
      const byTable = await tasks(operationId);
      expect(byTable.get('sales.ghost')?.status).to.equal('FAILED');
      expect(byTable.get('sales.ghost')?.error?.reason).to.equal('notFound');
      // The missing table was decided at planning: no task message was sent for it.
      expect(deliveries.get(`${operationId}/${byTable.get('sales.ghost')!.taskId}`)).to.equal(undefined);
    } finally {
      outcomes.delete('customers');
    }
  });

  it('finishes FAILED when every exported table failed, and SUCCEEDED at once for an empty dataset', async function () {
    const failed = unique('failed');
    outcomes.set('refunds', 'FAILED');
    try {
      await publish(
        request(
          `gs://${BUCKET}/${failed}`,
          { operationId: failed },
          { tablesToBackup: [{ datasetName: 'sales', tables: ['refunds'] }] },
        ),
      );
      expect((await waitFor(failed)).status).to.equal('FAILED');
    } finally {
      outcomes.delete('refunds');
    }
    const empty = unique('empty');
    await publish(
      request(
        `gs://${BUCKET}/${empty}`,
        { operationId: empty },
        { tablesToBackup: [{ datasetName: 'empty' }] },
      ),
    );
    const operation = await waitFor(empty);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.summary).to.deep.equal({
      tables: 0,
      succeeded: 0,
      failed: 0,
      skipped: 0,
      rows: 0,
      bytes: 0,
      files: 0,
    });
  });

  it('records an invalid request and a restore of a missing backup as FAILED operations, acked and not retried', async function () {
    const bad = unique('bad');
    await publish({ ...request('gs://x'), operationId: bad, bigQuery: { projectId: 'NOT A PROJECT' } });
    const operation = await waitFor(bad, ['FAILED']);
    expect(operation.error?.reason).to.equal('invalid');
    expect(operation.error?.issues?.map((i) => i.path)).to.include.members([
      'bigQuery.projectId',
      'backupStorage.gcsOptions.uri',
    ]);
    const restore = unique('restore');
    await publish(
      {
        operationId: restore,
        bigQuery: { projectId: sourceProject, datasetsToRestore: ['sales'] },
        restoreStorage: {
          gcsOptions: {
            uri: `gs://${BUCKET}/${restore}`,
            backupTimestamp: 'latest',
            projectIdOfBackup: sourceProject,
            importOptions: { restoreRegion: 'EU', format: 'AVRO', writeDisposition: 'WRITE_EMPTY' },
          },
        },
      },
      { kind: 'restore' },
    );
    const restored = await waitFor(restore, ['FAILED']);
    expect(restored.error?.reason).to.equal('notFound');
    expect(restored.error?.message).to.contain(`no finished backup of project ${sourceProject}`);
    const notJson = await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.requests)
      .publishMessage({ data: Buffer.from('{nope'), attributes: { kind: 'backup' } });
    expect((await waitFor(notJson, ['FAILED'])).error?.reason).to.equal('invalid');
    // Acked: the notification says FAILED once, and the operation is not touched again.
    await waitForNotification(bad);
    const before = (await store.getOperation(bad))!.updatedAt;
    await new Promise((r) => setTimeout(r, 2_500));
    expect((await store.getOperation(bad))!.updatedAt).to.equal(before);
  });

  it('refuses a backup and a restore outside Cloud Storage without a staging location, doing nothing', async function () {
    const backup = unique('s3');
    await publish({
      operationId: backup,
      bigQuery: { projectId: sourceProject },
      backupStorage: {
        s3Options: { bucket: 'some-bucket', exportOptions: { format: 'AVRO', overwrite: true } },
      },
    });
    const restore = unique('files');
    await publish(
      {
        operationId: restore,
        bigQuery: { projectId: sourceProject },
        restoreStorage: {
          fileOptions: { path: '/srv/backups', backupTimestamp: 'latest', projectIdOfBackup: sourceProject },
        },
      },
      { kind: 'restore' },
    );
    for (const [operationId, what] of [
      [backup, 'a backup to s3'],
      [restore, 'a restore from file'],
    ] as const) {
      const operation = await waitFor(operationId, ['FAILED']);
      expect(operation.error?.reason).to.equal('failedPrecondition');
      expect(operation.error?.message).to.contain(`${what} (outside Cloud Storage) needs`);
      expect(operation.error?.message).to.contain('BQBR_STAGING_URI');
      expect(operation.taskTotal).to.equal(0);
    }
  });

  it('refuses a snapshot outside the time travel window', async function () {
    const operationId = unique('old');
    await publish(
      request(`gs://${BUCKET}/${operationId}`, {
        operationId,
        backupTime: { localDateTime: '2020-01-01T00:00:00', timezone: 'UTC' },
      }),
    );
    const operation = await waitFor(operationId, ['FAILED']);
    expect(operation.error?.issues?.[0]?.path).to.equal('backupTime');
  });

  it('continues one operation when the same request is delivered twice: each table is sent once', async function () {
    const operationId = unique('twice');
    const body = request(
      `gs://${BUCKET}/${operationId}`,
      { operationId },
      { tablesToBackup: [{ datasetName: 'sales', tableFilter: '*' }] },
    );
    await Promise.all([publish(body), publish(body)]);
    const operation = await waitFor(operationId);
    expect(operation.status).to.equal('SUCCEEDED');
    expect(operation.taskTotal).to.equal(4);
    const byTable = await tasks(operationId);
    for (const task of byTable.values()) {
      expect(deliveries.get(`${operationId}/${task.taskId}`), task.taskId).to.be.at.most(2);
    }
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.notification.operationId === operationId).length).to.be.at.least(1);
  });

  it('fails a dead-lettered task so its operation still finishes', async function () {
    const operationId = unique('dlq');
    outcomes.set('orders', 'HOLD');
    try {
      await publish(
        request(
          `gs://${BUCKET}/${operationId}`,
          { operationId },
          { tablesToBackup: [{ datasetName: 'sales', tables: ['orders', 'refunds'] }] },
        ),
      );
      await waitFor(operationId, ['RUNNING']);
      let held: TaskDoc | undefined;
      const deadline = Date.now() + 10_000;
      while (!held && Date.now() < deadline) {
        held = [...(await tasks(operationId)).values()].find((t) => t.status === 'RUNNING');
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(held, 'the held task').to.not.equal(undefined);
      // As Pub/Sub forwards a message its subscription gave up on.
      await clients.pubsub.topic(DEFAULT_TOPOLOGY.topics.deadLetter).publishMessage({
        json: { operationId, taskId: held!.taskId, spec: held!.spec },
        attributes: { operationId, taskId: held!.taskId, CloudPubSubDeadLetterSourceDeliveryCount: '5' },
      });
      const operation = await waitFor(operationId);
      expect(operation.status).to.equal('PARTIALLY_FAILED');
      const task = await store.getTask(operationId, held!.taskId);
      expect(task?.error).to.deep.equal({
        reason: 'deadLettered',
        message: 'task message dead-lettered after 5 delivery attempts',
      });
    } finally {
      outcomes.delete('orders');
    }
  });

  it('records a request whose operationId another request holds as a conflict of its own, the first operation untouched; the same request again is a redelivery', async function () {
    const operationId = unique('taken');
    const uri = `gs://${BUCKET}/${operationId}`;
    const first = request(
      uri,
      { operationId },
      { tablesToBackup: [{ datasetName: 'sales', tables: ['orders'] }] },
    );
    await publish(first);
    expect((await waitFor(operationId)).status).to.equal('SUCCEEDED');
    const before = await settled(operationId);
    expect(before.requestFingerprint).to.match(/^[0-9a-f]{64}$/);

    const other = request(
      uri,
      { operationId },
      { tablesToBackup: [{ datasetName: 'sales', tables: ['refunds'] }] },
    );
    const otherMessage = await publish(other);
    const conflict = await waitFor(`${operationId}:conflict:${otherMessage}`, ['FAILED']);
    expect(conflict.error?.reason).to.equal('conflict');
    expect(conflict.error?.message).to.contain(`operation ${operationId} already exists`);
    expect(conflict.requestMessageId).to.equal(otherMessage);
    expect(await waitForNotification(conflict.operationId)).to.deep.include({ status: 'FAILED' });
    expect(deliveries.get(`${operationId}/sales.refunds`)).to.equal(undefined);

    const againMessage = await publish(first);
    await waitForLog(againMessage, 'request seen again; operation already past planning');
    expect(await store.getOperation(`${operationId}:conflict:${againMessage}`)).to.equal(undefined);
    expect(await store.getOperation(operationId)).to.deep.equal(before);
  });

  it('records a 60,000-dataset request and a 20,000-level request as one FAILED operation each on their first delivery, never redelivered', async function () {
    const large = unique('large');
    const largeBody = Buffer.from(JSON.stringify(sixtyThousandDatasets(large)));
    const largeMessage = await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.requests)
      .publishMessage({ data: largeBody, attributes: { kind: 'backup' } });
    const deep = unique('deep');
    const deepBody = Buffer.from(twentyThousandLevels());
    const deepMessage = await clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.requests)
      .publishMessage({ data: deepBody, attributes: { kind: 'backup', operationId: deep } });

    const tooLarge = await waitFor(large, ['FAILED']);
    expect(tooLarge.error?.reason).to.equal('tooLarge');
    expect(tooLarge.error?.message).to.contain(
      `request is ${largeBody.length} bytes, over the limit of 524288 bytes`,
    );
    expect(tooLarge.request).to.deep.equal({ notStored: 'tooLarge', bytes: largeBody.length });
    expect(tooLarge.requestMessageId).to.equal(largeMessage);
    const tooDeep = await waitFor(deep, ['FAILED']);
    expect(tooDeep.error).to.deep.include({ reason: 'invalid' });
    expect(tooDeep.error?.issues).to.deep.equal([{ path: '', message: 'nested deeper than 16 levels' }]);
    expect(tooDeep.request).to.deep.equal({ notStored: 'tooDeep', bytes: deepBody.length });
    expect(tooDeep.requestMessageId).to.equal(deepMessage);

    await expectOneDelivery([
      [largeMessage, large],
      [deepMessage, deep],
    ]);
  });

  it('records a request whose body Firestore cannot store once as FAILED, keeping a note instead of the body', async function () {
    const uri = `gs://${BUCKET}/unstorable`;
    // Invalid requests are kept as they came; Firestore refuses an empty field name and an array in an array.
    const bodies = [
      { ...request(uri), operationId: unique('empty-name'), '': 1 },
      { ...request(uri), operationId: unique('nested-array'), extra: [[1]] },
    ];
    const messages = await Promise.all(bodies.map((body) => publish(body)));
    for (const body of bodies) {
      const operation = await waitFor(body.operationId, ['FAILED']);
      expect(operation.error?.reason).to.equal('invalid');
      expect(operation.request).to.deep.equal({
        notStored: 'refused by the state store: invalid',
        bytes: Buffer.byteLength(JSON.stringify(body)),
      });
    }
    await expectOneDelivery(bodies.map((body, i) => [messages[i]!, body.operationId]));
  });

  /** The parts of the API's answers these tests read. */
  interface ApiBody {
    readonly operationId?: string;
    readonly status?: string;
    readonly links?: { readonly self: string };
    readonly error?: {
      readonly message: string;
      readonly reason?: string;
      readonly issues?: { readonly path: string }[];
    };
    readonly operation?: OperationDoc;
    readonly tasks?: Record<string, number>;
    readonly totals?: Record<string, number>;
    readonly operations?: OperationDoc[];
    readonly plan?: PlanSummary;
  }

  describe('HTTP', function () {
    const call = async (
      method: string,
      path: string,
      body?: unknown,
      headers: Record<string, string> = {},
    ) => {
      const res = await fetch(`${baseUrl}${path}`, {
        method,
        headers: { 'content-type': 'application/json', ...headers },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as ApiBody };
    };

    it('answers the health check', async function () {
      expect((await call('GET', '/healthz')).status).to.equal(200);
    });

    it('rejects a bad request with 400 and the path of each bad field', async function () {
      const res = await call('POST', '/api/v1/backup', {
        bigQuery: { projectId: sourceProject, tabelsToBackup: [] },
      });
      expect(res.status).to.equal(400);
      expect(res.body.error!.issues!.map((i) => i.path)).to.include.members([
        'bigQuery.tabelsToBackup',
        'backupStorage',
      ]);
      expect((await call('POST', '/api/v1/backup', '{nope')).status).to.equal(400);
    });

    it('accepts a backup with 202, runs it, and shows it with live task counts and in the list', async function () {
      const res = await call(
        'POST',
        '/api/v1/backup',
        request(
          `gs://${BUCKET}/${unique('http')}`,
          {},
          { tablesToBackup: [{ datasetName: 'sales', tables: ['orders'] }] },
        ),
      );
      expect(res.status).to.equal(202);
      const operationId = res.body.operationId!;
      expect(res.body.links!.self).to.equal(`/api/v1/operations/${operationId}`);
      await waitFor(operationId);
      const view = await call('GET', `/api/v1/operations/${operationId}`);
      expect(view.status).to.equal(200);
      expect(view.body.operation!.status).to.equal('SUCCEEDED');
      expect(view.body.tasks).to.include({ SUCCEEDED: 1, total: 1, terminal: 1 });
      expect(view.body.totals).to.deep.equal({ rows: 10, bytes: 100, files: 1 });
      const list = await call(
        'GET',
        `/api/v1/operations?status=SUCCEEDED&projectId=${sourceProject}&limit=100`,
      );
      expect(list.body.operations!.map((o) => o.operationId)).to.include(operationId);
      expect((await call('GET', '/api/v1/operations?status=DONE')).status).to.equal(400);
      expect((await call('GET', '/api/v1/operations/nope')).status).to.equal(404);
    });

    it('plans a dry run synchronously without sending tasks', async function () {
      const operationId = unique('dry');
      const res = await call(
        'POST',
        '/api/v1/backup',
        request(
          `gs://${BUCKET}/${operationId}`,
          { operationId, dryRun: true },
          { tablesToBackup: [{ datasetName: 'sales' }] },
        ),
      );
      expect(res.status).to.equal(200);
      expect(res.body.plan).to.include({ tables: 4, skipped: 0 });
      expect(res.body.plan!.sample.map((s) => s.table)).to.include('sales.orders');
      const operation = await store.getOperation(operationId);
      expect(operation).to.deep.include({ status: 'SUCCEEDED', dryRun: true, taskTotal: 0 });
      expect((await store.countTasks(operationId)).total).to.equal(0);
    });

    /** A finished backup of sales.orders in a folder of its own: its gs:// root. */
    async function backupOfOrders(name: string): Promise<string> {
      const uri = `gs://${BUCKET}/${unique(name)}`;
      const backupId = unique('backup');
      await publish(
        request(
          uri,
          { operationId: backupId },
          { tablesToBackup: [{ datasetName: 'sales', tables: ['orders'] }] },
        ),
      );
      expect((await waitFor(backupId)).status).to.equal('SUCCEEDED');
      return uri;
    }

    it('plans a restore dry run synchronously from a finished backup, and answers a missing one with its error', async function () {
      const uri = await backupOfOrders('dry-restore');
      const restore = (operationId: string, backupTimestamp: string) =>
        call('POST', '/api/v1/restore', {
          operationId,
          dryRun: true,
          bigQuery: { projectId: sourceProject },
          restoreStorage: { gcsOptions: { uri, backupTimestamp, projectIdOfBackup: sourceProject } },
        });

      const planned = unique('dry');
      const res = await restore(planned, 'latest');
      expect(res.status).to.equal(200);
      // The stand-in worker records no table manifests, so the plan can only say it has nothing to load.
      expect(res.body.plan).to.include({ tables: 1 });
      expect(res.body.plan!.sample.map((s) => s.table)).to.deep.equal([
        'sales.orders → restored_sales.orders',
      ]);
      expect(await store.getOperation(planned)).to.deep.include({
        status: 'SUCCEEDED',
        dryRun: true,
        taskTotal: 0,
      });
      expect((await store.countTasks(planned)).total).to.equal(0);

      const missing = unique('dry');
      const refused = await restore(missing, '20200101_000000');
      expect(refused.status).to.equal(422);
      expect(refused.body.error).to.include({ reason: 'notFound' });
      expect(refused.body.error!.message).to.contain(`no backup of project ${sourceProject}`);
      expect((await store.getOperation(missing))?.status).to.equal('FAILED');
    });

    it('refuses a restore of a missing backup, or in another format than the backup, at once over HTTP, publishing nothing', async function () {
      const uri = await backupOfOrders('admit-restore');
      const restore = async (backupTimestamp: string, importOptions?: object) => {
        const operationId = unique('admit');
        const res = await call('POST', '/api/v1/restore', {
          operationId,
          bigQuery: { projectId: sourceProject },
          restoreStorage: {
            gcsOptions: {
              uri,
              backupTimestamp,
              projectIdOfBackup: sourceProject,
              ...(importOptions ? { importOptions } : {}),
            },
          },
        });
        return { ...res, operationId };
      };

      const missing = await restore('20200101_000000');
      expect(missing.status).to.equal(400);
      expect(missing.body.error).to.include({ reason: 'notFound' });
      expect(missing.body.error!.message).to.contain(`no backup of project ${sourceProject}`);

      // The backup is Avro (request()'s exportOptions).
      const otherFormat = await restore('latest', { format: 'PARQUET' });
      expect(otherFormat.status).to.equal(400);
      expect(otherFormat.body.error).to.include({ reason: 'invalid' });
      expect(otherFormat.body.error!.message).to.match(/PARQUET/);

      await new Promise((r) => setTimeout(r, 1_000));
      for (const { operationId } of [missing, otherFormat])
        expect(await store.getOperation(operationId), operationId).to.equal(undefined);
    });

    it('answers 409 for an operationId another request holds, leaving its operation untouched, and 202 for the same request again', async function () {
      const operationId = unique('http-taken');
      const body = request(
        `gs://${BUCKET}/${operationId}`,
        { operationId },
        { tablesToBackup: [{ datasetName: 'sales', tables: ['orders'] }] },
      );
      expect((await call('POST', '/api/v1/backup', body)).status).to.equal(202);
      await waitFor(operationId);
      const before = await settled(operationId);

      const other = await call('POST', '/api/v1/backup', {
        ...body,
        bigQuery: {
          projectId: sourceProject,
          tablesToBackup: [{ datasetName: 'sales', tables: ['refunds'] }],
        },
      });
      expect(other.status).to.equal(409);
      expect(other.body.error).to.deep.include({ reason: 'conflict' });
      expect(other.body.error!.message).to.contain(`operation ${operationId} already exists`);
      expect((await call('POST', '/api/v1/backup', { ...body, dryRun: true })).status).to.equal(409);

      expect((await call('POST', '/api/v1/backup', body)).status).to.equal(202);
      expect(await store.getOperation(operationId)).to.deep.equal(before);
    });

    it('refuses at once, with the reason and publishing nothing, what the dispatcher would refuse without touching BigQuery', async function () {
      const refused = async (path: string, body: object | string) => {
        const operationId = unique('refused');
        const res = await call(
          'POST',
          path,
          typeof body === 'string'
            ? body.replace('"bigQuery":{', `"operationId":"${operationId}","bigQuery":{`)
            : { ...body, operationId },
        );
        return { ...res, operationId };
      };
      const uri = `gs://${BUCKET}/refused`;

      const future = await refused(
        '/api/v1/backup',
        request(uri, { backupTime: { localDateTime: '2999-01-01T00:00:00', timezone: 'UTC' } }),
      );
      expect(future.status).to.equal(400);
      expect(future.body.error!.issues!.map((i) => i.path)).to.deep.equal(['backupTime']);
      expect(future.body.error!.message).to.contain('is in the future');

      const old = await refused(
        '/api/v1/backup',
        request(uri, { backupTime: { localDateTime: '2020-01-01T00:00:00', timezone: 'UTC' } }),
      );
      expect(old.status).to.equal(400);
      expect(old.body.error!.message).to.contain("older than BigQuery's time travel window");

      const toS3 = await refused('/api/v1/backup', {
        bigQuery: { projectId: sourceProject },
        backupStorage: {
          s3Options: { bucket: 'some-bucket', exportOptions: { format: 'AVRO', overwrite: true } },
        },
      });
      const fromFiles = await refused('/api/v1/restore', {
        bigQuery: { projectId: sourceProject },
        restoreStorage: {
          fileOptions: { path: '/srv/backups', backupTimestamp: 'latest', projectIdOfBackup: sourceProject },
        },
      });
      const dryToS3 = await refused('/api/v1/backup', {
        dryRun: true,
        bigQuery: { projectId: sourceProject },
        backupStorage: {
          s3Options: { bucket: 'some-bucket', exportOptions: { format: 'AVRO', overwrite: true } },
        },
      });
      for (const staging of [toS3, fromFiles, dryToS3]) {
        expect(staging.status, staging.operationId).to.equal(400);
        expect(staging.body.error).to.deep.include({ reason: 'failedPrecondition' });
        expect(staging.body.error!.message).to.contain('BQBR_STAGING_URI');
      }

      const large = await call('POST', '/api/v1/backup', sixtyThousandDatasets(unique('refused')));
      expect(large.status).to.equal(413);
      expect(large.body.error!.message).to.contain('524288 bytes');

      const deep = await refused('/api/v1/backup', twentyThousandLevels());
      expect(deep.status).to.equal(400);
      expect(deep.body.error!.message).to.contain('nested deeper than 16 levels');

      // Nothing was published, so no operation was ever recorded.
      await new Promise((r) => setTimeout(r, 1_000));
      for (const { operationId } of [future, old, toS3, fromFiles, dryToS3, deep]) {
        expect(await store.getOperation(operationId), operationId).to.equal(undefined);
      }
    });

    it('takes requests as Pub/Sub push envelopes and Eventarc CloudEvents', async function () {
      const pushed = unique('push');
      const envelope = {
        message: {
          data: Buffer.from(
            JSON.stringify(
              request(
                `gs://${BUCKET}/${pushed}`,
                { operationId: pushed },
                { tablesToBackup: [{ datasetName: 'empty' }] },
              ),
            ),
          ).toString('base64'),
          attributes: { kind: 'backup' },
          messageId: '111',
          publishTime: new Date().toISOString(),
        },
        subscription: 'projects/p/subscriptions/bqbr-requests-dispatcher',
      };
      expect((await call('POST', '/pubsub/requests', envelope)).status).to.equal(204);
      expect((await waitFor(pushed)).status).to.equal('SUCCEEDED');

      const evented = unique('eventarc');
      const cloudEvent = {
        ...envelope,
        message: {
          ...envelope.message,
          messageId: '222',
          data: Buffer.from(
            JSON.stringify(
              request(
                `gs://${BUCKET}/${evented}`,
                { operationId: evented },
                { tablesToBackup: [{ datasetName: 'empty' }] },
              ),
            ),
          ).toString('base64'),
        },
      };
      const res = await call('POST', '/eventarc/requests', cloudEvent, {
        'ce-id': '222',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
        'ce-source': '//pubsub.googleapis.com/projects/p/topics/bqbr-requests',
        'ce-specversion': '1.0',
      });
      expect(res.status).to.equal(204);
      expect((await waitFor(evented)).status).to.equal('SUCCEEDED');
      expect((await call('POST', '/pubsub/requests', { hello: 'world' })).status).to.equal(400);
    });
  });
});
