// The verify step's decisions on a real file store: which files a subset reads, how a file is compared
// with its manifest entry, what a task records and names, and a table read over several deliveries.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, type BackupStore, type DestinationSpec } from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { checkFile } from '../src/verify-file.js';
import { inSubset } from '../src/verify-subset.js';
import { TABLE_PATH, dataFile, md5, put, verifyFixture, writeTableBackup } from './verify-support.js';

describe('verify: the files a subset reads', function () {
  const paths = Array.from({ length: 2000 }, (_, n) => `sales/orders/${dataFile(n)}`);

  it('puts every file in exactly one of the parts n/t', function () {
    for (const of of [1, 3, 5]) {
      const parts = Array.from({ length: of }, (_, i) =>
        paths.filter((path) => inSubset(path, { part: i + 1, of })),
      );
      expect(parts.flat().sort()).to.deep.equal([...paths].sort());
      // Roughly even: no part is empty or holds most of the files.
      for (const part of parts)
        expect(part.length).to.be.within(paths.length / of / 2, (paths.length / of) * 2);
    }
  });

  it('reads every file at 100% and a growing share as the percentage grows', function () {
    expect(paths.every((path) => inSubset(path, { percent: 100 }))).to.equal(true);
    const ten = paths.filter((path) => inSubset(path, { percent: 10 }));
    const fifty = paths.filter((path) => inSubset(path, { percent: 50 }));
    expect(ten.length).to.be.within(100, 300);
    expect(ten.every((path) => fifty.includes(path))).to.equal(true);
    expect(fifty.length).to.be.within(800, 1200);
  });

  it('chooses by the path in the backup, so tables with the same file names are sampled apart', function () {
    const of = (table: string) =>
      Array.from({ length: 50 }, (_, n) => dataFile(n)).filter((name) =>
        inSubset(`sales/${table}/${name}`, { part: 1, of: 2 }),
      );
    expect(of('orders')).to.not.deep.equal(of('customers'));
    expect(of('orders')).to.deep.equal(of('orders'));
  });
});

describe('verify step (a file store)', function () {
  let root: string;
  let store: BackupStore;
  let home: DestinationSpec;
  const stores = () => store;

  beforeEach(async function () {
    root = await mkdtemp(join(tmpdir(), 'verify-step-'));
    home = { kind: 'file', path: join(root, 'backups-here') };
    store = createStore(home, {
      storage: new Storage({ projectId: 'unused' }),
      env: { BQBR_FILE_ROOTS: root },
    });
  });

  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  const files = (count: number, size = 1000): Buffer[] =>
    Array.from({ length: count }, () => randomBytes(size));

  it('compares one file with its entry: whole, one byte changed, cut short, gone', async function () {
    const data = randomBytes(5000);
    const path = `${TABLE_PATH}/${dataFile(0)}`;
    const spec = await writeTableBackup(store, home, [data]);
    const entry = { name: dataFile(0), uri: store.uri(path), bytes: data.length, md5: md5(data) };
    const signal = new AbortController().signal;
    expect(await checkFile(store, path, entry, signal)).to.deep.equal({ bytes: 5000 });

    const changed = Buffer.from(data);
    changed[10] = changed[10]! ^ 0xff;
    await put(store, path, changed);
    const damaged = await checkFile(store, path, entry, signal);
    expect(damaged.problem).to.equal(`damaged: MD5 expected ${md5(data)}, got ${md5(changed)}`);

    await put(store, path, data.subarray(0, 4000));
    expect((await checkFile(store, path, entry, signal)).problem).to.match(
      /^damaged: size expected 5000 bytes, got 4000; MD5 expected/,
    );
    await store.delete(path);
    expect(await checkFile(store, path, entry, signal)).to.deep.equal({ bytes: 0, problem: 'missing' });
    expect(spec.manifestMd5).to.be.a('string');
  });

  it('succeeds on a whole table and records the files and bytes it read', async function () {
    const f = verifyFixture(stores);
    const spec = await writeTableBackup(store, home, files(3));
    const { task } = await f.verify(spec);
    expect(task).to.include({ status: 'SUCCEEDED', fileCount: 3, bytes: 3000 });
    expect(f.publisher.events.map((e) => e.status)).to.deep.equal(['SUCCEEDED']);
  });

  it('checks a view: its manifest is read, it has no files to read', async function () {
    const f = verifyFixture(stores);
    const { task } = await f.verify(await writeTableBackup(store, home, [], { view: true }));
    expect(task).to.include({ status: 'SUCCEEDED', fileCount: 0, bytes: 0 });
  });

  it('fails naming every damaged, missing and unexpected file', async function () {
    const f = verifyFixture(stores);
    const spec = await writeTableBackup(store, home, files(4));
    await put(store, `${TABLE_PATH}/${dataFile(1)}`, randomBytes(1000));
    await store.delete(`${TABLE_PATH}/${dataFile(2)}`);
    await put(store, `${TABLE_PATH}/${dataFile(9)}`, randomBytes(10));
    const { task } = await f.verify(spec);
    expect(task.status).to.equal('FAILED');
    expect(task.error?.reason).to.equal('verifyFailed');
    expect(task.error?.issues?.map((i) => `${i.path} ${i.message.split(':')[0]}`).sort()).to.deep.equal([
      `${dataFile(1)} damaged`,
      `${dataFile(2)} missing`,
      `${dataFile(9)} unexpected file`,
    ]);
    expect(task.error?.message).to.match(/^3 problem\(s\) in the backup of src-project:sales\.orders/);
    expect(task).to.include({ fileCount: 3, bytes: 3000 });
  });

  it('fails naming _table.json when it is not the manifest _backup.json recorded, or is gone', async function () {
    const f = verifyFixture(stores);
    const spec = await writeTableBackup(store, home, files(1));
    await put(store, spec.manifestPath, Buffer.from('{"altered": true}'));
    const altered = (await f.verify(spec)).task;
    expect(altered.status).to.equal('FAILED');
    expect(altered.error?.issues).to.have.length(1);
    expect(altered.error?.issues?.[0]?.path).to.equal('_table.json');
    expect(altered.error?.issues?.[0]?.message).to.contain(`but _backup.json recorded ${spec.manifestMd5}`);

    await store.delete(spec.manifestPath);
    const gone = (await f.verify(spec)).task;
    expect(gone.error?.issues).to.deep.equal([{ path: '_table.json', message: 'missing' }]);
  });

  it('reads only the subset, and still finds a missing file outside it from the listing', async function () {
    const f = verifyFixture(stores);
    const spec = await writeTableBackup(store, home, files(20));
    const part = { part: 1, of: 4 };
    const inPart = Array.from({ length: 20 }, (_, n) => dataFile(n)).filter((name) =>
      inSubset(`sales/orders/${name}`, part),
    );
    const { task } = await f.verify({ ...spec, subset: part });
    expect(task).to.include({ status: 'SUCCEEDED', fileCount: inPart.length, bytes: inPart.length * 1000 });
    expect(task.note).to.equal(`read ${inPart.length} of 20 files`);

    const outside = Array.from({ length: 20 }, (_, n) => dataFile(n)).find((name) => !inPart.includes(name))!;
    await store.delete(`${TABLE_PATH}/${outside}`);
    const missing = (await f.verify({ ...spec, subset: part })).task;
    expect(missing.error?.issues).to.deep.equal([{ path: outside, message: 'missing' }]);
  });

  it('goes on in continuations when out of budget, each reading on from where the last stopped', async function () {
    // No budget: every delivery reads one file (the first it starts), then hands over.
    const f = verifyFixture(stores, { jobWaitMs: 0, transferConcurrency: 1 });
    const spec = await writeTableBackup(store, home, files(4));
    // A problem found by the first delivery is still reported at the end.
    await put(store, `${TABLE_PATH}/${dataFile(0)}`, randomBytes(1000));
    const { task, deliveries } = await f.verify(spec);
    expect(deliveries).to.equal(4);
    expect(f.publisher.tasks.map((m) => m.continuation)).to.deep.equal([1, 2, 3]);
    expect(task).to.include({ status: 'FAILED', fileCount: 4, bytes: 4000 });
    expect(task.error?.issues?.map((i) => i.path)).to.deep.equal([dataFile(0)]);
  });
});
