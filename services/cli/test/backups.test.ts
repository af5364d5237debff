import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import { MANIFEST_VERSION, type BackupManifest, type StoredBackup } from '@bqbr/shared';
import { Storage, type Bucket } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
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

describe('bqbr backups <uri> (Cloud Storage emulator)', function () {
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let bucket: Bucket;
  let uri: string;

  before(async function () {
    emulator = await startGcsEmulator({ port: 0 });
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'cli-test' });
    const name = `cli-backups-${randomUUID().slice(0, 8)}`;
    [bucket] = await storage.createBucket(name);
    uri = `gs://${name}/nightly`;
    const put = (path: string, contents: string): Promise<void> =>
      bucket.file(`nightly/backups/${path}`).save(contents, { resumable: false });
    await Promise.all([
      put(
        '20240601_083000/proj-alpha/_backup.json',
        JSON.stringify(manifest(`${uri}/backups/20240601_083000`)),
      ),
      put('20240601_083000/proj-alpha/sales/orders/_table.json', '{}'),
      put('20230101_000000/proj-beta/sales/orders-000000000000.csv.gz', 'x'.repeat(1500)),
      put('20230101_000000/proj-beta/sales/orders-000000000001.csv.gz', 'x'.repeat(500)),
      put('20230101_000000/proj-beta/hr/staff-000000000000.csv.gz', 'x'.repeat(1000)),
      put('20240701_000000/proj-alpha/sales/orders/data-000000000000.parquet', 'x'),
    ]);
  });

  after(async function () {
    await emulator?.close();
  });

  it('prints one line per backup, newest first, with status, tables, rows, size and format', async function () {
    const out = capture();
    expect(await backups(storage, out, uri, { json: false })).to.equal(0);
    expect(out.lines).to.deep.equal([
      'TIMESTAMP        PROJECT     LAYOUT      STATUS            TABLES OK/FAILED/SKIPPED  ROWS    SIZE     FORMAT',
      '20240701_000000  proj-alpha  incomplete  -                 -                         -       -        -',
      '20240601_083000  proj-alpha  bqbr        PARTIALLY_FAILED  2/1/1                     123456  12.5 MB  PARQUET/SNAPPY',
      '20230101_000000  proj-beta   original    -                 2                         -       3.00 KB  CSV/GZIP',
    ]);
  });

  it('filters by project and prints the StoredBackup array with --json', async function () {
    const out = capture();
    expect(await backups(storage, out, `${uri}/`, { projectId: 'proj-beta', json: true })).to.equal(0);
    const printed = JSON.parse(out.lines.join('\n')) as StoredBackup[];
    expect(printed).to.deep.equal([
      {
        timestamp: '20230101_000000',
        snapshotMillis: Date.UTC(2023, 0, 1),
        projectId: 'proj-beta',
        folder: `${uri}/backups/20230101_000000/proj-beta`,
        layout: 'original',
      },
    ]);
  });

  it('says so when there are no backups', async function () {
    const out = capture();
    expect(await backups(storage, out, `gs://${bucket.name}/empty`, { json: false })).to.equal(0);
    expect(out.lines).to.deep.equal([`no backups under gs://${bucket.name}/empty`]);
  });

  it('rejects a URI that is not a Cloud Storage location, and a missing bucket, with one clear message', async function () {
    const failure = async (target: string): Promise<unknown> =>
      backups(storage, capture(), target, { json: false }).then(
        () => undefined,
        (err: unknown) => err,
      );
    const notGs = await failure('s3://bucket/path');
    expect(notGs).to.be.instanceOf(StorageUriError);
    expect((notGs as Error).message).to.match(
      /^not a Cloud Storage URI: expected a gs:\/\/bucket\[\/path\] URI/,
    );
    const missing = await failure('gs://no-such-bucket-here/x');
    expect(missing).to.be.instanceOf(StorageUriError);
    expect((missing as Error).message).to.equal('bucket gs://no-such-bucket-here does not exist');
  });
});
