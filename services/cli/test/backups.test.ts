import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  Crc32c,
  crc32cToBase64,
  createStore,
  destinationFromUri,
  fileStore,
  MANIFEST_VERSION,
  type BackupManifest,
  type BackupStore,
  type StoredBackup,
  type TableManifest,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { showBackup, type ShownBackup } from '../src/backup-show.js';
import { backups, StorageUriError } from '../src/backups.js';
import { CliError, UsageError } from '../src/failure.js';
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

/** A data file's contents, and the manifest entry that records it (without its URI). */
const DATA = 'parquet bytes';
const DATA_FILE = {
  name: 'data-000000000000.parquet',
  bytes: DATA.length,
  md5: createHash('md5').update(DATA).digest('base64'),
  crc32c: crc32cToBase64(new Crc32c().update(Buffer.from(DATA)).digest()),
};

const tableManifest = (store: BackupStore, folder: string, tableId: string): TableManifest => ({
  manifestVersion: MANIFEST_VERSION,
  kind: 'bqbr#table',
  operationId: 'op-cli-backups',
  source: { projectId: 'proj-alpha', datasetId: 'sales', tableId },
  snapshotMillis: Date.UTC(2024, 5, 1, 8, 30, 0),
  snapshotTime: '2024-06-01T08:30:00.000Z',
  tableType: 'TABLE',
  schema: { fields: [{ name: 'id', type: 'INT64' }] },
  numRows: 3,
  export: manifest('').export,
  files: [
    { ...DATA_FILE, uri: store.uri(`backups/${folder}/proj-alpha/sales/${tableId}/${DATA_FILE.name}`) },
  ],
  createdAt: '2024-06-01T08:31:00.000Z',
});

async function writeBackups(store: BackupStore): Promise<void> {
  const put = (path: string, contents: string) =>
    store.put(`backups/${path}`, Readable.from([Buffer.from(contents)]));
  const json = (value: unknown): string => JSON.stringify(value);
  await Promise.all([
    put(
      '20240601_083000/proj-alpha/_backup.json',
      json({
        ...manifest(store.uri('backups/20240601_083000')),
        tables: [
          {
            datasetId: 'sales',
            tableId: 'orders',
            status: 'SUCCEEDED',
            rows: 3,
            bytes: DATA.length,
            files: 1,
          },
          {
            datasetId: 'sales',
            tableId: 'refunds',
            status: 'FAILED',
            error: { reason: 'accessDenied', message: 'extract refused' },
          },
          { datasetId: 'sales', tableId: 'archive', status: 'SKIPPED', note: 'excluded by the request' },
        ],
      }),
    ),
    put(
      '20240601_083000/proj-alpha/sales/orders/_table.json',
      json(tableManifest(store, '20240601_083000', 'orders')),
    ),
    put('20240601_083000/proj-alpha/sales/orders/data-000000000000.parquet', DATA),
    put('20230101_000000/proj-beta/sales/orders-000000000000.csv.gz', 'x'.repeat(1500)),
    put('20230101_000000/proj-beta/sales/orders-000000000001.csv.gz', 'x'.repeat(500)),
    put('20230101_000000/proj-beta/hr/staff-000000000000.csv.gz', 'x'.repeat(1000)),
    put('20240701_000000/proj-alpha/sales/orders/data-000000000000.parquet', 'x'),
    // A prune began deleting this one: the marker is there, one table's files are gone already.
    put(
      '20240501_000000/proj-alpha/_backup.json',
      json({
        ...manifest(store.uri('backups/20240501_000000')),
        status: 'SUCCEEDED',
        summary: {
          tables: 2,
          succeeded: 2,
          failed: 0,
          skipped: 0,
          rows: 6,
          bytes: 2 * DATA.length,
          files: 2,
        },
        tables: [
          { datasetId: 'sales', tableId: 'orders', status: 'SUCCEEDED' },
          { datasetId: 'sales', tableId: 'customers', status: 'SUCCEEDED' },
        ],
      }),
    ),
    put('20240501_000000/proj-alpha/_pruning.json', json({ operationId: 'prune-op-1' })),
    put(
      '20240501_000000/proj-alpha/sales/customers/_table.json',
      json(tableManifest(store, '20240501_000000', 'customers')),
    ),
    put('20240501_000000/proj-alpha/sales/customers/data-000000000000.parquet', DATA),
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

  it('prints one line per backup, newest first, with status (partially deleted: being pruned), tables, rows, size and format', async function () {
    const out = capture();
    expect(await run(place().uri, { json: false }, out)).to.equal(0);
    expect(out.lines).to.deep.equal([
      'TIMESTAMP        PROJECT     LAYOUT      STATUS             TABLES OK/FAILED/SKIPPED  ROWS    SIZE     FORMAT',
      '20240701_000000  proj-alpha  incomplete  -                  -                         -       -        -',
      '20240601_083000  proj-alpha  bqbr        PARTIALLY_FAILED   2/1/1                     123456  12.5 MB  PARQUET/SNAPPY',
      // A prune began deleting it: not a whole backup any more.
      '20240501_000000  proj-alpha  pruning     partially deleted  2/0/0                     6       26 B     PARQUET/SNAPPY',
      '20230101_000000  proj-beta   original    -                  2                         -       3.00 KB  CSV/GZIP',
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
    const shown = await failure(show(uri, '20240601_083000', { projectId: 'proj-alpha', json: false }));
    expect(shown).to.be.instanceOf(StorageUriError);
    expect((shown as Error).message).to.equal(message);
  });

  const show = (
    uri: string,
    timestamp: string,
    options: { projectId?: string; json: boolean },
    out = capture(),
  ) =>
    showBackup(deps().storage, out, uri, timestamp, {
      ...options,
      env: deps().env,
      now: () => new Date('2024-06-15T00:00:00Z'),
    });

  it('backups show: the backup, its tables with rows, bytes and format, and each file with its checksums', async function () {
    const out = capture();
    // The only project with a backup of that second: no --project needed.
    expect(await show(place().uri, '20240601_083000', { json: false }, out)).to.equal(0);
    const { md5, crc32c } = DATA_FILE;
    expect(out.lines).to.deep.equal([
      'backup 20240601_083000 of project proj-alpha: PARTIALLY_FAILED',
      `  folder      ${place().base}/backups/20240601_083000/proj-alpha`,
      '  layout      bqbr',
      '  status      PARTIALLY_FAILED',
      '  operation   op-cli-backups',
      '  snapshot    2024-06-01T08:30:00.000Z',
      '  ran         2024-06-01T08:30:00.000Z to 2024-06-01T08:35:00.000Z',
      '  format      PARQUET/SNAPPY',
      '  tables      4: 2 succeeded, 1 failed, 1 skipped',
      '  data        123456 rows, 12.5 MB in 3 files',
      '  depends on  nothing (a full backup)',
      '  retention   none (not write-once)',
      '',
      'TABLE          STATUS     TYPE   ROWS  SIZE  FILES  FORMAT          NOTE',
      'sales.orders   SUCCEEDED  TABLE  3     13 B  1      PARQUET/SNAPPY',
      'sales.refunds  FAILED     -      -     -     -      -               accessDenied: extract refused',
      'sales.archive  SKIPPED    -      -     -     -      -               excluded by the request',
      '',
      'sales.orders:',
      `  FILE                       SIZE  MD5                       CRC32C`,
      `  data-000000000000.parquet  13 B  ${md5}  ${crc32c}`,
    ]);
  });

  it('backups show --json: the listing entry with every table, file and checksum', async function () {
    const out = capture();
    expect(
      await show(`${place().uri}/`, '20240601_083000', { projectId: 'proj-alpha', json: true }, out),
    ).to.equal(0);
    const shown = JSON.parse(out.lines.join('\n')) as ShownBackup;
    expect(shown).to.include({
      timestamp: '20240601_083000',
      projectId: 'proj-alpha',
      layout: 'bqbr',
      partiallyDeleted: false,
    });
    expect(shown.folder).to.equal(`${place().base}/backups/20240601_083000/proj-alpha`);
    expect(shown.manifest?.status).to.equal('PARTIALLY_FAILED');
    expect(shown.dependsOn).to.deep.equal([]);
    expect(shown.retention).to.equal(undefined);
    expect(shown.tables).to.deep.equal([
      {
        datasetId: 'sales',
        tableId: 'orders',
        status: 'SUCCEEDED',
        tableType: 'TABLE',
        rows: 3,
        bytes: DATA.length,
        format: 'PARQUET/SNAPPY',
        files: [DATA_FILE],
      },
      { datasetId: 'sales', tableId: 'refunds', status: 'FAILED', note: 'accessDenied: extract refused' },
      { datasetId: 'sales', tableId: 'archive', status: 'SKIPPED', note: 'excluded by the request' },
    ]);
  });

  it('backups show: a backup a prune began deleting is partially deleted, its deleted tables said so', async function () {
    const out = capture();
    expect(
      await show(place().uri, '20240501_000000', { projectId: 'proj-alpha', json: false }, out),
    ).to.equal(0);
    expect(out.lines.slice(0, 4)).to.deep.equal([
      'backup 20240501_000000 of project proj-alpha: partially deleted',
      `  folder      ${place().base}/backups/20240501_000000/proj-alpha`,
      '  layout      pruning',
      '  state       partially deleted: a prune (prune-op-1) began deleting it; the next prune finishes it',
    ]);
    expect(out.lines).to.include('  status      SUCCEEDED');
    expect(out.lines.find((line) => line.startsWith('sales.orders '))).to.match(
      /^sales\.orders\s+SUCCEEDED\s+-\s+-\s+-\s+-\s+-\s+deleted by the prune$/,
    );
    expect(out.lines.find((line) => line.startsWith('sales.customers '))).to.match(
      /^sales\.customers\s+SUCCEEDED\s+TABLE\s+3\s+13 B\s+1\s+PARQUET\/SNAPPY$/,
    );
    const json = capture();
    await show(place().uri, '20240501_000000', { projectId: 'proj-alpha', json: true }, json);
    expect(JSON.parse(json.lines.join('\n'))).to.deep.include({
      partiallyDeleted: true,
      pruning: { operationId: 'prune-op-1' },
    });
  });

  it("backups show: an original-layout backup's tables and files; an incomplete one's table manifests", async function () {
    const out = capture();
    expect(await show(place().uri, '20230101_000000', { json: false }, out)).to.equal(0);
    expect(out.lines[0]).to.equal('backup 20230101_000000 of project proj-beta: original');
    expect(out.lines).to.include.members([
      'TABLE         STATUS  TYPE  ROWS  SIZE     FILES  FORMAT    NOTE',
      'hr.staff      -       -     -     1.00 KB  1      CSV/GZIP',
      'sales.orders  -       -     -     2.00 KB  2      CSV/GZIP',
      '  orders-000000000001.csv.gz  500 B    -    -',
    ]);
    const incomplete = capture();
    expect(
      await show(place().uri, '20240701_000000', { projectId: 'proj-alpha', json: true }, incomplete),
    ).to.equal(0);
    expect(JSON.parse(incomplete.lines.join('\n'))).to.deep.include({ layout: 'incomplete', tables: [] });
  });

  it('backups show: a backup that is not there, and a second of several projects without --project', async function () {
    const missing = await failure(
      show(place().uri, '20240602_000000', { projectId: 'proj-alpha', json: false }),
    );
    expect(missing).to.be.instanceOf(CliError);
    expect((missing as Error).message).to.equal(
      `no backup 20240602_000000 of project proj-alpha under ${place().uri}: bqbr backups ${place().uri} lists them`,
    );
    const several = await failure(show(place().uri, 'latest', { json: false }));
    expect(several).to.be.instanceOf(UsageError);
    expect((several as Error).message).to.equal(
      `${place().uri} holds backups of several projects (proj-alpha, proj-beta): name one with --project`,
    );
    const out = capture();
    expect(await show(place().uri, 'latest', { projectId: 'proj-alpha', json: false }, out)).to.equal(0);
    // The newest backup that did not fail, and is not being pruned.
    expect(out.lines[0]).to.equal('backup 20240601_083000 of project proj-alpha: PARTIALLY_FAILED');
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

    it('backups show: the write-once retention of a locked backup, and when it ended', async function () {
      const locked = `cli-locked-${randomUUID().slice(0, 8)}`;
      await storage.createBucket(locked, { enableObjectRetention: true });
      const lockedUri = `gs://${locked}/nightly`;
      const store = createStore(destinationFromUri(lockedUri, env), { storage, env });
      const retainUntil = new Date(Date.now() + 3_600_000).toISOString();
      await store.put(
        'backups/20240601_083000/proj-alpha/_backup.json',
        Readable.from([
          Buffer.from(
            JSON.stringify({ ...manifest(store.uri('backups/20240601_083000')), status: 'SUCCEEDED' }),
          ),
        ]),
        { retention: { mode: 'COMPLIANCE', retainUntil } },
      );
      const at = async (now: Date): Promise<string[]> => {
        const out = capture();
        await showBackup(storage, out, lockedUri, '20240601_083000', { json: false, env, now: () => now });
        return out.lines.filter((line) => line.startsWith('  retention'));
      };
      expect(await at(new Date())).to.deep.equal([
        `  retention   write-once (COMPLIANCE) until ${retainUntil}`,
      ]);
      expect(await at(new Date(Date.parse(retainUntil) + 1000))).to.deep.equal([
        `  retention   write-once (COMPLIANCE) until ${retainUntil} (ended)`,
      ]);
      const json = capture();
      await showBackup(storage, json, lockedUri, '20240601_083000', { json: true, env });
      expect((JSON.parse(json.lines.join('\n')) as ShownBackup).retention).to.deep.equal({
        mode: 'COMPLIANCE',
        retainUntil,
      });
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
        '20240501_000000 proj-alpha pruning',
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
