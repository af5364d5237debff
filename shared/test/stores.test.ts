import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  freePort,
  s3rverCommand,
  startGcsEmulator,
  startProcess,
  waitForHttp,
  type ManagedProcess,
  type RunningGcsEmulator,
} from '@bqbr/emulators';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  azureStore,
  Crc32c,
  crc32cToBase64,
  createStore,
  fileStore,
  gcsStore,
  PermanentError,
  RetryableError,
  s3Store,
  TEMP_MARKER,
  type BackupStore,
  type DestinationSpec,
} from '../src/index.js';
import { rejection } from './support/rejection.js';

const MiB = 1024 * 1024;
const require = createRequire(import.meta.url);

/** Azurite's well-known development account (public, documented by Microsoft). */
const AZURITE_ACCOUNT = 'devstoreaccount1';
const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const azuriteConnectionString = (blobEndpoint: string): string =>
  `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${blobEndpoint};`;

const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');

function* chunksOf(data: Buffer): Generator<Buffer> {
  for (let at = 0; at < data.length; at += 64 * 1024) yield data.subarray(at, at + 64 * 1024);
}

/** `data` as a stream of 64 KiB chunks, like a download would arrive. */
const streamOf = (data: Buffer): Readable => Readable.from(chunksOf(data));

/** The first `bytes` of `data`, then an error: a source that fails midway. */
function failingAfter(data: Buffer, bytes: number): Readable {
  return Readable.from(
    (function* () {
      yield* chunksOf(data.subarray(0, bytes));
      throw new Error('the source broke off');
    })(),
  );
}

const readAll = async (stream: Readable): Promise<Buffer> =>
  Buffer.concat((await stream.toArray()) as Buffer[]);

/** One kind of store on its emulator (or directory), for the shared behaviour below. */
interface Fixture {
  /** A fresh store under a prefix of its own; parts and pages are small so that several are used. */
  store(): BackupStore;
  /** Anything a failed put may have left behind besides the object (incomplete uploads, temp files). */
  leftovers(store: BackupStore): Promise<string[]>;
  /** Whether the store keeps the MD5 of an object written in several parts. */
  readonly keepsMultipartMd5: boolean;
  /** Leaves at `path` what a put killed midway would (stores whose unfinished puts are invisible: none). */
  interrupt?(store: BackupStore, path: string): Promise<void>;
}

function behavesLikeABackupStore(fixture: () => Fixture): void {
  let store: BackupStore;
  let f: Fixture;
  beforeEach(function () {
    f = fixture();
    store = f.store();
  });

  it('writes an object in several parts and reads back the same bytes', async function () {
    const data = randomBytes(20 * MiB + 12345);
    const result = await store.put('backups/t1/p/d/t/data-000000000000.avro', streamOf(data), {
      contentType: 'application/avro',
      expectedBytes: data.length,
      expectedMd5: md5(data),
    });
    expect(result).to.deep.equal({ bytes: data.length, md5: md5(data) });

    const stat = await store.stat('backups/t1/p/d/t/data-000000000000.avro');
    expect(stat?.bytes).to.equal(data.length);
    if (f.keepsMultipartMd5) expect(stat?.md5).to.equal(md5(data));
    const back = await readAll(await store.get('backups/t1/p/d/t/data-000000000000.avro'));
    expect(back.equals(data)).to.equal(true);
  });

  it('writes small and empty objects', async function () {
    const manifest = Buffer.from(JSON.stringify({ kind: 'bqbr#backup' }));
    expect(
      await store.put('_backup.json', streamOf(manifest), { contentType: 'application/json' }),
    ).to.deep.equal({ bytes: manifest.length, md5: md5(manifest) });
    expect(await store.put('empty', Readable.from([]))).to.deep.equal({
      bytes: 0,
      md5: md5(Buffer.alloc(0)),
    });
    expect((await readAll(await store.get('_backup.json'))).toString()).to.equal(manifest.toString());
    expect((await readAll(await store.get('empty'))).length).to.equal(0);
    expect(await store.stat('empty')).to.deep.include({ path: 'empty', bytes: 0 });
  });

  it('lists objects and folders across pages, in path order, and deletes', async function () {
    const paths = [
      'backups/20240101_000000/p1/sales/orders/data-0.avro',
      'backups/20240101_000000/p1/sales/orders/_table.json',
      'backups/20240101_000000/p2/hr/staff/data-0.avro',
      'backups/20240201_000000/p1/_backup.json',
      'backups/20240301_000000/p1/sales/orders/data-0.avro',
      'backups/20240401_000000/_backup.json',
      'other/readme.txt',
    ];
    for (const [i, path] of paths.entries()) await store.put(path, streamOf(Buffer.alloc(i + 1, i)));

    expect(await store.listFolders('')).to.deep.equal(['backups/', 'other/']);
    expect(await store.listFolders('backups/')).to.deep.equal([
      'backups/20240101_000000/',
      'backups/20240201_000000/',
      'backups/20240301_000000/',
      'backups/20240401_000000/',
    ]);
    expect(await store.listFolders('backups/20240101_000000/')).to.deep.equal([
      'backups/20240101_000000/p1/',
      'backups/20240101_000000/p2/',
    ]);
    expect(await store.listFolders('backups/20240401_000000/')).to.deep.equal([]);
    expect(await store.listFolders('nowhere/')).to.deep.equal([]);

    const all = await store.list('');
    expect(all.map((e) => e.path)).to.deep.equal([...paths].sort());
    expect(all.find((e) => e.path === 'other/readme.txt')?.bytes).to.equal(7);
    expect((await store.list('backups/20240101_000000/p1/')).map((e) => e.path)).to.deep.equal([
      'backups/20240101_000000/p1/sales/orders/_table.json',
      'backups/20240101_000000/p1/sales/orders/data-0.avro',
    ]);
    // A prefix that ends inside a name.
    expect((await store.list('backups/2024010')).length).to.equal(3);
    expect(await store.list('nowhere/')).to.deep.equal([]);

    await store.delete('backups/20240201_000000/p1/_backup.json');
    await store.delete('backups/20240201_000000/p1/_backup.json');
    expect(await store.stat('backups/20240201_000000/p1/_backup.json')).to.equal(undefined);
    expect(await store.listFolders('backups/')).to.not.include('backups/20240201_000000/');
    expect((await store.list('')).length).to.equal(paths.length - 1);
  });

  it('reports a missing object as notFound, and stat as undefined', async function () {
    const err = await rejection(store.get('backups/none.avro'));
    expect(err).to.be.instanceOf(PermanentError);
    expect((err as PermanentError).reason).to.equal('notFound');
    expect(await store.stat('backups/none.avro')).to.equal(undefined);
    await store.delete('backups/none.avro');
  });

  it('leaves nothing at the path (and keeps the previous object) when the body fails midway', async function () {
    const before = randomBytes(1000);
    await store.put('t/data-0.avro', streamOf(before));
    const data = randomBytes(13 * MiB);
    const err = await rejection(store.put('t/data-0.avro', failingAfter(data, 11 * MiB)));
    expect(err).to.be.instanceOf(RetryableError);
    expect(err.message).to.include('the source broke off');
    expect((await readAll(await store.get('t/data-0.avro'))).equals(before)).to.equal(true);

    expect(await rejection(store.put('t/data-1.avro', failingAfter(data, 11 * MiB)))).to.be.instanceOf(
      RetryableError,
    );
    expect(await store.stat('t/data-1.avro')).to.equal(undefined);
    expect((await store.list('t/')).map((e) => e.path)).to.deep.equal(['t/data-0.avro']);
    expect(await f.leftovers(store)).to.deep.equal([]);
  });

  it('refuses a body of another size or digest than expected, leaving nothing', async function () {
    const data = randomBytes(11 * MiB);
    const size = await rejection(
      store.put('t/size.avro', streamOf(data), { expectedBytes: data.length + 1 }),
    );
    expect(size).to.be.instanceOf(RetryableError);
    expect((size as RetryableError).reason).to.equal('sizeMismatch');
    const digest = await rejection(
      store.put('t/digest.avro', streamOf(data), {
        expectedBytes: data.length,
        expectedMd5: md5(Buffer.from('x')),
      }),
    );
    expect(digest).to.be.instanceOf(RetryableError);
    expect((digest as RetryableError).reason).to.equal('checksumMismatch');
    const small = await rejection(
      store.put('t/small.json', streamOf(Buffer.from('{}')), { expectedBytes: 3 }),
    );
    expect((small as RetryableError).reason).to.equal('sizeMismatch');

    for (const path of ['t/size.avro', 't/digest.avro', 't/small.json']) {
      expect(await store.stat(path)).to.equal(undefined);
    }
    expect(await store.list('')).to.deep.equal([]);
    expect(await f.leftovers(store)).to.deep.equal([]);
  });

  it('clears what killed puts left in a folder, and only in that folder', async function () {
    await store.put('t/a/whole.avro', streamOf(Buffer.from('whole')));
    await f.interrupt?.(store, 't/a/cut.avro');
    await f.interrupt?.(store, 't/b/other.avro');
    const interrupted = f.interrupt !== undefined;
    expect(await f.leftovers(store)).to.have.length(interrupted ? 2 : 0);
    expect(await store.clearIncomplete('t/a/')).to.equal(interrupted ? 1 : 0);
    expect(await f.leftovers(store)).to.have.length(interrupted ? 1 : 0);
    expect((await store.list('t/')).map((e) => e.path)).to.deep.equal(['t/a/whole.avro']);
    expect(await store.clearIncomplete('t/b/')).to.equal(interrupted ? 1 : 0);
    expect(await f.leftovers(store)).to.deep.equal([]);
    expect(await store.clearIncomplete('t/nothing/')).to.equal(0);
    expect(await rejection(store.clearIncomplete('t/a'))).to.be.instanceOf(PermanentError);
  });

  it('refuses object paths that could leave the store', async function () {
    for (const path of ['../x', 'a/../../x', '/etc/passwd', 'a//b', './a', 'a/', '']) {
      const err = await rejection(store.put(path, streamOf(Buffer.from('x'))));
      expect(err, path).to.be.instanceOf(PermanentError);
      expect((err as PermanentError).reason, path).to.equal('invalid');
      expect(await rejection(store.get(path))).to.be.instanceOf(PermanentError);
    }
    expect(await rejection(store.list('../'))).to.be.instanceOf(PermanentError);
    expect(await rejection(store.listFolders('a'))).to.be.instanceOf(PermanentError);
  });
}

/** The incomplete multipart uploads left in a bucket. */
async function incompleteUploads(s3: S3Client, bucket: string): Promise<string[]> {
  const response = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  return (response.Uploads ?? []).map((u) => `${u.Key} ${u.UploadId}`);
}

/** Temporary files anywhere under `dir`. */
async function tempFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir, { recursive: true }).catch(() => [] as string[]);
  return names.filter((name) => name.includes(TEMP_MARKER));
}

describe('backup stores', function () {
  describe('Cloud Storage (emulator)', function () {
    let emulator: RunningGcsEmulator;
    let storage: Storage;
    let bucket: string;

    before(async function () {
      emulator = await startGcsEmulator({ port: 0 });
      storage = new Storage({ apiEndpoint: emulator.url, projectId: 'stores-test' });
      bucket = `stores-${randomUUID().slice(0, 8)}`;
      await storage.createBucket(bucket);
    });

    after(async function () {
      await emulator?.close();
    });

    behavesLikeABackupStore(() => ({
      store: () => gcsStore(storage, `gs://${bucket}/${randomUUID()}/bq`, { pageSize: 2 }),
      leftovers: () => Promise.resolve([]),
      keepsMultipartMd5: true,
    }));

    it('is built from a gs:// destination, with gs:// URIs', async function () {
      const store = createStore({ kind: 'gcs', uri: `gs://${bucket}/made/` }, { storage, env: {} });
      expect(store.kind).to.equal('gcs');
      expect(store.uri('a/b.avro')).to.equal(`gs://${bucket}/made/a/b.avro`);
      await store.put('a/b.avro', streamOf(Buffer.from('abc')));
      const [metadata] = await storage.bucket(bucket).file('made/a/b.avro').getMetadata();
      expect(metadata.md5Hash).to.equal(md5(Buffer.from('abc')));
      expect(() => createStore({ kind: 'gcs', uri: 's3://x' }, { storage, env: {} })).to.throw(
        PermanentError,
      );
    });

    // Manifests record both checksums and a restore checks a data file against both.
    it('lists and stats every object with its size, MD5 and CRC32C', async function () {
      const store = gcsStore(storage, `gs://${bucket}/${randomUUID()}`);
      const data = randomBytes(3000);
      await store.put('t/data-000000000000.avro', Readable.from([data]));
      const expected = {
        path: 't/data-000000000000.avro',
        bytes: data.length,
        md5: md5(data),
        crc32c: crc32cToBase64(new Crc32c().update(data).digest()),
      };
      expect(await store.list('t/data-')).to.deep.equal([expected]);
      expect(await store.stat('t/data-000000000000.avro')).to.deep.equal(expected);
    });

    it('finds every folder when they span many listing pages', async function () {
      const store = gcsStore(storage, `gs://${bucket}/${randomUUID()}`, { pageSize: 3 });
      const folders = Array.from({ length: 11 }, (_, i) => `t/${String(i).padStart(2, '0')}/`);
      for (const folder of folders) await store.put(`${folder}x`, streamOf(Buffer.from('x')));
      expect(await store.listFolders('t/')).to.deep.equal(folders);
    });
  });

  describe('S3 (s3rver)', function () {
    let server: ManagedProcess;
    let directory: string;
    let endpoint: string;
    let s3: S3Client;
    const bucket = `stores-${randomUUID().slice(0, 8)}`;
    const savedEnv: Record<string, string | undefined> = {};

    before(async function () {
      // Credentials reach the store only through the SDK's default chain: here, the environment.
      for (const [name, value] of Object.entries({
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_EC2_METADATA_DISABLED: 'true',
      })) {
        savedEnv[name] = process.env[name];
        process.env[name] = value;
      }
      directory = await mkdtemp(join(tmpdir(), 's3rver-'));
      const port = await freePort();
      endpoint = `http://127.0.0.1:${port}`;
      // The stack's s3rver, with its patches for multipart aborts and listings and delimiter listings.
      server = startProcess({ name: 's3rver', ...s3rverCommand('127.0.0.1', port, directory) });
      await waitForHttp(endpoint, { timeoutMs: 20_000, isAlive: () => server.isRunning() }).catch(
        (err: Error) => {
          throw new Error(`${err.message}\n${server.recentOutput()}`);
        },
      );
      s3 = new S3Client({
        endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    });

    after(async function () {
      s3?.destroy();
      await server?.stop();
      if (directory) await rm(directory, { recursive: true, force: true });
      for (const [name, value] of Object.entries(savedEnv)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    });

    const options = () => ({
      bucket,
      prefix: `${randomUUID()}/bq`,
      endpoint,
      forcePathStyle: true,
      partSize: 5 * MiB,
      queueSize: 2,
      pageSize: 2,
    });

    behavesLikeABackupStore(() => ({
      store: () => s3Store(options()),
      leftovers: async () => incompleteUploads(s3, bucket),
      // s3rver's multipart ETag is the object's MD5 (S3's is md5-of-parts-N, and stat leaves md5 out).
      keepsMultipartMd5: true,
      // A multipart upload started and never completed or aborted.
      interrupt: async (store, path) => {
        const key = store.uri(path).slice(`s3://${bucket}/`.length);
        await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
      },
    }));

    it('keeps the MD5 of a single-part object in its metadata, and is built from an s3 destination', async function () {
      const destination: DestinationSpec = {
        kind: 's3',
        bucket,
        prefix: 'made/',
        endpoint,
        forcePathStyle: true,
      };
      // The stand-in is allowed as an operator would allow it (docs/security.md, "Endpoints").
      const env = { BQBR_S3_ENDPOINTS: endpoint };
      const store = createStore(destination, { storage: new Storage(), env });
      expect(store.uri('a/b.json')).to.equal(`s3://${bucket}/made/a/b.json`);
      const data = Buffer.from('{"rows":1}');
      await store.put('a/b.json', streamOf(data), { contentType: 'application/json' });
      const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'made/a/b.json' }));
      expect(head.Metadata?.['bqbr-md5']).to.equal(md5(data));
      expect(head.ContentType).to.equal('application/json');
      expect(await store.stat('a/b.json')).to.deep.equal({
        path: 'a/b.json',
        bytes: data.length,
        md5: md5(data),
      });
    });

    it('aborts the multipart upload when a part cannot be read, and the test server really can abort', async function () {
      // The harness's abort works: an upload started by hand is gone after AbortMultipartUpload.
      const started = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'probe' }));
      expect(await incompleteUploads(s3, bucket)).to.have.length(1);
      await s3.send(
        new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'probe', UploadId: started.UploadId }),
      );
      expect(await incompleteUploads(s3, bucket)).to.deep.equal([]);

      const store = s3Store(options());
      await rejection(store.put('x.avro', failingAfter(randomBytes(30 * MiB), 26 * MiB)));
      expect(await incompleteUploads(s3, bucket)).to.deep.equal([]);
    });

    it('refuses a KMS key without aws:kms, and reports a missing bucket as notFound', async function () {
      expect(() => s3Store({ bucket, kmsKeyId: 'k' })).to.throw(PermanentError);
      const store = s3Store({ ...options(), bucket: 'no-such-bucket' });
      const err = await rejection(store.get('x'));
      expect((err as PermanentError).reason).to.equal('notFound');
    });

    it('says how to give a region when there is none, as a permanent failure', async function () {
      const saved = { ...process.env };
      delete process.env['AWS_REGION'];
      delete process.env['AWS_DEFAULT_REGION'];
      delete process.env['AWS_PROFILE'];
      process.env['AWS_CONFIG_FILE'] = join(tmpdir(), `no-aws-config-${randomUUID()}`);
      process.env['AWS_SHARED_CREDENTIALS_FILE'] = process.env['AWS_CONFIG_FILE'];
      try {
        const err = await rejection(s3Store({ bucket: 'no-region-bucket' }).list('t/'));
        expect(err).to.be.instanceOf(PermanentError);
        expect((err as PermanentError).reason).to.equal('failedPrecondition');
        expect(err.message).to.contain('s3://no-region-bucket/t/').and.to.contain('AWS_REGION');
      } finally {
        process.env = saved;
      }
    });
  });

  describe('Azure Blob Storage (Azurite)', function () {
    let server: ManagedProcess;
    let location: string;
    let accountUrl: string;
    let env: Record<string, string>;
    const container = `stores-${randomUUID().slice(0, 8)}`;

    before(async function () {
      location = await mkdtemp(join(tmpdir(), 'azurite-'));
      const port = await freePort();
      accountUrl = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
      server = startProcess({
        name: 'azurite',
        command: process.execPath,
        args: [
          join(require.resolve('azurite/package.json'), '..', 'dist', 'src', 'blob', 'main.js'),
          '--blobHost',
          '127.0.0.1',
          '--blobPort',
          String(port),
          '--location',
          location,
          '--skipApiVersionCheck',
          '--disableTelemetry',
          '--silent',
        ],
      });
      await waitForHttp(accountUrl, { timeoutMs: 20_000, isAlive: () => server.isRunning() }).catch(
        (err: Error) => {
          throw new Error(`${err.message}\n${server.recentOutput()}`);
        },
      );
      env = { AZURE_STORAGE_CONNECTION_STRING: azuriteConnectionString(accountUrl) };
      await BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING!)
        .getContainerClient(container)
        .create();
    });

    after(async function () {
      await server?.stop();
      if (location) await rm(location, { recursive: true, force: true });
    });

    const options = () => ({
      container,
      prefix: `${randomUUID()}/bq`,
      blockSize: 2 * MiB,
      concurrency: 3,
      pageSize: 2,
    });

    behavesLikeABackupStore(() => ({
      store: () => azureStore(options(), env),
      leftovers: () => Promise.resolve([]),
      keepsMultipartMd5: true,
    }));

    it('commits with the access tier, and is built from an azure destination', async function () {
      const destination: DestinationSpec = {
        kind: 'azure',
        accountUrl,
        container,
        prefix: 'made',
        accessTier: 'Cool',
      };
      const allowed = { ...env, BQBR_AZURE_ACCOUNT_URLS: accountUrl };
      const store = createStore(destination, { storage: new Storage(), env: allowed });
      expect(store.uri('a/b.avro')).to.equal(`${accountUrl}/${container}/made/a/b.avro`);
      await store.put('a/b.avro', streamOf(Buffer.from('abc')));
      const properties = await BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING!)
        .getContainerClient(container)
        .getBlobClient('made/a/b.avro')
        .getProperties();
      expect(properties.accessTier).to.equal('Cool');
      expect(Buffer.from(properties.contentMD5!).toString('base64')).to.equal(md5(Buffer.from('abc')));
    });

    it('signs with the account key when there is no connection string', async function () {
      const store = azureStore(
        { accountUrl, container, prefix: randomUUID() },
        { AZURE_STORAGE_ACCOUNT_KEY: AZURITE_KEY },
      );
      await store.put('k.json', streamOf(Buffer.from('{}')));
      expect(await store.stat('k.json')).to.deep.include({ bytes: 2 });
      const wrongKey = azureStore(
        { accountUrl, container, prefix: randomUUID() },
        { AZURE_STORAGE_ACCOUNT_KEY: randomBytes(64).toString('base64') },
      );
      const err = await rejection(wrongKey.put('k.json', streamOf(Buffer.from('{}'))));
      expect((err as PermanentError).reason).to.equal('accessDenied');
      expect(err.message).to.not.include(AZURITE_KEY);
    });

    it('refuses a connection string for another account endpoint, and a missing container is notFound', async function () {
      let err: unknown;
      try {
        azureStore({ accountUrl: 'https://other.blob.core.windows.net', container }, env);
      } catch (caught) {
        err = caught;
      }
      expect(err).to.be.instanceOf(PermanentError);
      expect((err as PermanentError).reason).to.equal('invalid');
      expect((err as Error).message)
        .to.include(accountUrl)
        .and.not.include(AZURITE_KEY);
      expect(() => azureStore({ container }, {})).to.throw(PermanentError);
      // The connection string alone names the account.
      expect(azureStore({ container, prefix: 'p' }, env).uri('x.avro')).to.equal(
        `${accountUrl}/${container}/p/x.avro`,
      );

      const missing = azureStore({ container: 'no-such-container' }, env);
      expect(((await rejection(missing.get('x'))) as PermanentError).reason).to.equal('notFound');
      expect(((await rejection(missing.stat('x'))) as PermanentError).reason).to.equal('notFound');
    });
  });

  describe('files (a temporary directory)', function () {
    let root: string;
    let outside: string;

    before(async function () {
      root = await mkdtemp(join(tmpdir(), 'stores-root-'));
      outside = await mkdtemp(join(tmpdir(), 'stores-outside-'));
    });

    after(async function () {
      await rm(root, { recursive: true, force: true });
      await rm(outside, { recursive: true, force: true });
    });

    let current: string;
    behavesLikeABackupStore(() => {
      current = join(root, randomUUID(), 'bq');
      return {
        store: () => fileStore('/', current, [root]),
        leftovers: () => tempFiles(current),
        keepsMultipartMd5: false,
        // A temporary file beside where the object would have been renamed to.
        interrupt: async (_store, path) => {
          const dir = join(current, ...path.split('/').slice(0, -1));
          await mkdir(dir, { recursive: true });
          await writeFile(join(dir, `${path.split('/').pop()!}${TEMP_MARKER}abc123`), 'half');
        },
      };
    });

    it('writes into the directory a file destination names, with file:// URIs', async function () {
      const path = join(root, 'made');
      const store = createStore(
        { kind: 'file', path },
        { storage: new Storage(), env: { BQBR_FILE_ROOTS: `/nonexistent:${root}` } },
      );
      expect(store.uri('a/b c.json')).to.equal(`file://${path}/a/b%20c.json`);
      await store.put('a/b c.json', streamOf(Buffer.from('{}')));
      expect(await readFile(join(path, 'a', 'b c.json'), 'utf8')).to.equal('{}');
      expect(await readdir(join(path, 'a'))).to.deep.equal(['b c.json']);
    });

    it('refuses destinations outside BQBR_FILE_ROOTS, creating nothing', async function () {
      const target = join(outside, 'backups');
      for (const env of [{ BQBR_FILE_ROOTS: root }, {}, { BQBR_FILE_ROOTS: '' }]) {
        const store = createStore({ kind: 'file', path: target }, { storage: new Storage(), env });
        const err = await rejection(store.put('x.json', streamOf(Buffer.from('{}'))));
        expect((err as PermanentError).reason).to.equal('accessDenied');
      }
      expect(await readdir(outside)).to.deep.equal([]);
      // Lexically inside, but through a symlink that leads out.
      await symlink(outside, join(root, 'escape'));
      const viaLink = fileStore('/', join(root, 'escape', 'backups'), [root]);
      expect(
        ((await rejection(viaLink.put('x.json', streamOf(Buffer.from('{}'))))) as PermanentError).reason,
      ).to.equal('accessDenied');
      expect(await readdir(outside)).to.deep.equal([]);
      expect(() =>
        createStore(
          { kind: 'file', path: target },
          { storage: new Storage(), env: { BQBR_FILE_ROOTS: 'relative/dir' } },
        ),
      ).to.throw(PermanentError);
    });

    it('refuses object paths that lead out through a symlink', async function () {
      const dir = join(root, randomUUID());
      const store = fileStore('/', dir, [root]);
      await store.put('inside.json', streamOf(Buffer.from('{}')));
      await writeFile(join(outside, 'secret.txt'), 'secret');
      await symlink(outside, join(dir, 'link'));
      for (const attempt of [
        () => store.put('link/new.json', streamOf(Buffer.from('{}'))),
        () => store.put('link/deeper/new.json', streamOf(Buffer.from('{}'))),
        () => store.get('link/secret.txt'),
        () => store.stat('link/secret.txt'),
        () => store.list('link/'),
        () => store.listFolders('link/'),
        () => store.delete('link/secret.txt'),
      ]) {
        expect(((await rejection(attempt())) as PermanentError).reason).to.equal('accessDenied');
      }
      expect(await readdir(outside)).to.deep.equal(['secret.txt']);
      // A symlink that stays inside is followed.
      await mkdir(join(dir, 'real'));
      await writeFile(join(dir, 'real', 'x.json'), '{"x":1}');
      await symlink(join(dir, 'real'), join(dir, 'alias'));
      expect((await readAll(await store.get('alias/x.json'))).toString()).to.equal('{"x":1}');
    });

    it('skips temporary files in listings and finds nothing in a directory not yet created', async function () {
      const dir = join(root, randomUUID());
      const store = fileStore('/', dir, [root]);
      expect(await store.list('')).to.deep.equal([]);
      expect(await store.listFolders('')).to.deep.equal([]);
      expect(await store.stat('x')).to.equal(undefined);
      expect(((await rejection(store.get('x'))) as PermanentError).reason).to.equal('notFound');
      await mkdir(join(dir, 'half'), { recursive: true });
      await writeFile(join(dir, 'half', `data.avro${TEMP_MARKER}abc`), 'partial');
      expect(await store.list('')).to.deep.equal([]);
      expect(await store.listFolders('')).to.deep.equal([]);
    });
  });
});
