// The stack launcher against the real emulators: it starts them, clients talk to them, and nothing outlives stop().
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { BigQuery } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { PassThroughClient } from 'google-auth-library';
import { expect } from 'chai';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { formatEnv, startStack, type RunningStack } from '../src/stack/stack.js';
import { s3ClientConfig } from '../src/stack/aws-azure.js';

const here = import.meta.dirname;
const stackMain = resolve(here, '../dist/stack/main.js');

/** Live (not zombie) members of a process group, read from /proc. */
function liveGroupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, ppid, pgrp, ...
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(pgrp) === pgid && state !== 'Z') members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

function groupIsAlive(pgid: number): boolean {
  return liveGroupMembers(pgid).length > 0;
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('stack launcher', function () {
  this.timeout(120_000);

  describe('as a library on free ports', () => {
    let stack: RunningStack;
    const projectId = `stack-test-${randomUUID().slice(0, 8)}`;

    before(async () => {
      stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 }, projectId });
    });
    after(async () => {
      await stack?.stop();
    });

    it('publishes every connection setting of the local stack', () => {
      expect(stack.env).to.include.keys(
        'PUBSUB_EMULATOR_HOST',
        'FIRESTORE_EMULATOR_HOST',
        'STORAGE_EMULATOR_HOST',
        'GOOGLE_CLOUD_PROJECT',
      );
      expect(stack.env['GOOGLE_CLOUD_PROJECT']).to.equal(projectId);
      expect(stack.env['STORAGE_EMULATOR_HOST']).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(stack.endpoints.map((e) => e.service)).to.have.members([
        'pubsub',
        'firestore',
        'storage',
        'bigquery',
      ]);
    });

    it('serves Pub/Sub: a message published is pulled back', async () => {
      const pubsub = new PubSub({
        projectId,
        apiEndpoint: stack.env['PUBSUB_EMULATOR_HOST'],
        emulatorMode: true,
      });
      const [topic] = await pubsub.createTopic(`t-${randomUUID()}`);
      const [subscription] = await topic.createSubscription(`s-${randomUUID()}`);
      const received = new Promise<string>((resolvePromise) => {
        subscription.on('message', (message: { data: Buffer; ack(): void }) => {
          message.ack();
          resolvePromise(message.data.toString());
        });
      });
      await topic.publishMessage({ data: Buffer.from('hello stack') });
      expect(await received).to.equal('hello stack');
      await subscription.close();
      await pubsub.close();
    });

    it('serves Firestore: a document written is read back', async () => {
      const firestore = new Firestore({ projectId, host: stack.env['FIRESTORE_EMULATOR_HOST'], ssl: false });
      const doc = firestore.collection('stack-test').doc(randomUUID());
      await doc.set({ status: 'RUNNING', tables: 3 });
      const snapshot = await doc.get();
      expect(snapshot.data()).to.deep.equal({ status: 'RUNNING', tables: 3 });
      await firestore.terminate();
    });

    it('serves Cloud Storage: an object saved is downloaded back', async () => {
      const storage = new Storage({ projectId, apiEndpoint: stack.env['STORAGE_EMULATOR_HOST'] });
      const [bucket] = await storage.createBucket(`b-${randomUUID()}`);
      await bucket.file('a/b.txt').save('stack data');
      const [content] = await bucket.file('a/b.txt').download();
      expect(content.toString()).to.equal('stack data');
    });

    it('serves BigQuery with extracts to its Cloud Storage: BIGQUERY_EMULATOR_HOST is enough for the client', async () => {
      const storage = new Storage({ projectId, apiEndpoint: stack.env['STORAGE_EMULATOR_HOST'] });
      const [bucket] = await storage.createBucket(`b-${randomUUID()}`);
      const previous = process.env['BIGQUERY_EMULATOR_HOST'];
      process.env['BIGQUERY_EMULATOR_HOST'] = stack.env['BIGQUERY_EMULATOR_HOST'];
      try {
        const bq = new BigQuery({ projectId, authClient: new PassThroughClient() });
        const [dataset] = await bq.createDataset(`ds_${randomUUID().slice(0, 8)}`);
        const [table] = await dataset.createTable('t', {
          schema: { fields: [{ name: 'n', type: 'INT64' }] },
        });
        await table.insert([{ n: 1 }, { n: 2 }]);
        const [job] = await table.createExtractJob(bucket.file('t.json'), { format: 'JSON' });
        await job.promise();
        const [content] = await bucket.file('t.json').download();
        expect(content.toString()).to.equal('{"n":"1"}\n{"n":"2"}\n');
      } finally {
        if (previous === undefined) delete process.env['BIGQUERY_EMULATOR_HOST'];
        else process.env['BIGQUERY_EMULATOR_HOST'] = previous;
      }
    });

    it('leaves no process behind after stop()', async () => {
      const javaPids = stack.endpoints
        .filter((e) => e.service === 'pubsub' || e.service === 'firestore')
        .map((e) => e.pid);
      expect(javaPids).to.have.length(2);
      for (const pid of javaPids) expect(groupIsAlive(pid), `pid ${pid} before stop`).to.equal(true);
      await stack.stop();
      for (const pid of javaPids)
        expect(groupIsAlive(pid), `process group ${pid} after stop`).to.equal(false);
    });
  });

  describe('with the S3 and Azure stand-ins (s3rver, Azurite) on demand', () => {
    let stack: RunningStack;
    let dataDir: string;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'bqbr-stack-data-'));
      stack = await startStack({
        services: ['storage'],
        s3: true,
        azure: true,
        ports: { storage: 0, s3: 0, azure: 0 },
        dataDir,
      });
    });
    after(async () => {
      await stack?.stop();
      await rm(dataDir, { recursive: true, force: true });
    });

    it('reports their settings, and a file root that exists', () => {
      expect(stack.endpoints.map((e) => e.service)).to.have.members(['storage', 's3', 'azure']);
      const s3Port = stack.endpoints.find((e) => e.service === 's3')!.port;
      const azurePort = stack.endpoints.find((e) => e.service === 'azure')!.port;
      expect(s3Port).to.be.greaterThan(0);
      expect(azurePort).to.be.greaterThan(0);
      expect(stack.env).to.include({
        BQBR_S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
        AWS_ACCESS_KEY_ID: 'S3RVER',
        AWS_SECRET_ACCESS_KEY: 'S3RVER',
        AWS_REGION: 'us-east-1',
        BQBR_AZURE_ACCOUNT_URL: `http://127.0.0.1:${azurePort}/devstoreaccount1`,
        BQBR_FILE_ROOTS: join(dataDir, 'files'),
      });
      expect(stack.env['AZURE_STORAGE_CONNECTION_STRING']).to.match(
        new RegExp(
          `AccountName=devstoreaccount1;.*BlobEndpoint=http://127\\.0\\.0\\.1:${azurePort}/devstoreaccount1`,
        ),
      );
      expect(statSync(stack.env['BQBR_FILE_ROOTS']!).isDirectory()).to.equal(true);
      expect(stack.filesDir).to.equal(stack.env['BQBR_FILE_ROOTS']);
    });

    it('serves S3: a bucket is created, objects put, listed page by page (ListObjectsV2) and read back', async () => {
      const s3 = new S3Client(s3ClientConfig(stack.env));
      try {
        const bucket = `b-${randomUUID().slice(0, 8)}`;
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
        const keys = [1, 2, 3, 4, 5].map((n) => `backup/part-${n}.avro`);
        for (const key of keys) {
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: `data of ${key}` }));
        }
        const pages: string[][] = [];
        let token: string | undefined;
        do {
          const page = await s3.send(
            new ListObjectsV2Command({
              Bucket: bucket,
              Prefix: 'backup/',
              MaxKeys: 2,
              ContinuationToken: token,
            }),
          );
          pages.push((page.Contents ?? []).map((o) => o.Key!));
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token);
        expect(pages).to.deep.equal([keys.slice(0, 2), keys.slice(2, 4), keys.slice(4)]);
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: keys[2] }));
        expect(await got.Body!.transformToString()).to.equal(`data of ${keys[2]}`);
        // s3rver keeps its buckets in the stack's data dir.
        expect(await readdir(join(dataDir, 's3'))).to.include(bucket);
      } finally {
        s3.destroy();
      }
    });

    it('serves Azure Blob Storage: a container is created, blobs uploaded, listed page by page and read back', async () => {
      const service = BlobServiceClient.fromConnectionString(stack.env['AZURE_STORAGE_CONNECTION_STRING']!);
      const container = service.getContainerClient(`c-${randomUUID().slice(0, 8)}`);
      await container.create();
      const names = ['backup/a.avro', 'backup/b.avro', 'backup/c.avro'];
      for (const name of names) {
        const body = `data of ${name}`;
        await container.getBlockBlobClient(name).upload(body, Buffer.byteLength(body));
      }
      const pages: string[][] = [];
      for await (const page of container.listBlobsFlat({ prefix: 'backup/' }).byPage({ maxPageSize: 2 })) {
        pages.push(page.segment.blobItems.map((b) => b.name));
      }
      expect(pages).to.deep.equal([names.slice(0, 2), names.slice(2)]);
      const content = await container.getBlockBlobClient(names[1]!).downloadToBuffer();
      expect(content.toString()).to.equal(`data of ${names[1]}`);

      // The account URL with the well-known key reaches the same account.
      const key = /AccountKey=([^;]+)/.exec(stack.env['AZURE_STORAGE_CONNECTION_STRING']!)![1]!;
      const byUrl = new BlobServiceClient(
        stack.env['BQBR_AZURE_ACCOUNT_URL']!,
        new StorageSharedKeyCredential('devstoreaccount1', key),
      );
      expect(await byUrl.getContainerClient(container.containerName).exists()).to.equal(true);
      expect(existsSync(join(dataDir, 'azurite'))).to.equal(true);
    });

    it('leaves no s3rver or Azurite process behind after stop()', async () => {
      const pids = stack.endpoints
        .filter((e) => e.service === 's3' || e.service === 'azure')
        .map((e) => e.pid);
      expect(pids).to.have.length(2);
      for (const pid of pids) expect(groupIsAlive(pid), `pid ${pid} before stop`).to.equal(true);
      await stack.stop();
      for (const pid of pids) expect(groupIsAlive(pid), `process group ${pid} after stop`).to.equal(false);
    });
  });

  describe('as `npm run stack` (the CLI)', () => {
    let stateDir: string;

    beforeEach(async () => {
      stateDir = await mkdtemp(join(tmpdir(), 'bqbr-stack-'));
    });
    afterEach(async () => {
      await rm(stateDir, { recursive: true, force: true });
    });

    function runCli(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
      const child = spawn(process.execPath, [stackMain, '--state-dir', stateDir, ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (c: Buffer) => (output += c.toString()));
      child.stderr.on('data', (c: Buffer) => (output += c.toString()));
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      return { child, exited, output: () => output };
    }

    it('writes .stack/env, and Ctrl-C stops every emulator and removes the file', async () => {
      const cli = runCli([
        '--pubsub-port',
        '0',
        '--firestore-port',
        '0',
        '--storage-port',
        '0',
        '--bigquery-port',
        '0',
      ]);
      try {
        const envText = await waitFor('the env file', async () => {
          const text = await readFile(join(stateDir, 'env'), 'utf8').catch(() => undefined);
          return text?.includes('STORAGE_EMULATOR_HOST') ? text : undefined;
        });
        const env = Object.fromEntries(
          envText
            .trim()
            .split('\n')
            .map((line) => line.split('=', 2) as [string, string]),
        );
        expect(env).to.include.keys(
          'PUBSUB_EMULATOR_HOST',
          'FIRESTORE_EMULATOR_HOST',
          'STORAGE_EMULATOR_HOST',
        );
        // The file is written before the same lines reach stdout: wait for them there too.
        await waitFor('the printed environment', () =>
          Promise.resolve(cli.output().includes('PUBSUB_EMULATOR_HOST=') ? true : undefined),
        );
        const pids = [...cli.output().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
        expect(pids).to.have.length(2);

        const res = await fetch(`${env['STORAGE_EMULATOR_HOST']}/storage/v1/b?project=p`);
        expect(res.status).to.equal(200);

        cli.child.kill('SIGINT');
        expect(await cli.exited).to.equal(0);
        for (const pid of pids) expect(groupIsAlive(pid), `process group ${pid}`).to.equal(false);
        const left = await readFile(join(stateDir, 'env'), 'utf8').catch(() => 'removed');
        expect(left).to.equal('removed');
      } finally {
        cli.child.kill('SIGKILL');
      }
    });

    it('starts s3rver with --s3 and Azurite with BQBR_STACK_AZURE=1, with a files root in the state dir', async () => {
      const cli = runCli(
        ['--only', 'storage', '--storage-port', '0', '--s3', '--s3-port', '0', '--azure-port', '0'],
        {
          ...process.env,
          BQBR_STACK_AZURE: '1',
        },
      );
      try {
        const envText = await waitFor('the env file', async () => {
          const text = await readFile(join(stateDir, 'env'), 'utf8').catch(() => undefined);
          return text?.includes('BQBR_S3_ENDPOINT') ? text : undefined;
        });
        const env = Object.fromEntries(
          envText
            .trim()
            .split('\n')
            .map((line) => {
              const eq = line.indexOf('=');
              return [line.slice(0, eq), line.slice(eq + 1)] as const;
            }),
        );
        expect(env).to.include.keys(
          'STORAGE_EMULATOR_HOST',
          'BQBR_S3_ENDPOINT',
          'AZURE_STORAGE_CONNECTION_STRING',
        );
        expect(env['BQBR_FILE_ROOTS']).to.equal(join(stateDir, 'files'));
        expect(statSync(join(stateDir, 'files')).isDirectory()).to.equal(true);
        expect(readdirSync(join(stateDir, 'data'))).to.include.members(['s3', 'azurite']);
        const res = await fetch(`${env['BQBR_AZURE_ACCOUNT_URL']}?comp=list`);
        await res.body?.cancel();
        expect(res.status).to.be.within(200, 499);

        await waitFor('the printed environment', () =>
          Promise.resolve(cli.output().includes('BQBR_S3_ENDPOINT=') ? true : undefined),
        );
        const pids = [...cli.output().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
        expect(pids).to.have.length(2);
        cli.child.kill('SIGINT');
        expect(await cli.exited).to.equal(0);
        for (const pid of pids) expect(groupIsAlive(pid), `process group ${pid}`).to.equal(false);
      } finally {
        cli.child.kill('SIGKILL');
      }
    });

    it('leaves no emulator behind even when the launcher itself is killed with SIGKILL', async () => {
      const cli = runCli(['--only', 'pubsub,firestore', '--pubsub-port', '0', '--firestore-port', '0']);
      const pids = await waitFor('both emulators', () => {
        const found = [...cli.output().matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
        return found.length === 2 ? found : undefined;
      });
      cli.child.kill('SIGKILL');
      await cli.exited;
      await waitFor(
        'the emulators to die with their launcher',
        () => (pids.every((pid) => !groupIsAlive(pid)) ? true : undefined),
        10_000,
      );
    });

    it('says in one line how to install a missing emulator', async () => {
      const fakeSdk = join(stateDir, 'sdk');
      await mkdir(join(fakeSdk, 'platform'), { recursive: true });
      const cli = runCli(
        ['--pubsub-port', '0', '--firestore-port', '0', '--storage-port', '0', '--bigquery-port', '0'],
        {
          ...process.env,
          CLOUDSDK_ROOT_DIR: fakeSdk,
        },
      );
      expect(await cli.exited).to.equal(1);
      const lines = cli.output().trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/emulator not installed: apt-get install google-cloud-cli-/);
    });

    it('says in one line how to install Java when it is missing', async () => {
      const cli = runCli(['--only', 'pubsub', '--pubsub-port', '0'], {
        ...process.env,
        PATH: '/nonexistent',
        JAVA_HOME: '',
      });
      // PATH has no node either, but the child was started by absolute path.
      expect(await cli.exited).to.equal(1);
      const lines = cli.output().trim().split('\n');
      expect(lines).to.have.length(1);
      expect(lines[0]).to.match(/Java not found: .*apt-get install default-jre-headless/);
    });

    it('refuses a port that is already taken instead of trusting whatever answers there', async () => {
      const squatter = createServer();
      await new Promise<void>((r) => squatter.listen(0, '127.0.0.1', r));
      const port = (squatter.address() as AddressInfo).port;
      try {
        const cli = runCli([
          '--only',
          'pubsub,storage',
          '--pubsub-port',
          String(port),
          '--storage-port',
          '0',
        ]);
        expect(await cli.exited).to.equal(1);
        expect(cli.output().trim()).to.equal(
          `stack: pubsub: 127.0.0.1:${port} is already in use (a stack still running?): stop it, or choose another port (--pubsub-port)`,
        );
      } finally {
        squatter.close();
      }
    });

    it('refuses an unknown service with a clear message', async () => {
      const cli = runCli(['--only', 'bigtable']);
      expect(await cli.exited).to.equal(1);
      expect(cli.output().trim()).to.equal(
        'stack: --only: unknown service "bigtable" (known: pubsub, firestore, storage, bigquery, s3, azure)',
      );
    });
  });
});

describe('stack settings file', function () {
  it('is sourced by a shell into the same values, quotes and semicolons included', async function () {
    const env = {
      PLAIN: 'http://127.0.0.1:4443',
      AZURE_STORAGE_CONNECTION_STRING:
        'DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=Eby8vd/K1SZ==;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;',
      TRICKY: 'it\'s $HOME `x` \\ "q"',
    };
    const dir = await mkdtemp(join(tmpdir(), 'stack-env-'));
    try {
      const file = join(dir, 'env');
      await writeFile(file, formatEnv(env));
      const shell = spawnSync(
        'sh',
        ['-c', `set -a; . '${file}'; set +a; node -e 'console.log(JSON.stringify(process.env))'`],
        {
          encoding: 'utf8',
          env: { PATH: process.env['PATH'] ?? '' },
        },
      );
      expect(shell.status, shell.stderr).to.equal(0);
      expect(JSON.parse(shell.stdout) as Record<string, string>).to.include(env);
      expect(formatEnv({ PLAIN: env.PLAIN })).to.equal(`PLAIN=${env.PLAIN}\n`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
