// The restore's BackupSource over real stores: here a file destination in a temporary directory (the
// listing itself is tested against every kind of store in shared/test/backup-listing.test.ts).
import { createStore, MANIFEST_VERSION, type BackupManifest, type DestinationSpec } from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { storeBackupSource } from '../src/kinds/restore/store-backup-source.js';

const manifest = (location: string): BackupManifest => ({
  manifestVersion: MANIFEST_VERSION,
  kind: 'bqbr#backup',
  operationId: 'op-sources',
  projectId: 'proj-a',
  snapshotMillis: Date.UTC(2024, 5, 1),
  snapshotTime: '2024-06-01T00:00:00.000Z',
  location,
  export: {
    format: 'AVRO',
    compression: 'SNAPPY',
    header: false,
    fieldDelimiter: ',',
    useAvroLogicalTypes: true,
  },
  status: 'SUCCEEDED',
  summary: { tables: 1, succeeded: 1, failed: 0, skipped: 0, rows: 1, bytes: 1, files: 1 },
  tables: [],
  startedAt: '2024-06-01T00:00:00.000Z',
  finishedAt: '2024-06-01T00:01:00.000Z',
});

describe('restore sources: backups read from the store a destination names', function () {
  let root: string;
  let where: DestinationSpec;
  let made: DestinationSpec[];
  const storage = new Storage({ projectId: 'sources-test' });

  before(async function () {
    root = await mkdtemp(join(tmpdir(), 'restore-sources-'));
    where = { kind: 'file', path: join(root, 'nightly') };
    const store = createStore(where, { storage, env: { BQBR_FILE_ROOTS: root } });
    const put = (path: string, text: string) => store.put(path, Readable.from([Buffer.from(text)]));
    await put('backups/20240601_000000/proj-a/_backup.json', JSON.stringify(manifest('EU')));
    await put(
      'backups/20240601_000000/proj-a/sales/orders/_table.json',
      JSON.stringify({ location: 'europe-west3' }),
    );
    await put('backups/20240601_000000/proj-a/sales/broken/_table.json', '{"location": ');
    await put('backups/20230101_000000/proj-a/hr/staff-000000000000.csv.gz', 'x'.repeat(12));
  });

  after(async function () {
    await rm(root, { recursive: true, force: true });
  });

  const source = () => {
    made = [];
    return storeBackupSource((destination) => {
      made.push(destination);
      return createStore(destination, { storage, env: { BQBR_FILE_ROOTS: root } });
    });
  };

  it('finds backups, their timestamps and original-layout tables with paths in the store', async function () {
    const backups = source();
    const found = await backups.find(where, 'proj-a', 'latest');
    expect(found).to.deep.include({
      timestamp: '20240601_000000',
      folderPath: 'backups/20240601_000000/proj-a',
      folder: `file://${root}/nightly/backups/20240601_000000/proj-a`,
      layout: 'bqbr',
    });
    expect(found?.manifest?.operationId).to.equal('op-sources');
    expect(await backups.timestamps(where, 'proj-a')).to.deep.equal(['20240601_000000', '20230101_000000']);
    const original = await backups.find(where, 'proj-a', '20230101_000000');
    expect(original?.layout).to.equal('original');
    const tables = await backups.originalTables(where, original!.folderPath);
    expect(tables).to.have.length(1);
    expect(tables[0]).to.deep.include({ datasetId: 'hr', tableId: 'staff', format: 'CSV' });
    expect(tables[0]!.files).to.deep.equal([
      {
        path: 'backups/20230101_000000/proj-a/hr/staff-000000000000.csv.gz',
        uri: `file://${root}/nightly/backups/20230101_000000/proj-a/hr/staff-000000000000.csv.gz`,
        bytes: 12,
      },
    ]);
    // One store for the destination, however many calls (and however its fields are ordered).
    await backups.find({ path: join(root, 'nightly'), kind: 'file' }, 'proj-a', 'latest');
    expect(made).to.have.length(1);
  });

  it("reads a table manifest's location; a missing or unreadable manifest has none", async function () {
    const backups = source();
    const folder = 'backups/20240601_000000/proj-a/sales';
    expect(await backups.manifestLocation(where, `${folder}/orders/_table.json`)).to.equal('europe-west3');
    expect(await backups.manifestLocation(where, `${folder}/broken/_table.json`)).to.equal(undefined);
    expect(await backups.manifestLocation(where, `${folder}/missing/_table.json`)).to.equal(undefined);
  });
});
