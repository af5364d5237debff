import { startStack, type RunningStack } from '@bqbr/emulators';
import type { Firestore } from '@google-cloud/firestore';
import { expect } from 'chai';
import {
  classifyError,
  createClients,
  dispositionOf,
  FirestoreStateStore,
  StateDocumentError,
  taskIdFor,
  type OperationDoc,
  type RestoreTaskSpec,
  type TableRef,
  type TaskDoc,
} from '../src/index.js';
import { rejection } from './support/rejection.js';

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
      home: { kind: 'gcs', uri: 'gs://bucket' },
      tablePath: `backups/20231114_221320/src-project/${datasetId}/${tableId}`,
      landingFolder: `gs://bucket/backups/20231114_221320/src-project/${datasetId}/${tableId}`,
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

/** A restore task of `backup`'s layout, with every optional field a finished task can carry. */
function restoreTask(operationId: string, tableId: string, backup: RestoreTaskSpec['backup']): TaskDoc {
  const source: TableRef = { projectId: 'src-project', datasetId: 'sales', tableId };
  const target: TableRef = { projectId: 'dst-project', datasetId: 'restored_sales', tableId };
  return {
    operationId,
    taskId: taskIdFor(source),
    table: source,
    spec: {
      kind: 'restore',
      source,
      target,
      backup,
      writeDisposition: 'WRITE_TRUNCATE',
      allowReplace: true,
      phase: 2,
      datasetMap: { sales: 'restored_sales' },
      ignoreUnknownValues: false,
      maxBadRecords: 0,
      location: 'EU',
    },
    status: 'SUCCEEDED',
    phase: 2,
    deliveries: 2,
    jobAttempt: 1,
    jobIds: ['bqbr_load_0', 'bqbr_load_1'],
    rows: 10,
    bytes: 2048,
    fileCount: 1,
    files: [
      { name: 'data-0.avro', uri: 'gs://bucket/x/data-0.avro', bytes: 2048, md5: 'bWQ1', crc32c: 'Y3Jj' },
    ],
    manifestUri: 'gs://bucket/x/_table.json',
    manifestMd5: 'bWQ1',
    createdTarget: true,
    targetExisted: false,
    note: 'view restored after its tables',
    error: { reason: 'invalid', message: 'an earlier attempt', issues: [{ path: 'a.b', message: 'bad' }] },
    createdAt: '2030-01-01T00:00:00.000Z',
    updatedAt: '2030-01-01T00:01:00.000Z',
    startedAt: '2030-01-01T00:00:01.000Z',
    finishedAt: '2030-01-01T00:01:00.000Z',
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

  describe('documents read back', function () {
    it('round-trips an operation of each kind, every field, through every read', async function () {
      const projectId = uniqueId('proj');
      const backup = operation(uniqueId('op'), {
        projectId,
        status: 'PARTIALLY_FAILED',
        requestMessageId: 'm-1',
        requestFingerprint: 'a'.repeat(64),
        snapshotMillis: 1_700_000_000_000,
        snapshotTime: '2023-11-14T22:13:20.000Z',
        location: 'gs://bucket/backups/20231114_221320',
        taskTotal: 3,
        fanOutComplete: true,
        plan: {
          tables: 3,
          skipped: 1,
          bytes: 100,
          rows: 10,
          sample: [
            { table: 'sales.orders', action: 'EXPORT', bytes: 100 },
            { table: 'sales.v', action: 'SKIP', note: 'a view' },
          ],
        },
        summary: { tables: 3, succeeded: 1, failed: 1, skipped: 1, rows: 10, bytes: 100, files: 1 },
        error: { reason: 'notFound', message: 'a table vanished' },
        warnings: ['one', 'two'],
        notified: true,
        createdAt: '2030-01-01T00:00:00.000Z',
        startedAt: '2030-01-01T00:00:00.000Z',
        finishedAt: '2030-01-01T00:05:00.000Z',
      });
      const restore = operation(uniqueId('op'), {
        kind: 'restore',
        projectId,
        status: 'RUNNING',
        request: { bigQuery: { projectId }, restoreStorage: { gcsOptions: { uri: 'gs://bucket' } } },
        dryRun: true,
        backupFolder: 'gs://bucket/backups/20231114_221320/src-project',
        backupLayout: 'original',
        phase2Released: false,
        createdAt: '2030-01-02T00:00:00.000Z',
      });
      // A refused request is kept as it came, whatever it was.
      const refused = operation(uniqueId('op'), {
        projectId,
        status: 'FAILED',
        request: null,
        error: { reason: 'invalid', message: 'invalid request', issues: [{ path: '', message: 'not JSON' }] },
        createdAt: '2030-01-03T00:00:00.000Z',
      });
      for (const doc of [backup, restore, refused]) await store.createOperation(doc);

      for (const doc of [backup, restore, refused]) {
        expect(await store.getOperation(doc.operationId)).to.deep.equal(doc);
      }
      expect(await store.listOperations({ projectId })).to.deep.equal([refused, restore, backup]);
      expect((await store.createOperation(backup)).operation).to.deep.equal(backup);
    });

    it('round-trips a backup task and a restore task of each layout', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const home = { kind: 's3', bucket: 'b', prefix: 'p', region: 'eu-west-1' } as const;
      const tasks = [
        task(id, 'backed_up'),
        restoreTask(id, 'bqbr', {
          layout: 'bqbr',
          home,
          tablePath: 'backups/20231114_221320/src-project/sales/bqbr',
          landingFolder: 'gs://staging/x/bqbr',
          manifestPath: 'backups/20231114_221320/src-project/sales/bqbr/_table.json',
          manifestUri: 's3://b/p/backups/20231114_221320/src-project/sales/bqbr/_table.json',
          manifestMd5: 'bWQ1',
        }),
        restoreTask(id, 'original', {
          layout: 'original',
          files: ['gs://bucket/backups/x/sales/original-000.avro'],
          format: 'CSV',
          header: true,
          fieldDelimiter: ';',
        }),
        restoreTask(id, 'absent', { layout: 'absent' }),
      ];
      expect(await store.createTasks(id, tasks)).to.equal(tasks.length);

      for (const doc of tasks) expect(await store.getTask(id, doc.taskId)).to.deep.equal(doc);
      const byId = (a: TaskDoc, b: TaskDoc) => a.taskId.localeCompare(b.taskId);
      expect(await store.listTasks(id)).to.deep.equal([...tasks].sort(byId));
    });

    it('fails a document Firestore cannot store as permanent and invalid, whether the client or the server refuses it', async function () {
      // The client refuses an empty field name itself; the server an array in an array and a reserved name.
      for (const request of [{ '': 1 }, { x: [[1]] }, { __x__: 1 }]) {
        const id = uniqueId('op');
        const err = await rejection(store.createOperation(operation(id, { request })));
        expect(classifyError(err), JSON.stringify(request)).to.include({
          kind: 'permanent',
          reason: 'invalid',
        });
        expect(await store.getOperation(id)).to.equal(undefined);
      }
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const err = await rejection(store.updateOperation(id, { warnings: [''], request: { '': 1 } }));
      expect(classifyError(err)).to.include({ kind: 'permanent', reason: 'invalid' });
      expect(err.message).to.include(`operations/${id}`);
    });

    it('refuses an operation that does not decode, naming its path and fields', async function () {
      const id = uniqueId('op');
      const projectId = uniqueId('proj');
      await firestore
        .collection('operations')
        .doc(id)
        .set({ ...operation(id, { projectId }), status: 'DONE', taskTotal: -1, warnings: 'none' });

      const err = await rejection(store.getOperation(id));
      expect(err).to.be.instanceOf(StateDocumentError);
      expect(err.message).to.include(`operations/${id}:`);
      expect(err.message).to.include(
        'status: expected one of PLANNING, RUNNING, SUCCEEDED, PARTIALLY_FAILED, FAILED, got "DONE"',
      );
      expect(err.message).to.include('taskTotal: expected an integer >= 0, got -1');
      expect(err.message).to.include('warnings: expected Array<string>, got "none"');
      expect((await rejection(store.listOperations({ projectId }))).message).to.include(`operations/${id}:`);
      // Nacked for the dead-letter handler, not dropped; recorded as permanent where callers record failures.
      expect(dispositionOf(err)).to.include({ disposition: 'nack', kind: 'permanent', reason: 'dataLoss' });
      expect(classifyError(err).message).to.equal(err.message);
      // A transaction decodes the status it guards.
      const transition = await rejection(store.transitionOperation(id, ['RUNNING'], 'FAILED'));
      expect(transition.message).to.include(`operations/${id}: status: expected one of`);
    });

    it('refuses a task that does not decode, yet a transition that reads only its status still runs', async function () {
      const id = uniqueId('op');
      await store.createOperation(operation(id));
      const good = task(id, 'good');
      const bad = task(id, 'bad');
      await store.createTasks(id, [good]);
      const { spec, ...rest } = bad;
      await firestore
        .collection(`operations/${id}/tasks`)
        .doc(bad.taskId)
        .set({ ...rest, spec: { ...spec, kind: 'copy' }, jobIds: ['job_0', 7], deliveries: 'twice' });
      const path = `operations/${id}/tasks/${bad.taskId}`;

      const err = await rejection(store.getTask(id, bad.taskId));
      expect(err).to.be.instanceOf(StateDocumentError).and.to.include({ documentPath: path });
      expect(err.message).to.include(`${path}:`);
      expect(err.message).to.include('spec: expected TaskSpec');
      expect(err.message).to.include('jobIds[1]: expected a string, got 7');
      expect(err.message).to.include('deliveries: expected an integer >= 0, got "twice"');
      expect((await rejection(store.listTasks(id))).message).to.include(`${path}:`);
      // The dead-letter handler can still fail it, and the rest of the operation reads as before.
      expect(await store.transitionTask(id, bad.taskId, ['PENDING', 'RUNNING'], 'FAILED')).to.equal(true);
      expect(await store.listTasks(id, { status: 'PENDING' })).to.deep.equal([good]);

      await firestore.doc(path).update({ status: 'LOST' });
      const transition = await rejection(store.transitionTask(id, bad.taskId, ['FAILED'], 'PENDING'));
      expect(transition.message).to.include(
        `${path}: status: expected one of PENDING, RUNNING, SUCCEEDED, FAILED, SKIPPED, got "LOST"`,
      );
    });

    it('refuses a catalogue entry that does not decode', async function () {
      const projectId = uniqueId('proj');
      const backupId = uniqueId('b');
      await firestore.collection('backups').doc(backupId).set({ backupId, projectId, snapshotMillis: 1 });
      const err = await rejection(store.listBackups({ projectId }));
      expect(err.message).to.include(`backups/${backupId}:`);
      expect(err.message).to.include('location: required');
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
