import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { crc32c } from '@aws-crypto/crc32c';
import { Storage } from '@google-cloud/storage';
import type { Bucket } from '@google-cloud/storage';
import { startGcsEmulator } from '../src/gcs/server.js';
import type { RunningGcsEmulator } from '../src/gcs/server.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');
const crc = (data: Buffer): string => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(crc32c(data));
  return b.toString('base64');
};
/** Deterministic pseudo-random bytes. */
function bytes(length: number, seed = 1): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
const uniqueBucket = (): string => `bkt-${randomUUID().slice(0, 12)}`;

/** The status of a rejected client call. */
async function failure(
  promise: Promise<unknown>,
): Promise<{ code?: number; message: string; errors?: { reason?: string }[] }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: number; message: string };
  }
  throw new Error('expected the call to fail');
}

describe('GCS emulator through @google-cloud/storage', function () {
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let dataDir: string;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gcs-client-test-'));
    emulator = await startGcsEmulator({ port: 0, dataDir });
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test-project' });
  });

  afterEach(async () => {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function newBucket(): Promise<Bucket> {
    const [bucket] = await storage.createBucket(uniqueBucket());
    return bucket;
  }

  describe('buckets', () => {
    it('creates, reads, lists, patches labels and deletes buckets', async () => {
      const name = uniqueBucket();
      const [bucket] = await storage.createBucket(name, { labels: { team: 'data', env: 'dev' } });
      const [meta] = await bucket.getMetadata();
      expect(meta).to.include({
        kind: 'storage#bucket',
        id: name,
        name,
        location: 'US',
        storageClass: 'STANDARD',
      });
      expect(meta.labels).to.deep.equal({ team: 'data', env: 'dev' });
      expect(meta.metageneration).to.equal('1');

      const [buckets] = await storage.getBuckets();
      expect(buckets.map((b) => b.name)).to.include(name);

      await bucket.setLabels({ env: 'prod', tier: 'gold' });
      await bucket.setMetadata({ labels: { team: null } });
      const [patched] = await bucket.getMetadata();
      expect(patched.labels).to.deep.equal({ env: 'prod', tier: 'gold' });
      expect(Number(patched.metageneration)).to.equal(3);

      const [again] = await storage.createBucket(uniqueBucket(), { location: 'EUROPE-WEST1' });
      expect((await again.getMetadata())[0].location).to.equal('EUROPE-WEST1');

      await bucket.delete();
      const [exists] = await bucket.exists();
      expect(exists).to.be.false;
      const err = await failure(bucket.getMetadata());
      expect(err.code).to.equal(404);
    });

    it('refuses to delete a bucket that still has objects, and to create one twice', async () => {
      const bucket = await newBucket();
      await bucket.file('keep.txt').save('x', { resumable: false });
      const err = await failure(bucket.delete());
      expect(err.code).to.equal(409);
      expect(err.message).to.equal('The bucket you tried to delete is not empty.');
      const dup = await failure(storage.createBucket(bucket.name));
      expect(dup.code).to.equal(409);
      await bucket.file('keep.txt').delete();
      await bucket.delete();
    });

    it('never deletes a bucket while an upload into it is being committed', async () => {
      const bad: string[] = [];
      for (let round = 0; round < 60; round++) {
        const name = uniqueBucket();
        await storage.createBucket(name);
        const uploads = Array.from({ length: 8 }, (_, i) =>
          fetch(`${emulator.url}/upload/storage/v1/b/${name}/o?uploadType=media&name=o${i}`, {
            method: 'POST',
            body: 'x'.repeat(100),
          }).then((r) => r.status),
        );
        // Staggered so that the delete lands before, during and after the uploads' commits.
        await new Promise((resolve) => setTimeout(resolve, round % 6));
        const deleted = (await fetch(`${emulator.url}/storage/v1/b/${name}`, { method: 'DELETE' })).status;
        const statuses = await Promise.all(uploads);
        // Either the bucket was deleted and no upload into it succeeded, or the delete was refused.
        if (deleted === 204 && statuses.includes(200)) bad.push(`${name}: ${statuses.join(',')}`);
      }
      expect(bad).to.deep.equal([]);
      // Nothing of a deleted bucket is left on disk to come back after a restart.
      const [buckets] = await storage.getBuckets();
      expect(await readdir(join(dataDir, 'buckets'))).to.have.members(buckets.map((b) => b.name));
    });
  });

  it('also works for a client configured with STORAGE_EMULATOR_HOST', async () => {
    process.env['STORAGE_EMULATOR_HOST'] = emulator.url;
    let viaEnv: Storage;
    try {
      viaEnv = new Storage({ projectId: 'test-project' });
    } finally {
      delete process.env['STORAGE_EMULATOR_HOST'];
    }
    const [bucket] = await viaEnv.createBucket(uniqueBucket());
    await bucket.file('env.txt').save('via env', { resumable: true });
    await bucket.file('env-simple.txt').save('simple', { resumable: false });
    expect((await bucket.file('env.txt').download())[0].toString()).to.equal('via env');
    const [files] = await bucket.getFiles();
    expect(files.map((f) => f.name)).to.deep.equal(['env-simple.txt', 'env.txt']);
  });

  describe('uploads and downloads', () => {
    it('stores a multipart upload with its metadata and checksums', async () => {
      const bucket = await newBucket();
      const data = bytes(300_000, 7);
      const file = bucket.file('dir/multipart.bin');
      await file.save(data, {
        resumable: false,
        contentType: 'application/x-test',
        metadata: { cacheControl: 'no-cache', metadata: { origin: 'test' } },
      });
      const [meta] = await file.getMetadata();
      expect(meta).to.include({
        kind: 'storage#object',
        name: 'dir/multipart.bin',
        bucket: bucket.name,
        contentType: 'application/x-test',
        cacheControl: 'no-cache',
        size: String(data.length),
        md5Hash: md5(data),
        crc32c: crc(data),
        metageneration: '1',
        storageClass: 'STANDARD',
      });
      expect(meta.id).to.equal(`${bucket.name}/dir/multipart.bin/${meta.generation}`);
      expect(meta.metadata).to.deep.equal({ origin: 'test' });
      const [downloaded] = await file.download();
      expect(downloaded.equals(data)).to.be.true;
    });

    it('stores single-request resumable uploads, bucket.upload and empty objects', async () => {
      const bucket = await newBucket();
      const data = bytes(1_000_000, 3);
      await bucket.file('resumable.bin').save(data, { resumable: true });
      expect((await bucket.file('resumable.bin').download())[0].equals(data)).to.be.true;

      const dir = await mkdtemp(join(tmpdir(), 'gcs-upload-src-'));
      try {
        const local = join(dir, 'local.csv');
        await writeFile(local, 'a,b\n1,2\n');
        await bucket.upload(local, { destination: 'uploaded/local.csv' });
        const [meta] = await bucket.file('uploaded/local.csv').getMetadata();
        expect(meta.contentType).to.equal('text/csv');
        expect((await bucket.file('uploaded/local.csv').download())[0].toString()).to.equal('a,b\n1,2\n');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }

      await bucket.file('empty').save(Buffer.alloc(0), { resumable: true });
      await bucket.file('empty-simple').save(Buffer.alloc(0), { resumable: false });
      for (const name of ['empty', 'empty-simple']) {
        const [meta] = await bucket.file(name).getMetadata();
        expect(meta.size).to.equal('0');
        expect((await bucket.file(name).download())[0].length).to.equal(0);
      }
    });

    it('uploads in several chunks with createWriteStream({ chunkSize })', async () => {
      const bucket = await newBucket();
      const data = bytes(3 * 256 * 1024 + 12_345, 11);
      const file = bucket.file('chunked.bin');
      const chunkRequests: string[] = [];
      const writer = file.createWriteStream({ resumable: true, chunkSize: 256 * 1024 });
      writer.on('response', (resp: { status?: number }) => chunkRequests.push(String(resp.status)));
      await pipeline(Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), writer);
      expect(chunkRequests.filter((s) => s === '308')).to.have.length(3);
      const [meta] = await file.getMetadata();
      expect(meta.md5Hash).to.equal(md5(data));
      const [downloaded] = await file.download();
      expect(downloaded.equals(data)).to.be.true;
    });

    it('serves byte ranges and the GCS download headers', async () => {
      const bucket = await newBucket();
      const data = bytes(100_000, 5);
      const file = bucket.file('ranged.bin');
      await file.save(data, { resumable: false });
      const chunks: Buffer[] = [];
      for await (const chunk of file.createReadStream({ start: 1000, end: 1999 }))
        chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(data.subarray(1000, 2000))).to.be.true;

      const [meta] = await file.getMetadata();
      const res = await fetch(`${emulator.url}/download/storage/v1/b/${bucket.name}/o/ranged.bin?alt=media`, {
        headers: { Range: 'bytes=-10' },
      });
      expect(res.status).to.equal(206);
      expect(res.headers.get('content-range')).to.equal(`bytes 99990-99999/100000`);
      expect(res.headers.get('x-goog-hash')).to.equal(`crc32c=${crc(data)},md5=${md5(data)}`);
      expect(res.headers.get('x-goog-generation')).to.equal(meta.generation);
      expect(res.headers.get('x-goog-metageneration')).to.equal('1');
      expect(res.headers.get('x-goog-stored-content-length')).to.equal('100000');
      expect(Buffer.from(await res.arrayBuffer()).equals(data.subarray(99_990))).to.be.true;

      const beyond = await fetch(`${emulator.url}/storage/v1/b/${bucket.name}/o/ranged.bin?alt=media`, {
        headers: { Range: 'bytes=100000-' },
      });
      expect(beyond.status).to.equal(416);
    });

    it('serves metadata beyond Latin-1 in download headers as UTF-8', async () => {
      const bucket = await newBucket();
      const file = bucket.file('report.csv');
      const disposition = 'attachment; filename="rapport-été-✓.csv"';
      await file.save('a,b\n', {
        resumable: false,
        metadata: { contentType: 'text/csv; header=présent', contentDisposition: disposition },
      });
      expect((await file.download())[0].toString()).to.equal('a,b\n');
      const res = await fetch(`${emulator.url}/storage/v1/b/${bucket.name}/o/report.csv?alt=media`);
      expect(res.status).to.equal(200);
      // fetch decodes header bytes as Latin-1; the bytes on the wire are the UTF-8 of the value.
      const header = res.headers.get('content-disposition')!;
      expect(Buffer.from(header, 'latin1').toString('utf8')).to.equal(disposition);
      await res.arrayBuffer();
    });

    it("fails the client's CRC32C check when the stored bytes are corrupted", async () => {
      const bucket = await newBucket();
      const data = bytes(50_000, 9);
      const file = bucket.file('fragile.bin');
      await file.save(data, { resumable: false });
      expect((await file.download({ validation: 'crc32c' }))[0].equals(data)).to.be.true;

      const dataFiles = await findFiles(emulator.dataDir, (f) => f.endsWith('.data'));
      expect(dataFiles).to.have.length(1);
      const stored = await readFile(dataFiles[0]!);
      stored[25_000] = stored[25_000]! ^ 0xff;
      await writeFile(dataFiles[0]!, stored);

      const err = await failure(file.download({ validation: 'crc32c' }));
      expect((err as { code?: unknown }).code).to.equal('CONTENT_DOWNLOAD_MISMATCH');
    });

    it('keeps object names with spaces, unicode and reserved characters intact', async () => {
      const bucket = await newBucket();
      const names = ['a b/c+d.txt', 'ünï/cödé?#%.txt', 'x/../y', 'trailing/'];
      for (const name of names) await bucket.file(name).save(name, { resumable: false });
      const [files] = await bucket.getFiles();
      expect(files.map((f) => f.name).sort()).to.deep.equal([...names].sort());
      for (const name of names) expect((await bucket.file(name).download())[0].toString()).to.equal(name);
    });
  });

  describe('listing', () => {
    it('lists with prefix, delimiter, matchGlob, offsets and trailing delimiters', async () => {
      const bucket = await newBucket();
      const names = [
        'logs/2024/01/a.json',
        'logs/2024/01/b.csv',
        'logs/2024/02/c.json',
        'logs/2025/d.json',
        'logs/root.json',
        'logs/dir/',
        'other/e.json',
        'top.txt',
      ];
      await Promise.all(names.map((n) => bucket.file(n).save('x', { resumable: false })));
      const list = async (query: Record<string, unknown>) => {
        const [files, , resp] = await bucket.getFiles({ autoPaginate: false, ...query });
        return {
          names: files.map((f) => f.name),
          prefixes: ((resp as { prefixes?: string[] }).prefixes ?? []).slice(),
        };
      };

      expect((await list({ prefix: 'logs/2024/' })).names).to.deep.equal([
        'logs/2024/01/a.json',
        'logs/2024/01/b.csv',
        'logs/2024/02/c.json',
      ]);
      expect(await list({ prefix: 'logs/', delimiter: '/' })).to.deep.equal({
        names: ['logs/root.json'],
        prefixes: ['logs/2024/', 'logs/2025/', 'logs/dir/'],
      });
      expect(await list({ delimiter: '/' })).to.deep.equal({
        names: ['top.txt'],
        prefixes: ['logs/', 'other/'],
      });
      expect(
        (await list({ prefix: 'logs/', delimiter: '/', includeTrailingDelimiter: true })).names,
      ).to.deep.equal(['logs/dir/', 'logs/root.json']);
      expect((await list({ matchGlob: 'logs/**/*.json' })).names).to.deep.equal([
        'logs/2024/01/a.json',
        'logs/2024/02/c.json',
        'logs/2025/d.json',
        'logs/root.json',
      ]);
      expect((await list({ matchGlob: 'logs/*.json' })).names).to.deep.equal(['logs/root.json']);
      expect((await list({ matchGlob: 'logs/2024/0[2-9]/?.{json,csv}' })).names).to.deep.equal([
        'logs/2024/02/c.json',
      ]);
      expect((await list({ startOffset: 'logs/2025', endOffset: 'other/' })).names).to.deep.equal([
        'logs/2025/d.json',
        'logs/dir/',
        'logs/root.json',
      ]);
      const [noMatch] = await bucket.getFiles({ prefix: 'nothing/' });
      expect(noMatch).to.deep.equal([]);
    });

    it('pages through 2,500 objects, automatically and by page token', async () => {
      const bucket = await newBucket();
      const names = Array.from({ length: 2500 }, (_, i) => `many/${String(i).padStart(5, '0')}`);
      await uploadAllRaw(emulator.url, bucket.name, names, 32);

      const [all] = await bucket.getFiles({ prefix: 'many/', autoPaginate: true });
      expect(all.map((f) => f.name)).to.deep.equal(names);

      const seen: string[] = [];
      let pageToken: string | undefined;
      let pages = 0;
      do {
        const [files, next] = await bucket.getFiles({ autoPaginate: false, maxResults: 1000, pageToken });
        seen.push(...files.map((f) => f.name));
        pageToken = (next as { pageToken?: string } | null)?.pageToken;
        pages++;
      } while (pageToken);
      expect(pages).to.equal(3);
      expect(seen).to.deep.equal(names);
    });
  });

  describe('metadata, copies and composition', () => {
    it('patches and replaces object metadata, bumping the metageneration', async () => {
      const bucket = await newBucket();
      const file = bucket.file('meta.txt');
      await file.save('hello', { resumable: false, metadata: { metadata: { a: '1', b: '2' } } });
      await file.setMetadata({ contentType: 'text/plain', metadata: { a: null, c: '3' } });
      let [meta] = await file.getMetadata();
      expect(meta.metadata).to.deep.equal({ b: '2', c: '3' });
      expect(meta.contentType).to.equal('text/plain');
      expect(meta.metageneration).to.equal('2');
      expect(meta.md5Hash).to.equal(md5(Buffer.from('hello')));

      await file.setMetadata({ metadata: { b: null, c: null } });
      [meta] = await file.getMetadata();
      expect(meta.metadata).to.equal(undefined);
      expect(meta.contentType).to.equal('text/plain');
      expect(meta.metageneration).to.equal('3');
    });

    it('copies and rewrites objects across buckets with their checksums', async () => {
      const source = await newBucket();
      const target = await newBucket();
      const data = bytes(200_000, 13);
      const file = source.file('src.bin');
      await file.save(data, {
        resumable: false,
        contentType: 'application/x-src',
        metadata: { metadata: { k: 'v' } },
      });

      const [copy] = await file.copy(target.file('copied/dst.bin'));
      const [copyMeta] = await copy.getMetadata();
      expect(copyMeta).to.include({
        bucket: target.name,
        name: 'copied/dst.bin',
        md5Hash: md5(data),
        crc32c: crc(data),
        contentType: 'application/x-src',
        size: String(data.length),
      });
      expect(copyMeta.metadata).to.deep.equal({ k: 'v' });
      expect((await copy.download())[0].equals(data)).to.be.true;

      const [sameBucket] = await file.copy('renamed.bin', { contentType: 'application/x-renamed' });
      expect((await sameBucket.getMetadata())[0].contentType).to.equal('application/x-renamed');

      const res = await fetch(
        `${emulator.url}/storage/v1/b/${source.name}/o/src.bin/rewriteTo/b/${target.name}/o/${encodeURIComponent('re/written.bin')}`,
        { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' },
      );
      const rewrite = (await res.json()) as Record<string, unknown>;
      expect(rewrite).to.include({
        kind: 'storage#rewriteResponse',
        done: true,
        totalBytesRewritten: String(data.length),
        objectSize: String(data.length),
      });
      expect((rewrite['resource'] as Record<string, unknown>)['name']).to.equal('re/written.bin');

      await file.move(target.file('moved.bin'));
      expect((await file.exists())[0]).to.be.false;
      expect((await target.file('moved.bin').download())[0].equals(data)).to.be.true;
    });

    it('composes objects; the CRC32C is that of the concatenation and there is no MD5', async () => {
      const bucket = await newBucket();
      const parts = [bytes(70_000, 21), bytes(1, 22), bytes(123_457, 23)];
      await Promise.all(parts.map((p, i) => bucket.file(`part-${i}`).save(p, { resumable: false })));
      const [part0] = await bucket.file('part-0').getMetadata();

      const [composed] = await bucket.combine(['part-0', 'part-1', 'part-2'], bucket.file('whole.bin'));
      const whole = Buffer.concat(parts);
      const [meta] = await composed.getMetadata();
      expect(meta.crc32c).to.equal(crc(whole));
      expect(meta.md5Hash).to.equal(undefined);
      expect(meta.componentCount).to.equal(3);
      expect(meta.size).to.equal(String(whole.length));
      expect((await composed.download())[0].equals(whole)).to.be.true;

      // A composite of composites counts all components.
      const [twice] = await bucket.combine(['whole.bin', 'part-0'], 'twice.bin');
      expect((await twice.getMetadata())[0].componentCount).to.equal(4);

      // A source generation that is not the live one fails.
      const stale = bucket.file('part-0', { generation: Number(part0.generation) - 1 });
      const err = await failure(bucket.combine([stale, bucket.file('part-1')], 'never.bin'));
      expect(err.code).to.equal(404);

      const tooMany = Array.from({ length: 33 }, () => 'part-1');
      const many = await failure(bucket.combine(tooMany, 'never.bin'));
      expect(many.code).to.equal(400);
    });
  });

  describe('preconditions and errors', () => {
    it('answers 412 when a generation or metageneration precondition does not hold', async () => {
      const bucket = await newBucket();
      const file = bucket.file('guarded.txt');
      await file.save('first', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } });
      const second = await failure(
        file.save('second', { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } }),
      );
      expect(second.code).to.equal(412);
      expect(second.message).to.equal('At least one of the pre-conditions you specified did not hold.');
      const resumable = await failure(
        file.save('second', { resumable: true, preconditionOpts: { ifGenerationMatch: 0 } }),
      );
      // The resumable path surfaces the failed session start as a GaxiosError carrying `status`.
      expect((resumable as { status?: number }).status).to.equal(412);

      const [meta] = await file.getMetadata();
      await file.setMetadata(
        { metadata: { x: '1' } },
        { ifMetagenerationMatch: Number(meta.metageneration) },
      );
      const stale = await failure(
        file.setMetadata({ metadata: { x: '2' } }, { ifMetagenerationMatch: Number(meta.metageneration) }),
      );
      expect(stale.code).to.equal(412);

      const wrongGeneration = await failure(file.delete({ ifGenerationMatch: Number(meta.generation) + 1 }));
      expect(wrongGeneration.code).to.equal(412);
      await file.save('third', {
        resumable: false,
        preconditionOpts: { ifGenerationMatch: Number(meta.generation) },
      });
      expect((await file.download())[0].toString()).to.equal('third');

      const base = `${emulator.url}/storage/v1/b/${bucket.name}/o/guarded.txt`;
      const [current] = await file.getMetadata();
      expect((await fetch(`${base}?ifGenerationNotMatch=${current.generation}`)).status).to.equal(304);
      expect((await fetch(`${base}?alt=media&ifMetagenerationNotMatch=1`)).status).to.equal(304);
      expect((await fetch(`${base}?ifGenerationMatch=${current.generation}`)).status).to.equal(200);
      expect((await fetch(`${base}?generation=${meta.generation}`)).status).to.equal(404);
      expect((await fetch(`${base}?generation=${current.generation}&alt=media`)).status).to.equal(200);
    });

    it('lets the last of concurrent uploads win, and only one of them with ifGenerationMatch=0', async () => {
      const bucket = await newBucket();
      const file = bucket.file('contended.bin');
      const bodies = Array.from({ length: 6 }, (_, i) => bytes(50_000, 100 + i));
      const results = await Promise.allSettled(
        bodies.map((b) => file.save(b, { resumable: false, preconditionOpts: { ifGenerationMatch: 0 } })),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).to.have.length(1);
      expect(
        results.filter((r) => r.status === 'rejected').map((r) => (r.reason as { code: number }).code),
      ).to.deep.equal([412, 412, 412, 412, 412]);

      await Promise.all(bodies.map((b, i) => file.save(b, { resumable: i % 2 === 0 })));
      const [meta] = await file.getMetadata();
      const [stored] = await file.download();
      expect(bodies.some((b) => b.equals(stored))).to.be.true;
      expect(meta.md5Hash).to.equal(md5(stored));
      expect((await findFiles(emulator.dataDir, (f) => f.endsWith('.data'))).length).to.equal(1);
    });

    it('reports errors in the Google JSON shape', async () => {
      const bucket = await newBucket();
      const missing = await failure(bucket.file('nope.txt').getMetadata());
      expect(missing.code).to.equal(404);
      expect(missing.message).to.equal(`No such object: ${bucket.name}/nope.txt`);
      expect(missing.errors?.[0]?.reason).to.equal('notFound');
      const missingDownload = await failure(bucket.file('nope.txt').download());
      expect(missingDownload.code).to.equal(404);
      const noBucket = await failure(storage.bucket('no-such-bucket-here').getFiles());
      expect(noBucket.code).to.equal(404);

      const unknown = await fetch(`${emulator.url}/storage/v1/nothing/here`);
      expect(unknown.status).to.equal(404);
      expect(await unknown.json()).to.deep.equal({
        error: {
          code: 404,
          message: 'Not Found',
          errors: [{ message: 'Not Found', domain: 'global', reason: 'notFound' }],
        },
      });
      const badJson = await fetch(`${emulator.url}/storage/v1/b?project=test-project`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{"name": ',
      });
      expect(badJson.status).to.equal(400);
      expect(
        ((await badJson.json()) as { error: { errors: { reason: string }[] } }).error.errors[0]!.reason,
      ).to.equal('parseError');
      const badName = await failure(storage.createBucket('Invalid_Name!'));
      expect(badName.code).to.equal(400);

      // A JSON body over the limit is refused with 413 in the same shape.
      const huge = await fetch(`${emulator.url}/storage/v1/b?project=test-project`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: Buffer.alloc(17 * 1024 * 1024, ' '),
      });
      expect(huge.status).to.equal(413);
      expect(((await huge.json()) as { error: { code: number } }).error.code).to.equal(413);
    });
  });
});

/** Media uploads over plain HTTP, `concurrency` at a time: fast set-up for the paging test. */
async function uploadAllRaw(
  url: string,
  bucket: string,
  names: string[],
  concurrency: number,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < names.length) {
      const name = names[next++]!;
      const res = await fetch(
        `${url}/upload/storage/v1/b/${bucket}/o?uploadType=media&name=${encodeURIComponent(name)}`,
        { method: 'POST', body: name },
      );
      if (res.status !== 200) throw new Error(`upload of ${name} answered ${res.status}`);
      await res.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

async function findFiles(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && keep(e.name)).map((e) => join(e.parentPath, e.name));
}
