// The restore step's decisions, with hand-written fakes and real file stores: where a table's files are
// checked and loaded from (a Cloud Storage home's own table folder, or a landing folder they are carried
// into), what the task records, and what is left behind.
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  fileStore,
  restoreJobId,
  taskIdFor,
  tablePath,
  type BackupFileEntry,
  type BackupStore,
  type DestinationSpec,
  type RestoreTaskSpec,
  type TableBackup,
  type TaskDoc,
  type TaskMessage,
} from '@bqbr/shared';
import { expect } from 'chai';
import { runRestoreStep } from '../src/restore-step.js';
import { buildTableManifest } from '../src/table-manifest.js';
import { FakeTargets, SNAPSHOT, fixture, pendingTask, taskFor, type Fixture } from './fakes.js';

const SOURCE = { projectId: 'src-project', datasetId: 'sales', tableId: 'orders' };
const TARGET = { projectId: 'dst-project', datasetId: 'restored_sales', tableId: 'orders' };
const PATH = tablePath(SNAPSHOT, SOURCE.projectId, SOURCE.datasetId, SOURCE.tableId);

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');

function restoreTask(
  operationId: string,
  backup: TableBackup,
): { message: TaskMessage & { spec: RestoreTaskSpec }; doc: TaskDoc } {
  const spec: RestoreTaskSpec = {
    kind: 'restore',
    source: SOURCE,
    target: TARGET,
    backup,
    writeDisposition: 'WRITE_EMPTY',
    allowReplace: false,
    phase: 1,
    datasetMap: { sales: 'restored_sales' },
    ignoreUnknownValues: false,
    maxBadRecords: 0,
  };
  const message = { operationId, taskId: taskIdFor(TARGET), spec };
  return { message, doc: pendingTask(message, TARGET) };
}

/** `_table.json` of a three-row table with these files, as the backup step writes it. */
const manifestWith = (files: BackupFileEntry[]) =>
  buildTableManifest({
    operationId: 'backup-op',
    spec: taskFor('backup-op', SOURCE).message.spec,
    table: { type: 'TABLE', schema: { fields: [{ name: 'n', type: 'INTEGER' }] } },
    numRows: 3,
    files,
    extractJobId: 'bqbr_backup_x',
    createdAt: new Date(SNAPSHOT),
  });

/** The load job writes `rows` rows into the target when it is done. */
function loadWrites(f: Fixture, targets: FakeTargets, message: TaskMessage, rows: number): void {
  f.jobs.plan.set(restoreJobId(message.operationId, message.taskId, 0, 'load'), {
    effect: () => targets.set(TARGET, { type: 'TABLE', numRows: rows }),
  });
}

const loadedUris = (f: Fixture, message: TaskMessage): unknown => {
  const load = f.jobs.created.get(restoreJobId(message.operationId, message.taskId, 0, 'load'));
  return (load?.configuration as { load: { sourceUris: string[] } } | undefined)?.load.sourceUris;
};

describe('restore step, Cloud Storage home (fakes)', function () {
  const home = 'gs://bucket/root';
  const folder = `${home}/${PATH}`;
  const files: BackupFileEntry[] = [
    {
      name: 'data-000000000000.avro',
      uri: `${folder}/data-000000000000.avro`,
      bytes: 100,
      md5: 'a',
      crc32c: 'c',
    },
    { name: 'data-000000000001.avro', uri: `${folder}/data-000000000001.avro`, bytes: 50, md5: 'b' },
  ];
  const backup: TableBackup = {
    layout: 'bqbr',
    home: { kind: 'gcs', uri: home },
    tablePath: PATH,
    landingFolder: folder,
    manifestPath: `${PATH}/_table.json`,
    manifestUri: `${folder}/_table.json`,
  };

  function setUp(operationId: string, stored: BackupFileEntry[]) {
    const f = fixture();
    const targets = new FakeTargets();
    const { message, doc } = restoreTask(operationId, backup);
    f.store.put(doc);
    f.files.written.set(`${folder}/_table.json`, manifestWith(files));
    f.files.dataFiles.push(...stored);
    loadWrites(f, targets, message, 3);
    return { f, message, doc, deps: { ...f.deps, targets } };
  }

  it("loads the table folder's own files, records the backup's, and leaves them in place", async function () {
    const { f, message, doc, deps } = setUp('op-gcs', files);

    const outcome = await runRestoreStep(message, deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    expect(f.store.task('op-gcs', doc.taskId)).to.deep.include({
      status: 'SUCCEEDED',
      rows: 3,
      bytes: 150,
      fileCount: 2,
      files,
      manifestUri: `${folder}/_table.json`,
    });
    expect(loadedUris(f, message)).to.deep.equal(files.map((file) => file.uri));
    expect(f.files.dataFiles).to.deep.equal(files);
  });

  it('refuses a data file that does not match the manifest, before any job', async function () {
    const changed = [files[0]!, { ...files[1]!, md5: 'changed' }];
    const { f, message, doc, deps } = setUp('op-bad', changed);

    const outcome = await runRestoreStep(message, deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    const { error } = f.store.task('op-bad', doc.taskId);
    expect(error?.reason).to.equal('checksumMismatch');
    expect(error?.message).to.contain(files[1]!.uri).and.contain('MD5 changed, manifest b');
    expect(f.jobs.created.size).to.equal(0);
  });
});

describe('restore step, home outside Cloud Storage (file stores)', function () {
  let root: string;
  let home: BackupStore;
  let files: BackupFileEntry[];

  beforeEach(async function () {
    root = await mkdtemp(join(tmpdir(), 'bqbr-restore-'));
    home = fileStore('/', join(root, 'home'), [root]);
    files = [];
    for (let i = 0; i < 3; i++) {
      const name = `data-00000000000${i}.avro`;
      const data = randomBytes(500 + i * 300);
      await home.put(`${PATH}/${name}`, Readable.from([data]));
      files.push({ name, uri: home.uri(`${PATH}/${name}`), bytes: data.length, md5: md5(data) });
    }
    const manifest = Buffer.from(JSON.stringify(manifestWith(files)));
    await home.put(`${PATH}/_table.json`, Readable.from([manifest]));
  });

  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it('carries the files into the landing folder, loads them from there and clears it', async function () {
    const f = fixture();
    const targets = new FakeTargets();
    // The landing folder's Cloud Storage folder stands in as a directory of its own.
    const landing = fileStore('/', join(root, 'landing'), [root]);
    const stores = (where: DestinationSpec): BackupStore => (where.kind === 'file' ? home : landing);
    const { message, doc } = restoreTask('op-file', {
      layout: 'bqbr',
      home: { kind: 'file', path: join(root, 'home') },
      tablePath: PATH,
      landingFolder: 'gs://staging/op-file/dst-project/restored_sales/orders',
      manifestPath: `${PATH}/_table.json`,
      manifestUri: home.uri(`${PATH}/_table.json`),
    });
    f.store.put(doc);
    let landedAtLoad: string[] = [];
    f.jobs.plan.set(restoreJobId('op-file', doc.taskId, 0, 'load'), {
      effect: () => {
        landedAtLoad = readdirSync(join(root, 'landing')).sort();
        targets.set(TARGET, { type: 'TABLE', numRows: 3 });
      },
    });

    const outcome = await runRestoreStep(message, { ...f.deps, targets, stores }, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'SUCCEEDED' });
    expect(landedAtLoad).to.deep.equal(files.map((file) => file.name));
    expect(loadedUris(f, message)).to.deep.equal(files.map((file) => landing.uri(file.name)));
    expect(f.store.task('op-file', doc.taskId)).to.deep.include({
      status: 'SUCCEEDED',
      rows: 3,
      files,
      manifestUri: home.uri(`${PATH}/_table.json`),
    });
    expect(await landing.list('')).to.deep.equal([]);
    // The backup itself is untouched.
    expect((await home.list(`${PATH}/data-`)).map((e) => e.path)).to.deep.equal(
      files.map((file) => `${PATH}/${file.name}`),
    );
  });
});

describe('restore step, no backup to load', function () {
  it('fails a task whose backup is absent permanently, with nothing done', async function () {
    const f = fixture();
    const { message, doc } = restoreTask('op-absent', { layout: 'absent' });
    f.store.put(doc);

    const outcome = await runRestoreStep(message, f.deps, f.ctx);

    expect(outcome).to.deep.equal({ kind: 'finished', status: 'FAILED' });
    const { error } = f.store.task('op-absent', doc.taskId);
    expect(error?.reason).to.equal('invalid');
    expect(error?.message).to.match(/sales\.orders has no backup to load \(layout "absent"\)/);
    expect(f.jobs.created.size).to.equal(0);
    expect(f.publisher.events.map((e) => e.status)).to.deep.equal(['FAILED']);
  });
});
