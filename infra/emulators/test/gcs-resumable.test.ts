import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { link, mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Storage } from '@google-cloud/storage';
import type { Bucket } from '@google-cloud/storage';
import { startGcsEmulator } from '../src/gcs/server.js';
import type { RunningGcsEmulator } from '../src/gcs/server.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const MiB = 1024 * 1024;
const md5 = (data: Buffer): string => createHash('md5').update(data).digest('hex');

/** Deterministic pseudo-random bytes (xorshift32), 4 bytes per step. */
function bytes(length: number, seed: number): Buffer {
  const out = Buffer.allocUnsafe(length + 3);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeInt32LE(x | 0, i);
  }
  return out.subarray(0, length);
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with a complete body. */
function send(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Buffer,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method,
      headers: { 'Content-Length': String(body?.length ?? 0), ...headers },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }),
      );
    });
    req.end(body);
  });
}

/** Starts a PUT announcing all of `data`, writes the first `sendBytes`, then drops the connection. */
async function sendThenDisconnect(
  url: string,
  contentRange: string,
  data: Buffer,
  sendBytes: number,
): Promise<void> {
  const req = request(url, {
    method: 'PUT',
    headers: { 'Content-Range': contentRange, 'Content-Length': String(data.length) },
  });
  req.on('error', () => undefined);
  for (let offset = 0; offset < sendBytes; offset += MiB) {
    if (!req.write(data.subarray(offset, Math.min(offset + MiB, sendBytes)))) {
      await new Promise((resolve) => req.once('drain', resolve));
    }
  }
  // Let the last bytes leave the socket buffer before cutting the connection.
  await new Promise((resolve) => setTimeout(resolve, 200));
  req.destroy();
}

const persistedEnd = (res: RawResponse): number => {
  const range = res.headers['range'];
  if (typeof range !== 'string') return 0;
  return Number(/^bytes=0-(\d+)$/.exec(range)![1]) + 1;
};

describe('GCS emulator resumable uploads', function () {
  this.timeout(60_000);
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let dataDir: string;
  let bucket: Bucket;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gcs-resumable-test-'));
    emulator = await startGcsEmulator({ port: 0, dataDir });
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'test-project' });
    [bucket] = await storage.createBucket(`resume-${randomUUID().slice(0, 12)}`);
  });

  afterEach(async () => {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function finishWithClient(fileName: string, uri: string, data: Buffer): Promise<void> {
    // Given the session URI, the client asks the server for its offset and skips what it already has.
    const writer = bucket.file(fileName).createWriteStream({ uri, resumable: true });
    await pipeline(Readable.from(chunksOf(data, 4 * MiB)), writer);
  }

  async function downloadMd5(fileName: string): Promise<string> {
    const hash = createHash('md5');
    await pipeline(bucket.file(fileName).createReadStream(), hash);
    return hash.digest('hex');
  }

  it('keeps the bytes of a chunk cut off mid-body, and the client resumes from there', async () => {
    const data = bytes(64 * MiB, 42);
    const [uri] = await bucket.file('big.bin').createResumableUpload();

    await sendThenDisconnect(uri, `bytes 0-*/${data.length}`, data, 20 * MiB);
    const status = await send(uri, 'PUT', { 'Content-Range': `bytes */${data.length}` });
    expect(status.status).to.equal(308);
    const persisted = persistedEnd(status);
    expect(persisted)
      .to.be.greaterThan(0)
      .and.at.most(20 * MiB);

    await finishWithClient('big.bin', uri, data);
    const [meta] = await bucket.file('big.bin').getMetadata();
    expect(meta.size).to.equal(String(data.length));
    expect(Buffer.from(meta.md5Hash!, 'base64').toString('hex')).to.equal(md5(data));
    expect(await downloadMd5('big.bin')).to.equal(md5(data));

    const done = await send(uri, 'PUT', { 'Content-Range': 'bytes */*' });
    expect(done.status).to.equal(200);
    expect((JSON.parse(done.body) as { name: string }).name).to.equal('big.bin');
  });

  it('resumes a session after an emulator restart; objects survive the restart', async () => {
    const data = bytes(40 * MiB, 7);
    await bucket.file('kept.txt').save('still here', { resumable: false });
    const [uri] = await bucket.file('restarted.bin').createResumableUpload();
    const first = await send(
      uri,
      'PUT',
      { 'Content-Range': `bytes 0-${24 * MiB - 1}/*` },
      data.subarray(0, 24 * MiB),
    );
    expect(first.status).to.equal(308);
    expect(persistedEnd(first)).to.equal(24 * MiB);

    const port = emulator.port;
    await emulator.close();
    emulator = await startGcsEmulator({ port, dataDir });

    const status = await send(uri, 'PUT', { 'Content-Range': 'bytes */*' });
    expect(status.status).to.equal(308);
    expect(persistedEnd(status)).to.equal(24 * MiB);
    await finishWithClient('restarted.bin', uri, data);
    expect(await downloadMd5('restarted.bin')).to.equal(md5(data));
    expect((await bucket.file('kept.txt').download())[0].toString()).to.equal('still here');
    const [files] = await bucket.getFiles();
    expect(files.map((f) => f.name)).to.deep.equal(['kept.txt', 'restarted.bin']);
  });

  it('skips bytes of a chunk that overlap what is already persisted', async () => {
    const data = bytes(200, 3);
    const [uri] = await bucket.file('overlap.bin').createResumableUpload();
    const empty = await send(uri, 'PUT', { 'Content-Range': 'bytes */*' });
    expect(empty.status).to.equal(308);
    expect(empty.headers['range']).to.equal(undefined);
    expect(
      (await send(uri, 'PUT', { 'Content-Range': 'bytes 0-99/*' }, data.subarray(0, 100))).status,
    ).to.equal(308);
    const last = await send(uri, 'PUT', { 'Content-Range': 'bytes 50-199/200' }, data.subarray(50));
    expect(last.status).to.equal(200);
    expect((await bucket.file('overlap.bin').download())[0].equals(data)).to.be.true;
  });

  it('never appends to session bytes that a live object shares (the window after a crash mid-finalization)', async () => {
    const data = bytes(2 * MiB, 13);
    const [uri] = await bucket.file('shared.bin').createResumableUpload();
    const uploadId = new URL(uri).searchParams.get('upload_id')!;
    await send(uri, 'PUT', { 'Content-Range': `bytes 0-${MiB - 1}/*` }, data.subarray(0, MiB));
    // What finalization leaves if the process dies after linking the bytes into the bucket.
    const sharedPath = join(dataDir, 'tmp', 'shared-with-live-object');
    await link(join(dataDir, 'uploads', `${uploadId}.data`), sharedPath);
    const last = await send(
      uri,
      'PUT',
      { 'Content-Range': `bytes ${MiB}-${data.length - 1}/${data.length}` },
      data.subarray(MiB),
    );
    expect(last.status).to.equal(200);
    expect((await readFile(sharedPath)).equals(data.subarray(0, MiB))).to.be.true;
    expect(md5((await bucket.file('shared.bin').download())[0])).to.equal(md5(data));
  });

  it('finalizes an empty chunked upload (`bytes 0--1/0`), as the Node client sends it', async () => {
    const file = bucket.file('empty-chunked.bin');
    await pipeline(Readable.from([]), file.createWriteStream({ resumable: true, chunkSize: 256 * 1024 }));
    const [meta] = await file.getMetadata();
    expect(meta.size).to.equal('0');
  });

  it('finalizes an empty upload with `bytes */0`, as gcloud (apitools) does', async () => {
    const [uri] = await bucket.file('empty.bin').createResumableUpload();
    const res = await send(uri, 'PUT', { 'Content-Range': 'bytes */0' });
    expect(res.status).to.equal(200);
    expect(JSON.parse(res.body)).to.include({ name: 'empty.bin', size: '0' });
    expect((await bucket.file('empty.bin').download())[0].length).to.equal(0);
  });

  it('keeps the session and its bytes when finalization fails on the server side', async () => {
    const data = bytes(3 * MiB, 11);
    const [uri] = await bucket.file('retried.bin').createResumableUpload();
    const first = await send(uri, 'PUT', { 'Content-Range': `bytes 0-${MiB - 1}/*` }, data.subarray(0, MiB));
    expect(first.status).to.equal(308);
    // A directory where the object's metadata file goes makes the commit fail (as a full disk would).
    const hash = createHash('sha1').update('retried.bin').digest('hex');
    const metaPath = join(dataDir, 'buckets', bucket.name, 'objects', hash.slice(0, 2), `${hash}.json`);
    await mkdir(metaPath, { recursive: true });
    const last = await send(
      uri,
      'PUT',
      { 'Content-Range': `bytes ${MiB}-${data.length - 1}/${data.length}` },
      data.subarray(MiB),
    );
    expect(last.status).to.equal(500);
    await rm(metaPath, { recursive: true });

    const retry = await send(uri, 'PUT', { 'Content-Range': `bytes */${data.length}` });
    expect(retry.status).to.equal(200);
    expect(JSON.parse(retry.body)).to.include({ name: 'retried.bin', size: String(data.length) });
    expect(await downloadMd5('retried.bin')).to.equal(md5(data));
    expect(await readdir(join(dataDir, 'uploads'))).to.have.length(1);
    // The failed attempt left no file behind: one metadata file, one data file, an empty tmp/.
    expect(await readdir(dirname(metaPath))).to.have.length(2);
    expect(await readdir(join(dataDir, 'tmp'))).to.deep.equal([]);
  });

  it('cancels a session with DELETE (499), after which the session is gone', async () => {
    const [uri] = await bucket.file('cancelled.bin').createResumableUpload();
    expect((await send(uri, 'PUT', { 'Content-Range': 'bytes 0-9/*' }, Buffer.alloc(10))).status).to.equal(
      308,
    );
    expect((await send(uri, 'DELETE', {})).status).to.equal(499);
    expect((await send(uri, 'PUT', { 'Content-Range': 'bytes */*' })).status).to.equal(404);
    expect((await bucket.file('cancelled.bin').exists())[0]).to.be.false;
  });

  it('checks preconditions at finalization: of two ifGenerationMatch=0 sessions only the first to finish wins', async () => {
    const [uriA] = await bucket
      .file('race.bin')
      .createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 } });
    const [uriB] = await bucket
      .file('race.bin')
      .createResumableUpload({ preconditionOpts: { ifGenerationMatch: 0 } });
    expect((await send(uriA, 'PUT', { 'Content-Range': 'bytes 0-2/3' }, Buffer.from('AAA'))).status).to.equal(
      200,
    );
    const b = await send(uriB, 'PUT', { 'Content-Range': 'bytes 0-2/3' }, Buffer.from('BBB'));
    expect(b.status).to.equal(412);
    expect(JSON.parse(b.body)).to.have.nested.property('error.errors[0].reason', 'conditionNotMet');
    expect((await bucket.file('race.bin').download())[0].toString()).to.equal('AAA');
  });

  it('leaves nothing behind when a one-request upload is cut off', async () => {
    const data = bytes(8 * MiB, 5);
    const url = `${emulator.url}/upload/storage/v1/b/${bucket.name}/o?uploadType=media&name=partial.bin`;
    const req = request(url, { method: 'POST', headers: { 'Content-Length': String(data.length) } });
    req.on('error', () => undefined);
    req.write(data.subarray(0, 2 * MiB));
    await new Promise((resolve) => setTimeout(resolve, 200));
    req.destroy();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await bucket.file('partial.bin').exists())[0]).to.be.false;
    expect(await readdir(join(dataDir, 'tmp'))).to.deep.equal([]);
  });
});

function* chunksOf(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}
