// Carrying files between stores (staging ↔ destination), on real file stores in temporary directories:
// every file arrives whole, files already whole are not copied again (a redelivery resumes), a stop
// leaves the rest for the next delivery, and a file that is not what its entry says never lands.
import { fileStore, TEMP_MARKER, type BackupStore } from '@bqbr/shared';
import { expect } from 'chai';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { copyFiles, type FileToCopy } from '../src/transfer.js';

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');

async function readAll(store: BackupStore, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(path)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('copyFiles (file stores)', function () {
  let root: string;
  let from: BackupStore;
  let to: BackupStore;
  let files: FileToCopy[];
  const contents = new Map<string, Buffer>();

  beforeEach(async function () {
    root = await mkdtemp(join(tmpdir(), 'bqbr-transfer-'));
    from = fileStore('/', join(root, 'staging'), [root]);
    to = fileStore('/', join(root, 'destination'), [root]);
    files = [];
    for (let i = 0; i < 6; i++) {
      const name = `data-00000000000${i}.avro`;
      const data = randomBytes(1000 + i * 777);
      contents.set(name, data);
      await from.put(name, Readable.from([data]));
      files.push({ from: name, to: `backups/t/p/d/t/${name}`, bytes: data.length, md5: md5(data) });
    }
  });

  afterEach(async function () {
    await rm(root, { recursive: true, force: true });
  });

  it('copies every file whole, a few at once', async function () {
    const report = await copyFiles(from, to, files, { concurrency: 3 });
    expect(report).to.deep.equal({
      copied: 6,
      skipped: 0,
      bytes: files.reduce((n, f) => n + f.bytes, 0),
      complete: true,
    });
    for (const file of files)
      expect((await readAll(to, file.to)).equals(contents.get(file.from)!), file.to).to.equal(true);
  });

  it('skips files already whole at the far end and replaces one that is not', async function () {
    await copyFiles(from, to, files.slice(0, 4), { concurrency: 2 });
    // A file cut short (as a broken copy without atomic writes would leave it) is copied again.
    await to.put(files[1]!.to, Readable.from([contents.get(files[1]!.from)!.subarray(0, 10)]));
    const report = await copyFiles(from, to, files, { concurrency: 2 });
    expect(report.copied).to.equal(3);
    expect(report.skipped).to.equal(3);
    expect((await readAll(to, files[1]!.to)).equals(contents.get(files[1]!.from)!)).to.equal(true);
    expect((await to.list('backups/')).map((e) => e.path)).to.deep.equal(files.map((f) => f.to));
  });

  it('stops starting files when told, and the next call carries on', async function () {
    let asked = 0;
    const first = await copyFiles(from, to, files, { concurrency: 1, stop: () => ++asked > 2 });
    expect(first).to.deep.include({ copied: 2, complete: false });
    const second = await copyFiles(from, to, files, { concurrency: 2 });
    expect(second).to.deep.include({ copied: 4, skipped: 2, complete: true });
  });

  it('fails on a file that is not what its entry says, and nothing lands under its name', async function () {
    const wrong = files.map((f, i) => (i === 2 ? { ...f, md5: md5(Buffer.from('something else')) } : f));
    let error: Error | undefined;
    try {
      await copyFiles(from, to, wrong, { concurrency: 2 });
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.match(/MD5/);
    expect(await to.stat(files[2]!.to)).to.equal(undefined);
    const left = await readdir(join(root, 'destination'), { recursive: true });
    expect(left.filter((e) => e.includes(TEMP_MARKER))).to.deep.equal([]);
  });
});
