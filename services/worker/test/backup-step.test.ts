// The backup step's decisions, with hand-written fakes: what the task document, the manifest, the
// events and the job ids end up as for each way a table step can go.
import {
  RetryableError,
  TableManifest,
  decode,
  extractJobId,
  fingerprintJobId,
  tableManifestUri,
} from '@bqbr/shared';
import { expect } from 'chai';
import { extractConfiguration, fieldsCsvCannotHold, runBackupStep } from '../src/backup-step.js';
import { SNAPSHOT, fixture, taskFor } from './fakes.js';

const SOURCE = { projectId: 'src-project', datasetId: 'sales', tableId: 'orders' };

const ORDERS = {
  type: 'TABLE',
  location: 'EU',
  schema: {
    fields: [
      { name: 'id', type: 'INTEGER', mode: 'REQUIRED', description: 'order id' },
      { name: 'order_date', type: 'DATE' },
    ],
  },
  timePartitioning: { type: 'DAY', field: 'order_date' },
  clustering: { fields: ['id'] },
  labels: { team: 'sales' },
  description: 'Orders',
  numBytes: '1234',
};

describe('backup step (fakes)', function () {
  it('exports a table: task SUCCEEDED with rows, bytes and files, manifest written, event published', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op1', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.tables.rows = 42;
    f.files.dataFiles.push(
      {
        name: 'data-000000000000.avro',
        uri: `${doc.spec.tableFolder}/data-000000000000.avro`,
        bytes: 100,
        md5: 'x',
        crc32c: 'y',
      },
      { name: 'data-000000000001.avro', uri: `${doc.spec.tableFolder}/data-000000000001.avro`, bytes: 50 },
    );

    const outcome = await runBackupStep(message, f.deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    const task = f.store.task('op1', doc.taskId);
    const jobId = extractJobId('op1', doc.taskId, 0);
    expect(task).to.deep.include({ status: 'SUCCEEDED', rows: 42, bytes: 150, fileCount: 2, deliveries: 1 });
    expect(task.jobIds).to.deep.equal([jobId]);
    expect(task.manifestUri).to.equal(tableManifestUri(doc.spec.tableFolder));
    const manifest = decode(TableManifest, f.files.written.get(task.manifestUri!), '_table.json');
    expect(manifest).to.deep.include({
      numRows: 42,
      tableType: 'TABLE',
      snapshotMillis: SNAPSHOT,
      snapshotTime: '2026-11-20T10:00:00.000Z',
      extractJobId: jobId,
      description: 'Orders',
      numBytes: 1234,
      location: 'EU',
    });
    expect(manifest.schema.fields[0]).to.deep.include({
      name: 'id',
      mode: 'REQUIRED',
      description: 'order id',
    });
    expect(manifest.timePartitioning).to.deep.equal({ type: 'DAY', field: 'order_date' });
    expect(manifest.clustering).to.deep.equal({ fields: ['id'] });
    expect(manifest.files.map((file) => file.bytes)).to.deep.equal([100, 50]);
    expect(manifest.export).to.deep.equal({
      format: 'AVRO',
      compression: 'NONE',
      header: true,
      fieldDelimiter: ',',
      useAvroLogicalTypes: true,
    });
    expect(f.publisher.events).to.deep.equal([
      { operationId: 'op1', taskId: doc.taskId, status: 'SUCCEEDED' },
    ]);
  });

  it('with fingerprint, queries the table at the snapshot before its extract and records the result', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op1', SOURCE, { fingerprint: true });
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.tables.rows = 2;
    const queryId = fingerprintJobId('op1', doc.taskId, 0);
    f.jobs.plan.set(queryId, { rows: [{ n: 2, f: '-2' }] });

    expect(await runBackupStep(message, f.deps, f.ctx)).to.deep.equal({
      kind: 'finished',
      status: 'SUCCEEDED',
    });
    const task = f.store.task('op1', doc.taskId);
    expect(task.jobIds).to.deep.equal([queryId, extractJobId('op1', doc.taskId, 0)]);
    const { query } = (f.jobs.created.get(queryId)!.configuration as { query: { query: string } }).query;
    expect(query).to.contain(
      `FROM \`src-project.sales.orders\` AS t FOR SYSTEM_TIME AS OF TIMESTAMP_MILLIS(${SNAPSHOT})`,
    );
    const manifest = decode(TableManifest, f.files.written.get(task.manifestUri!), '_table.json');
    expect(manifest.fingerprint).to.deep.equal({ rows: 2, value: 'fffffffffffffffe' });
  });

  it('with fingerprint, leaves out a table that requires a partition filter (BigQuery refuses a query over it all)', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op1', SOURCE, { fingerprint: true });
    f.store.put(doc);
    f.tables.set(SOURCE, { ...ORDERS, requirePartitionFilter: true });
    expect(await runBackupStep(message, f.deps, f.ctx)).to.deep.equal({
      kind: 'finished',
      status: 'SUCCEEDED',
    });
    const task = f.store.task('op1', doc.taskId);
    expect(task.jobIds).to.deep.equal([extractJobId('op1', doc.taskId, 0)]);
    const manifest = decode(TableManifest, f.files.written.get(task.manifestUri!), '_table.json');
    expect(manifest).not.to.have.property('fingerprint');
  });

  it('with overwrite false, refuses a folder that already holds data files, before any job', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op-ow', SOURCE, { overwrite: false });
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.files.dataFiles.push({
      name: 'data-000000000000.avro',
      uri: `${doc.spec.tableFolder}/data-000000000000.avro`,
      bytes: 9,
    });

    const outcome = await runBackupStep(message, f.deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    expect(f.store.task('op-ow', doc.taskId).error?.reason).to.equal('duplicate');
    expect(f.store.task('op-ow', doc.taskId).error?.message).to.match(/overwrite is false/);
    expect(f.jobs.created.size).to.equal(0);
  });

  it('with overwrite false, a redelivery after its own job wrote files carries on', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op-ow2', SOURCE, { overwrite: false });
    const jobId = extractJobId('op-ow2', doc.taskId, 0);
    f.store.put({ ...doc, status: 'RUNNING', jobIds: [jobId] });
    f.tables.set(SOURCE, ORDERS);
    f.files.dataFiles.push({
      name: 'data-000000000000.avro',
      uri: `${doc.spec.tableFolder}/data-000000000000.avro`,
      bytes: 9,
    });

    const outcome = await runBackupStep(message, f.deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    expect([...f.jobs.created.keys()]).to.deep.equal([jobId]);
  });

  it('a redelivery of a finished task publishes its event again and starts no job', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op2', SOURCE);
    f.store.put({ ...doc, status: 'SUCCEEDED' });
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'alreadyFinished', status: 'SUCCEEDED' });
    expect(f.jobs.created.size).to.equal(0);
    expect(f.publisher.events).to.have.length(1);
  });

  it('a redelivery while the job runs finds the same job instead of starting a second one', async function () {
    const f = fixture({ jobWaitMs: 0 });
    const { message, doc } = taskFor('op3', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    const jobId = extractJobId('op3', doc.taskId, 0);
    f.jobs.plan.set(jobId, { runningPolls: 3 });

    const first = await runBackupStep(message, f.deps, f.ctx);
    expect(first).to.deep.equal({ kind: 'continued', continuation: 1 });
    expect(f.publisher.tasks).to.deep.equal([{ ...message, continuation: 1 }]);
    expect(f.store.task('op3', doc.taskId).status).to.equal('RUNNING');

    // The continuation (and a duplicate of the original) arrive with the job still on its id.
    const patient = { ...f.deps, settings: { ...f.deps.settings, jobWaitMs: 1_000 } };
    const second = await runBackupStep({ ...message, continuation: 1 }, patient, f.ctx);
    expect(second).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    const third = await runBackupStep(message, patient, f.ctx);
    expect(third).to.deep.equal({ kind: 'alreadyFinished', status: 'SUCCEEDED' });
    expect([...f.jobs.created.keys()]).to.deep.equal([jobId]);
    expect(f.store.task('op3', doc.taskId)).to.deep.include({ deliveries: 2, jobAttempt: 0 });
  });

  it('a retryable job failure bumps jobAttempt and nacks; the next delivery runs job attempt 1', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op4', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.jobs.plan.set(extractJobId('op4', doc.taskId, 0), {
      error: { reason: 'backendError', message: 'boom' },
    });

    let thrown: unknown;
    await runBackupStep(message, f.deps, f.ctx).catch((err: unknown) => (thrown = err));
    expect(thrown).to.be.instanceOf(RetryableError);
    expect(f.store.task('op4', doc.taskId)).to.deep.include({ status: 'RUNNING', jobAttempt: 1 });
    expect(f.publisher.events).to.have.length(0);

    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    expect(f.store.task('op4', doc.taskId).jobIds).to.deep.equal([
      extractJobId('op4', doc.taskId, 0),
      extractJobId('op4', doc.taskId, 1),
    ]);
  });

  it('gives up after maxJobAttempts retryable job failures', async function () {
    const f = fixture({ maxJobAttempts: 2 });
    const { message, doc } = taskFor('op5', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    for (const attempt of [0, 1])
      f.jobs.plan.set(extractJobId('op5', doc.taskId, attempt), {
        error: { reason: 'rateLimitExceeded', message: 'slow down' },
      });

    await runBackupStep(message, f.deps, f.ctx).catch(() => undefined);
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    const task = f.store.task('op5', doc.taskId);
    expect(task.error?.reason).to.equal('rateLimitExceeded');
    expect(task.error?.message).to.match(/slow down.*2 times/);
    expect(f.publisher.events.map((e) => e.status)).to.deep.equal(['FAILED']);
  });

  it('a permanent job failure fails the task with the job error, acked', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op6', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.jobs.plan.set(extractJobId('op6', doc.taskId, 0), {
      error: { reason: 'invalid', message: 'Injected: bad table' },
    });
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    expect(f.store.task('op6', doc.taskId).error).to.deep.equal({
      reason: 'invalid',
      message: 'Injected: bad table',
    });
    expect(f.publisher.events.map((e) => e.status)).to.deep.equal(['FAILED']);
  });

  it('refuses an extract that wrote no file: task FAILED with the reason, no manifest', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op-none', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.jobs.plan.set(extractJobId('op-none', doc.taskId, 0), { fileCounts: [0] });
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    const { error } = f.store.task('op-none', doc.taskId);
    expect(error?.reason).to.equal('noDataFiles');
    expect(error?.message).to.match(/wrote no file.*refused/);
    expect(f.files.written.has(tableManifestUri(doc.spec.tableFolder))).to.equal(false);
  });

  it('lists only the files the job counted; a counted file missing from the folder fails the task', async function () {
    const f = fixture();
    const folder = taskFor('op-n', SOURCE).doc.spec.tableFolder;
    for (const i of [0, 1, 2])
      f.files.dataFiles.push({
        name: `data-00000000000${i}.avro`,
        uri: `${folder}/data-00000000000${i}.avro`,
        bytes: 5,
      });
    const counted = taskFor('op-2', SOURCE);
    f.store.put(counted.doc);
    f.tables.set(SOURCE, ORDERS);
    f.jobs.plan.set(extractJobId('op-2', counted.doc.taskId, 0), { fileCounts: [2] });
    expect(await runBackupStep(counted.message, f.deps, f.ctx)).to.deep.equal({
      kind: 'finished',
      status: 'SUCCEEDED',
    });
    const manifest = decode(TableManifest, f.files.written.get(tableManifestUri(folder)), '_table.json');
    expect(manifest.files.map((file) => file.name)).to.deep.equal([
      'data-000000000000.avro',
      'data-000000000001.avro',
    ]);

    const overcounted = taskFor('op-4', SOURCE);
    f.store.put(overcounted.doc);
    f.jobs.plan.set(extractJobId('op-4', overcounted.doc.taskId, 0), { fileCounts: [4] });
    expect(await runBackupStep(overcounted.message, f.deps, f.ctx)).to.deep.equal({
      kind: 'finished',
      status: 'FAILED',
    });
    const { error } = f.store.task('op-4', overcounted.doc.taskId);
    expect(error?.reason).to.equal('fileCountMismatch');
    expect(error?.message).to.match(/wrote 4 file\(s\), but 1 of them \(data-000000000003\.avro\)/);
  });

  it('a missing table fails with notFound', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op7', SOURCE);
    f.store.put(doc);
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    expect(f.store.task('op7', doc.taskId).error?.reason).to.equal('notFound');
  });

  it('CSV of a table with records or repeated fields fails as invalid before any job', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op8', SOURCE, { format: 'CSV' });
    f.store.put(doc);
    f.tables.set(SOURCE, {
      type: 'TABLE',
      schema: {
        fields: [
          { name: 'id', type: 'INTEGER' },
          { name: 'address', type: 'RECORD', fields: [{ name: 'city', type: 'STRING' }] },
          { name: 'phones', type: 'STRING', mode: 'REPEATED' },
        ],
      },
    });
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    const { error } = f.store.task('op8', doc.taskId);
    expect(error?.reason).to.equal('invalid');
    expect(error?.message).to.match(
      /CSV cannot hold nested or repeated fields \(address, phones\).*AVRO, PARQUET or JSON/,
    );
    expect(f.jobs.created.size).to.equal(0);
  });

  it('a view is SKIPPED with its query kept in _table.json', async function () {
    const f = fixture();
    const source = { ...SOURCE, tableId: 'big_orders' };
    const { message, doc } = taskFor('op9', source);
    f.store.put(doc);
    f.tables.set(source, {
      type: 'VIEW',
      schema: { fields: [{ name: 'id', type: 'INTEGER' }] },
      view: { query: 'SELECT id FROM sales.orders WHERE amount > 100', useLegacySql: false },
    });
    const outcome = await runBackupStep(message, f.deps, f.ctx);
    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SKIPPED' });
    const task = f.store.task('op9', doc.taskId);
    expect(task.note).to.match(/^view/);
    const manifest = decode(TableManifest, f.files.written.get(task.manifestUri!), '_table.json');
    expect(manifest.tableType).to.equal('VIEW');
    expect(manifest.view).to.deep.include({ query: 'SELECT id FROM sales.orders WHERE amount > 100' });
    expect(manifest.files).to.deep.equal([]);
    expect(f.jobs.created.size).to.equal(0);
    expect(f.publisher.events.map((e) => e.status)).to.deep.equal(['SKIPPED']);
  });

  it('on shutdown a waiting task hands over to a continuation at once', async function () {
    const f = fixture({ jobWaitMs: 60_000 });
    const { message, doc } = taskFor('op10', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, ORDERS);
    f.jobs.plan.set(extractJobId('op10', doc.taskId, 0), { runningPolls: Infinity });
    const shutdown = new AbortController();
    const running = runBackupStep({ ...message, continuation: 4 }, f.deps, {
      ...f.ctx,
      signal: shutdown.signal,
    });
    setTimeout(() => shutdown.abort(), 20);
    expect(await running).to.deep.equal({ kind: 'continued', continuation: 5 });
  });
});

describe('extract configuration', function () {
  const folder = 'gs://b/x/backups/20261120_100000/p/d/t';
  const spec = taskFor('op', SOURCE, { tableFolder: folder, landingFolder: folder }).message.spec;

  it('reads the table at the snapshot and writes data-* files in the table folder', function () {
    expect(extractConfiguration(spec)).to.deep.equal({
      extract: {
        sourceTable: { projectId: 'src-project', datasetId: 'sales', tableId: `orders@${SNAPSHOT}` },
        destinationUris: [`${folder}/data-*.avro`],
        destinationFormat: 'AVRO',
        useAvroLogicalTypes: true,
      },
    });
  });

  it('maps JSON to NEWLINE_DELIMITED_JSON and keeps CSV options and compression', function () {
    expect(extractConfiguration({ ...spec, format: 'JSON', compression: 'GZIP' })).to.deep.include({
      extract: {
        sourceTable: { projectId: 'src-project', datasetId: 'sales', tableId: `orders@${SNAPSHOT}` },
        destinationUris: [`${folder}/data-*.json.gz`],
        destinationFormat: 'NEWLINE_DELIMITED_JSON',
        compression: 'GZIP',
      },
    });
    const csv = extractConfiguration({ ...spec, format: 'CSV', header: false, fieldDelimiter: ';' }) as {
      extract: Record<string, unknown>;
    };
    expect(csv.extract).to.deep.include({
      destinationFormat: 'CSV',
      printHeader: false,
      fieldDelimiter: ';',
    });
  });

  it('names the fields CSV cannot hold', function () {
    expect(
      fieldsCsvCannotHold([
        { name: 'a', type: 'STRING' },
        { name: 'b', type: 'RECORD', fields: [] },
        { name: 'c', type: 'INTEGER', mode: 'REPEATED' },
        { name: 'd', type: 'STRUCT' },
      ]),
    ).to.deep.equal(['b', 'c', 'd']);
  });
});
