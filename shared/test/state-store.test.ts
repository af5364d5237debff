import { startStack, type RunningStack } from '@bqbr/emulators';
import type { Firestore } from '@google-cloud/firestore';
import { expect } from 'chai';
import {
  createClients,
  FirestoreStateStore,
  taskIdFor,
  type OperationDoc,
  type TableRef,
  type TaskDoc,
} from '../src/index.js';

const PROJECT = 'state-store-test';

function operation(operationId: string, extra: Partial<OperationDoc> = {}): OperationDoc {
  const now = new Date().toISOString();
  return {
    operationId,
    kind: 'backup',
    status: 'PLANNING',
    projectId: 'src-project',
    request: { bigQuery: { projectId: 'src-project' } },
    dryRun: false,
    taskTotal: 0,
    fanOutComplete: false,
    createdAt: now,
    updatedAt: now,
    ...extra,
  };
}

function task(operationId: string, tableId: string, datasetId = 'sales'): TaskDoc {
  const table: TableRef = { projectId: 'src-project', datasetId, tableId };
  const now = new Date().toISOString();
  return {
    operationId,
    taskId: taskIdFor(table),
    table,
    spec: {
      kind: 'backup',
      source: table,
      snapshotMillis: 1_700_000_000_000,
      tableFolder: `gs://bucket/backups/20231114_221320/src-project/${datasetId}/${tableId}`,
      format: 'AVRO',
      compression: 'SNAPPY',
      header: true,
      fieldDelimiter: ',',
    },
    status: 'PENDING',
    deliveries: 0,
    jobAttempt: 0,
    jobIds: [],
    createdAt: now,
    updatedAt: now,
  };
}

describe('FirestoreStateStore (Firestore emulator)', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let firestore: Firestore;
  let store: FirestoreStateStore;
  let seq = 0;
  const uniqueId = (prefix: string): string => `${prefix}-${Date.now()}-${(seq += 1)}`;

  before(async function () {
    stack = await startStack({ services: ['firestore'], ports: { firestore: 0 }, projectId: PROJECT });
    firestore = createClients(stack.env, PROJECT).firestore;
    store = new FirestoreStateStore(firestore);
  });

  after(async function () {
    await firestore?.terminate();
    await stack?.stop();
  });

  describe('operations', function () {
    it('creates an operation once and returns the stored one to a second create', async function () {
      const id = uniqueId('op');
      const first = await store.createOperation(operation(id, { requestMessageId: 'm-1' }));
      expect(first.created).to.equal(true);

      const second = await store.createOperation(
        operation(id, { requestMessageId: 'm-2', status: 'RUNNING' }),
      );
      expect(second.created).to.equal(false);
      expect(second.operation).to.include({ operationId: id, requestMessageId: 'm-1', status: 'PLANNING' });
      expect(await store.getOperation(id)).to.include({ requestMessageId: 'm-1' });
      expect(await store.getOperation(uniqueId('missing'))).to.equal(undefined);
    });

    it('updates fields, leaving out undefined ones instead of failing', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id, { location: 'gs://b/backups/x' }));
      await store.updateOperation(id, { taskTotal: 500, location: undefined, snapshotMillis: 42 });
      const stored = await store.getOperation(id);
      expect(stored).to.include({ taskTotal: 500, location: 'gs://b/backups/x', snapshotMillis: 42 });
    });

    it('moves an operation only from the allowed statuses, exactly once under concurrency', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id, { status: 'RUNNING' }));

      expect(await store.transitionOperation(id, ['PLANNING'], 'RUNNING')).to.equal(false);
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          store.transitionOperation(id, ['RUNNING'], 'SUCCEEDED', { notified: false, finishedAt: 'now' }),
        ),
      );
      expect(results.filter(Boolean)).to.have.length(1);
      expect(await store.getOperation(id)).to.include({
        status: 'SUCCEEDED',
        notified: false,
        finishedAt: 'now',
      });
      expect(await store.transitionOperation(uniqueId('missing'), ['RUNNING'], 'FAILED')).to.equal(false);
    });

    it('lists operations newest first, filtered, and pages with createdBefore', async function () {
      const projectId = uniqueId('proj');
      const ids: string[] = [];
      for (let i = 0; i < 5; i += 1) {
        const id = uniqueId('op');
        ids.push(id);
        await store.createOperation(
          operation(id, {
            projectId,
            createdAt: new Date(Date.UTC(2030, 0, 1 + i)).toISOString(),
            status: i % 2 === 0 ? 'SUCCEEDED' : 'FAILED',
          }),
        );
      }
      const page1 = await store.listOperations({ projectId, limit: 2 });
      expect(page1.map((o) => o.operationId)).to.deep.equal([ids[4], ids[3]]);
      const page2 = await store.listOperations({ projectId, limit: 2, createdBefore: page1[1]!.createdAt });
      expect(page2.map((o) => o.operationId)).to.deep.equal([ids[2], ids[1]]);
      const failed = await store.listOperations({ projectId, status: 'FAILED', kind: 'backup' });
      expect(failed.map((o) => o.operationId)).to.deep.equal([ids[3], ids[1]]);
    });
  });

  describe('tasks', function () {
    it('creates only missing tasks and leaves existing ones alone', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const tasks = ['a', 'b', 'c'].map((t) => task(id, t));
      expect(await store.createTasks(id, tasks.slice(0, 2))).to.equal(2);
      expect(await store.transitionTask(id, 'sales.a', ['PENDING'], 'RUNNING', { deliveries: 1 })).to.equal(
        true,
      );

      expect(await store.createTasks(id, tasks)).to.equal(1);
      expect(await store.getTask(id, 'sales.a')).to.include({ status: 'RUNNING', deliveries: 1 });
      expect(await store.getTask(id, 'sales.c')).to.include({ status: 'PENDING' });
      expect(await store.createTasks(id, [])).to.equal(0);
    });

    it('keeps a table name that is not a safe document id under a hashed task id', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const odd = task(id, 'a/b', '__x__');
      expect(odd.taskId).to.match(/^t_[0-9a-f]{40}$/);
      expect(await store.createTasks(id, [odd])).to.equal(1);
      expect((await store.getTask(id, odd.taskId))?.table).to.deep.equal(odd.table);
    });

    it('guards task transitions and records the patch', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      await store.createTasks(id, [task(id, 'orders')]);

      const starts = await Promise.all(
        Array.from({ length: 8 }, () => store.transitionTask(id, 'sales.orders', ['PENDING'], 'RUNNING')),
      );
      expect(starts.filter(Boolean)).to.have.length(1);
      await store.updateTask(id, 'sales.orders', {
        jobAttempt: 1,
        jobIds: ['job_0', 'job_1'],
        error: undefined,
      });
      expect(
        await store.transitionTask(id, 'sales.orders', ['RUNNING'], 'SUCCEEDED', {
          rows: 10,
          bytes: 2048,
          fileCount: 2,
          files: [{ name: 'data-0.avro', uri: 'gs://bucket/x/data-0.avro', bytes: 2048, md5: undefined }],
          finishedAt: 'then',
        }),
      ).to.equal(true);
      expect(await store.transitionTask(id, 'sales.orders', ['PENDING', 'RUNNING'], 'FAILED')).to.equal(
        false,
      );
      expect(await store.getTask(id, 'sales.orders')).to.deep.include({
        status: 'SUCCEEDED',
        jobAttempt: 1,
        jobIds: ['job_0', 'job_1'],
        rows: 10,
        fileCount: 2,
      });
    });

    it('counts tasks by status and sums what the succeeded ones wrote', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      await store.createTasks(
        id,
        ['t1', 't2', 't3', 't4', 't5', 't6'].map((t) => task(id, t)),
      );
      await store.transitionTask(id, 'sales.t1', ['PENDING'], 'SUCCEEDED', {
        rows: 100,
        bytes: 1000,
        fileCount: 1,
      });
      await store.transitionTask(id, 'sales.t2', ['PENDING'], 'SUCCEEDED', {
        rows: 5,
        bytes: 50,
        fileCount: 3,
      });
      await store.transitionTask(id, 'sales.t3', ['PENDING'], 'FAILED', {
        rows: 7,
        error: { reason: 'notFound', message: 'gone' },
      });
      await store.transitionTask(id, 'sales.t4', ['PENDING'], 'SKIPPED', {
        note: 'view: definition not exported',
      });
      await store.transitionTask(id, 'sales.t5', ['PENDING'], 'RUNNING');

      expect(await store.countTasks(id)).to.deep.equal({
        PENDING: 1,
        RUNNING: 1,
        SUCCEEDED: 2,
        FAILED: 1,
        SKIPPED: 1,
        total: 6,
        terminal: 4,
      });
      expect(await store.sumTasks(id)).to.deep.equal({ rows: 105, bytes: 1050, files: 4 });
      expect(await store.sumTasks(uniqueId('empty'))).to.deep.equal({ rows: 0, bytes: 0, files: 0 });

      // Unfinished while any task is PENDING or RUNNING; finished once both are terminal.
      expect(await store.hasUnfinishedTasks(id)).to.equal(true);
      await store.transitionTask(id, 'sales.t5', ['RUNNING'], 'SUCCEEDED');
      expect(await store.hasUnfinishedTasks(id)).to.equal(true);
      await store.transitionTask(id, 'sales.t6', ['PENDING'], 'FAILED');
      expect(await store.hasUnfinishedTasks(id)).to.equal(false);
    });

    it('lists tasks in taskId order a page at a time, optionally by status', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const names = Array.from({ length: 7 }, (_, i) => `t${i}`);
      await store.createTasks(
        id,
        [...names].reverse().map((t) => task(id, t)),
      );
      await store.transitionTask(id, 'sales.t2', ['PENDING'], 'FAILED');
      await store.transitionTask(id, 'sales.t5', ['PENDING'], 'FAILED');

      const seen: string[] = [];
      let startAfter: string | undefined;
      for (;;) {
        const page = await store.listTasks(id, { limit: 3, ...(startAfter ? { startAfter } : {}) });
        seen.push(...page.map((t) => t.taskId));
        if (page.length < 3) break;
        startAfter = page[page.length - 1]!.taskId;
      }
      expect(seen).to.deep.equal(names.map((t) => `sales.${t}`));
      const failed = await store.listTasks(id, { status: 'FAILED' });
      expect(failed.map((t) => t.taskId)).to.deep.equal(['sales.t2', 'sales.t5']);
    });
  });

  describe('backups catalogue', function () {
    it('puts entries idempotently and lists them newest snapshot first', async function () {
      const projectId = uniqueId('proj');
      const entry = (backupId: string, snapshotMillis: number) => ({
        backupId,
        operationId: backupId,
        projectId,
        snapshotMillis,
        snapshotTime: new Date(snapshotMillis).toISOString(),
        location: `gs://bucket/backups/${snapshotMillis}`,
        format: 'AVRO',
        compression: 'SNAPPY',
        status: 'SUCCEEDED' as const,
        tables: 3,
        failedTables: 0,
        rows: 10,
        bytes: 100,
        files: 3,
        createdAt: new Date().toISOString(),
      });
      await store.putBackup(entry('b-old', 1_000));
      await store.putBackup(entry('b-new', 2_000));
      await store.putBackup({ ...entry('b-new', 2_000), tables: 4 });

      const listed = await store.listBackups({ projectId });
      expect(listed.map((b) => [b.backupId, b.tables])).to.deep.equal([
        ['b-new', 4],
        ['b-old', 3],
      ]);
      expect(await store.listBackups({ projectId, limit: 1 })).to.have.length(1);
    });
  });
});
