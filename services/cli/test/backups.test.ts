import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  createStore,
  destinationFromUri,
  fileStore,
  MANIFEST_VERSION,
  type BackupManifest,
  type BackupStore,
  type StoredBackup,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { backups, StorageUriError } from '../src/backups.js';
import type { Output } from '../src/commands.js';

function capture(): Output & { readonly lines: string[] } {
  const lines: string[] = [];
  return { isTty: false, lines, line: (text) => lines.push(text), status: (text) => lines.push(text) };
}

const manifest = (location: string): BackupManifest => ({
  manifestVersion: MANIFEST_VERSION,
  kind: 'bqbr#backup',
  operationId: 'op-cli-backups',
  projectId: 'proj-alpha',
  snapshotMillis: Date.UTC(2024, 5, 1, 8, 30, 0),
  snapshotTime: '2024-06-01T08:30:00.000Z',
  location,
  export: {
    format: 'PARQUET',
    compression: 'SNAPPY',
    header: false,
    fieldDelimiter: ',',
    useAvroLogicalTypes: true,
  },
  status: 'PARTIALLY_FAILED',
  summary: { tables: 4, succeeded: 2, failed: 1, skipped: 1, rows: 123456, bytes: 12_500_000, files: 3 },
  tables: [],
  startedAt: '2024-06-01T08:30:00.000Z',
  finishedAt: '2024-06-01T08:35:00.000Z',
});

async function writeBackups(store: BackupStore): Promise<void> {
  const put = (path: string, contents: string) =>
    store.put(`backups/${path}`, Readable.from([Buffer.from(contents)]));
  await Promise.all([
    put(
      '20240601_083000/proj-alpha/_backup.json',
      JSON.stringify(manifest(store.uri('backups/20240601_083000'))),
    ),
    put('20240601_083000/proj-alpha/sales/orders/_table.json', '{}'),
    put('20230101_000000/proj-beta/sales/orders-000000000000.csv.gz', 'x'.repeat(1500)),
    put('20230101_000000/proj-beta/sales/orders-000000000001.csv.gz', 'x'.repeat(500)),
    put('20230101_000000/proj-beta/hr/staff-000000000000.csv.gz', 'x'.repeat(1000)),
    put('20240701_000000/proj-alpha/sales/orders/data-000000000000.parquet', 'x'),
  ]);
}

const failure = (promise: Promise<unknown>): Promise<unknown> =>
  promise.then(
    () => undefined,
    (err: unknown) => err,
  );

/** Where one kind of destination keeps the backups above, as the user names it on the command line. */
interface Place {
  /** What the user types. */
  readonly uri: string;
  /** The backups' folders as the listing names them (the store's URI of its root). */
  readonly base: string;
  /** An empty place of the same kind. */
  readonly empty: string;
  /** A place that does not exist, and the message saying so. */
  readonly missing: readonly [string, string];
}

function listsTheBackupsAt(
  place: () => Place,
  deps: () => { storage: Storage; env: Record<string, string> },
): void {
  const run = (uri: string, options: { projectId?: string; json: boolean }, out = capture()) =>
    backups(deps().storage, out, uri, { ...options, env: deps().env });

  it('prints one line per backup, newest first, with status, tables, rows, size and format', async function () {
    const out = capture();
    expect(await run(place().uri, { json: false }, out)).to.equal(0);
    expect(out.lines).to.deep.equal([
      'TIMESTAMP        PROJECT     LAYOUT      STATUS            TABLES OK/FAILED/SKIPPED  ROWS    SIZE     FORMAT',
      '20240701_000000  proj-alpha  incomplete  -                 -                         -       -        -',
      '20240601_083000  proj-alpha  bqbr        PARTIALLY_FAILED  2/1/1                     123456  12.5 MB  PARQUET/SNAPPY',
      '20230101_000000  proj-beta   original    -                 2                         -       3.00 KB  CSV/GZIP',
    ]);
  });

  it('filters by project and prints the StoredBackup array with --json', async function () {
    const out = capture();
    expect(await run(`${place().uri}/`, { projectId: 'proj-beta', json: true }, out)).to.equal(0);
    const printed = JSON.parse(out.lines.join('\n')) as StoredBackup[];
    expect(printed).to.deep.equal([
      {
        timestamp: '20230101_000000',
        snapshotMillis: Date.UTC(2023, 0, 1),
        projectId: 'proj-beta',
        folderPath: 'backups/20230101_000000/proj-beta',
        folder: `${place().base}/backups/20230101_000000/proj-beta`,
        layout: 'original',
      },
    ]);
  });

  it('says so when there are no backups', async function () {
    const out = capture();
    expect(await run(place().empty, { json: false }, out)).to.equal(0);
    expect(out.lines).to.deep.equal([`no backups under ${place().empty}`]);
  });

  it('reports a place that does not exist in one clear line', async function () {
    const [uri, message] = place().missing;
    const err = await failure(run(uri, { json: false }));
    expect(err).to.be.instanceOf(StorageUriError);
    expect((err as Error).message).to.equal(message);
  });
}

describe('bqbr backups <uri>', function () {
  let stack: RunningStack;
  let storage: Storage;
  let env: Record<string, string>;
  const savedEnv: Record<string, string | undefined> = {};
  const deps = () => ({ storage, env });

  before(async function () {
    stack = await startStack({
      services: ['storage'],
      s3: true,
      azure: true,
      ports: { storage: 0, s3: 0, azure: 0 },
    });
    env = { ...stack.env };
    storage = new Storage({ apiEndpoint: env['STORAGE_EMULATOR_HOST']!, projectId: 'cli-test' });
    // The AWS SDK takes its credentials from process.env only.
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_EC2_METADATA_DISABLED']) {
      savedEnv[name] = process.env[name];
      process.env[name] = env[name] ?? 'true';
    }
  });

  after(async function () {
    for (const [name, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
  });

  describe('in Cloud Storage (emulator)', function () {
    const bucket = `cli-backups-${randomUUID().slice(0, 8)}`;
    const uri = `gs://${bucket}/nightly`;

    before(async function () {
      await storage.createBucket(bucket);
      await writeBackups(createStore(destinationFromUri(uri, env), { storage, env }));
    });

    listsTheBackupsAt(
      () => ({
        uri,
        base: uri,
        empty: `gs://${bucket}/empty`,
        missing: ['gs://no-such-bucket-here/x', 'bucket gs://no-such-bucket-here does not exist'],
      }),
      deps,
    );
  });

  describe('in S3 (s3rver)', function () {
    const bucket = `cli-backups-${randomUUID().slice(0, 8)}`;
    const uri = `s3://${bucket}/nightly`;

    before(async function () {
      const s3 = new S3Client({
        endpoint: env['BQBR_S3_ENDPOINT']!,
        region: env['AWS_REGION']!,
        forcePathStyle: true,
      });
      try {
        await s3.send(new CreateBucketCommand({ Bucket: bucket }));
      } finally {
        s3.destroy();
      }
      // The endpoint (BQBR_S3_ENDPOINT) and region come from the environment the command is given.
      await writeBackups(createStore(destinationFromUri(uri, env), { storage, env }));
    });

    listsTheBackupsAt(
      () => ({
        uri,
        base: uri,
        empty: `s3://${bucket}/empty`,
        missing: ['s3://no-such-bucket-here/x', 'bucket s3://no-such-bucket-here does not exist'],
      }),
      deps,
    );
  });

  describe('in Azure Blob Storage (Azurite)', function () {
    const container = `cli-backups-${randomUUID().slice(0, 8)}`;
    let uri: string;

    before(async function () {
      // The account in the path, as Azurite serves it; the key comes from AZURE_STORAGE_CONNECTION_STRING.
      uri = `${env['BQBR_AZURE_ACCOUNT_URL']}/${container}/nightly`;
      await BlobServiceClient.fromConnectionString(env['AZURE_STORAGE_CONNECTION_STRING']!)
        .getContainerClient(container)
        .create();
      await writeBackups(createStore(destinationFromUri(uri, env), { storage, env }));
    });

    listsTheBackupsAt(
      () => ({
        uri,
        base: uri,
        empty: `${env['BQBR_AZURE_ACCOUNT_URL']}/${container}/empty`,
        missing: [
          `${env['BQBR_AZURE_ACCOUNT_URL']}/no-such-container/x`,
          `container ${env['BQBR_AZURE_ACCOUNT_URL']}/no-such-container does not exist`,
        ],
      }),
      deps,
    );
  });

  describe('in a directory', function () {
    let root: string;
    let directory: string;

    before(async function () {
      root = await mkdtemp(join(tmpdir(), 'cli-backups-'));
      directory = join(root, 'nightly');
      await writeBackups(fileStore('/', directory, [root]));
      await mkdir(join(root, 'empty'));
    });

    after(async function () {
      await rm(root, { recursive: true, force: true });
    });

    listsTheBackupsAt(
      () => ({
        uri: directory,
        base: pathToFileURL(directory).href,
        empty: join(root, 'empty'),
        missing: [join(root, 'missing'), `directory ${join(root, 'missing')} does not exist`],
      }),
      deps,
    );

    it('takes a file:// URI too, whatever BQBR_FILE_ROOTS allows the services', async function () {
      const out = capture();
      const uri = pathToFileURL(directory).href;
      expect(
        await backups(storage, out, uri, {
          projectId: 'proj-alpha',
          json: false,
          env: { BQBR_FILE_ROOTS: '/nowhere' },
        }),
      ).to.equal(0);
      expect(out.lines.slice(1).map((line) => line.split(/\s+/).slice(0, 3).join(' '))).to.deep.equal([
        '20240701_000000 proj-alpha incomplete',
        '20240601_083000 proj-alpha bqbr',
      ]);
    });
  });

  it('rejects a URI that names no kind of backup location, with one clear message', async function () {
    for (const [uri, message] of [
      [
        'ftp://host/path',
        'not a backup location: unknown kind of location "ftp://": expected gs://, s3://, https:// (Azure), azure://, file:// or a directory path',
      ],
      ['gs://Not_A_Bucket/x', /^not a backup location: invalid Cloud Storage URI: expected a bucket name/],
      ['s3://x/path', /^not a backup location: invalid S3 bucket: expected an S3 bucket name/],
    ] as const) {
      const err = await failure(backups(storage, capture(), uri, { json: false, env }));
      expect(err, uri).to.be.instanceOf(StorageUriError);
      if (typeof message === 'string') expect((err as Error).message).to.equal(message);
      else expect((err as Error).message).to.match(message);
    }
  });
});
