// Verify, end to end (dispatcher and worker as processes), on every kind of backup location: a backup
// made by the services verifies SUCCEEDED; with one byte of one data file changed, another data file
// deleted and one `_table.json` altered, the verify ends FAILED naming each; the catalogue keeps both.
import { type BackupCatalogEntry } from '@bqbr/shared';
import { expect } from 'chai';
import { Readable } from 'node:stream';
import {
  runRequest,
  startEnvironment,
  tasksByTable,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';
import {
  STORE_KINDS,
  StoreLocations,
  readObject,
  replaceTableManifest,
  type StoreKind,
} from '../support/store-locations.js';

/** Rows per exported file (the BigQuery emulator's control): orders makes 3 files, items 1. */
const SHARD_ROWS = 10;

describe('verify end to end, on every kind of location (gcs, s3, azure, file)', function () {
  this.timeout(300_000);
  let environment: Environment;
  let locations: StoreLocations;
  let sourceProject: string;

  before(async function () {
    environment = await startEnvironment({ destinations: true });
    locations = new StoreLocations(environment);
    await locations.prepare();
    await environment.controls({ exportShardRows: SHARD_ROWS });
    sourceProject = unique('src').replaceAll('_', '-');
    const bigquery = environment.bigquery(sourceProject);
    const [shop] = await bigquery.createDataset('shop');
    const [orders] = await shop.createTable('orders', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64' },
          { name: 'amount', type: 'FLOAT64' },
        ],
      },
    });
    await orders.insert(Array.from({ length: 3 * SHARD_ROWS }, (_, id) => ({ id, amount: id * 1.5 })));
    const [items] = await shop.createTable('items', {
      schema: { fields: [{ name: 'sku', type: 'STRING' }] },
    });
    await items.insert([{ sku: 'a' }, { sku: 'b' }]);
    await shop.createTable('big_orders', {
      view: { query: 'SELECT id FROM shop.orders WHERE amount > 10', useLegacySql: false },
    });
  });

  after(async function () {
    await environment?.stop();
  });

  const run = (kind: 'backup' | 'verify', body: object) => runRequest(environment, kind, body);

  const verify = (kind: StoreKind, prefix: string, fields: object = {}) =>
    run('verify', {
      kind: 'verify',
      bigQuery: { projectId: sourceProject },
      backupStorage: locations.storage(kind, prefix),
      backupTimestamp: 'latest',
      ...fields,
    });

  const catalogued = async (backupId: string): Promise<BackupCatalogEntry | undefined> =>
    (await environment.firestore.collection('backups').doc(backupId).get()).data() as
      BackupCatalogEntry | undefined;

  it('over the HTTP API: a dry run lists what would be read, a missing backup is refused at once, a subset reads a share', async function () {
    const prefix = unique('api');
    const backup = await run('backup', {
      bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'shop' }] },
      backupStorage: locations.storage('file', prefix, {
        exportOptions: { format: 'AVRO', overwrite: true },
      }),
    });
    expect(backup.operation.status).to.equal('SUCCEEDED');
    const submit = async (body: object): Promise<{ status: number; body: Record<string, unknown> }> => {
      const res = await fetch(`${environment.dispatcherUrl}/api/v1/verify`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          bigQuery: { projectId: sourceProject },
          backupStorage: locations.storage('file', prefix),
          backupTimestamp: 'latest',
          ...body,
        }),
      });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const dry = await submit({ dryRun: true });
    expect(dry.status, JSON.stringify(dry.body)).to.equal(200);
    const plan = dry.body['plan'] as {
      tables: number;
      skipped: number;
      sample: { table: string; action: string; note: string }[];
    };
    expect(plan).to.deep.include({ tables: 3, skipped: 0 });
    expect(plan.sample.find((e) => e.table === 'shop.orders')).to.deep.include({
      action: 'VERIFY',
      note: `reads 3 of 3 file(s), ${backup.tasks.find((t) => t.table.tableId === 'orders')!.bytes} bytes, and _table.json`,
    });

    const missing = await submit({ backupTimestamp: '20200101_000000' });
    expect(missing.status).to.equal(400);
    expect(JSON.stringify(missing.body)).to.contain('no backup of project');

    const operationId = unique('v_subset');
    const accepted = await submit({ operationId, readDataSubset: '1/3' });
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(202);
    const operation = await waitForOperation(environment, operationId);
    expect(operation.status).to.equal('SUCCEEDED');
    const read = (await tasksOf(environment, operationId)).reduce((n, t) => n + (t.fileCount ?? 0), 0);
    expect(read, 'files read of 4').to.be.below(4);
    const entry = await catalogued(backup.operation.operationId);
    expect(entry?.verification).to.deep.include({
      operationId,
      status: 'SUCCEEDED',
      subset: '1/3',
      filesRead: read,
    });
  });

  for (const kind of STORE_KINDS) {
    it(`${kind}: a good backup verifies; a changed byte, a deleted file and an altered manifest fail it, each named`, async function () {
      const prefix = unique(kind);
      const backup = await run('backup', {
        bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'shop' }] },
        backupStorage: locations.storage(kind, prefix, {
          exportOptions: { format: 'AVRO', overwrite: true },
        }),
      });
      expect(backup.operation.status, JSON.stringify(backup.operation.error)).to.equal('SUCCEEDED');

      const good = await verify(kind, prefix);
      expect(good.operation.status, JSON.stringify(good.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
      const read = tasksByTable(good.tasks);
      expect(read.get('orders')).to.include({ status: 'SUCCEEDED', fileCount: 3 });
      expect(read.get('items')).to.include({ status: 'SUCCEEDED', fileCount: 1 });
      // A view has no data files; its manifest is still read and checked.
      expect(read.get('big_orders')).to.include({ status: 'SUCCEEDED', fileCount: 0 });
      const backupBytes = backup.tasks.reduce((n, t) => n + (t.bytes ?? 0), 0);
      expect((await catalogued(backup.operation.operationId))?.verification).to.deep.include({
        operationId: good.operation.operationId,
        status: 'SUCCEEDED',
        tables: 3,
        failedTables: 0,
        filesRead: 4,
        bytesRead: backupBytes,
      });

      // The damage: one byte of one orders file, another orders file gone, items' manifest altered.
      const store = locations.store(kind, prefix);
      const folder = backup.operation.location!.split('/backups/')[1]!;
      const tableFolder = (table: string): string => `backups/${folder}/${sourceProject}/shop/${table}/`;
      const changed = `${tableFolder('orders')}data-000000000000.avro`;
      const bytes = await readObject(store, changed);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0x01, bytes.length - 1);
      await store.put(changed, Readable.from([bytes]));
      await store.delete(`${tableFolder('orders')}data-000000000002.avro`);
      const manifest = JSON.parse(
        (await readObject(store, `${tableFolder('items')}_table.json`)).toString(),
      ) as {
        numRows: number;
      };
      await store.put(
        `${tableFolder('items')}_table.json`,
        Readable.from([Buffer.from(JSON.stringify({ ...manifest, numRows: manifest.numRows + 1 }))]),
      );

      const bad = await verify(kind, prefix);
      expect(bad.operation.status).to.equal('FAILED');
      const found = tasksByTable(bad.tasks);
      const orders = found.get('orders')!;
      expect(orders.status).to.equal('FAILED');
      expect(orders.error?.reason).to.equal('verifyFailed');
      const issues = new Map(orders.error?.issues?.map((issue) => [issue.path, issue.message]));
      expect([...issues.keys()].sort()).to.deep.equal(['data-000000000000.avro', 'data-000000000002.avro']);
      expect(issues.get('data-000000000000.avro')).to.match(
        /^damaged: MD5 expected .+, got .+; CRC32C expected/,
      );
      expect(issues.get('data-000000000002.avro')).to.equal('missing');
      expect(orders.fileCount, 'files read: the two still there').to.equal(2);
      const items = found.get('items')!;
      expect(items.status).to.equal('FAILED');
      expect(items.error?.issues?.map((issue) => issue.path)).to.deep.equal(['_table.json']);
      expect(items.error?.message).to.contain('_backup.json recorded');
      expect(found.get('big_orders')?.status).to.equal('SUCCEEDED');
      expect((await catalogued(backup.operation.operationId))?.verification).to.deep.include({
        operationId: bad.operation.operationId,
        status: 'FAILED',
        tables: 3,
        failedTables: 2,
      });
    });
  }

  // Cloud Storage, where BigQuery loads the table folder itself, and a directory, staged in Cloud Storage.
  for (const kind of ['gcs', 'file'] as const) {
    it(`${kind}: a restore drill loads every table into a scratch dataset, drops it, and fails a table whose rows differ from its manifest`, async function () {
      const prefix = unique(`drill_${kind}`);
      const backup = await run('backup', {
        bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'shop' }] },
        backupStorage: locations.storage(kind, prefix, {
          exportOptions: { format: 'AVRO', overwrite: true },
        }),
      });
      expect(backup.operation.status, JSON.stringify(backup.operation.error)).to.equal('SUCCEEDED');
      const drillProject = unique('drill').replaceAll('_', '-');
      const drill = { restoreDrill: true, restoreDrillProjectId: drillProject };
      const scratchDatasets = async (): Promise<string[]> =>
        (await environment.bigquery(drillProject).getDatasets())[0].map((d) => d.id!);

      const good = await verify(kind, prefix, drill);
      expect(good.operation.status, JSON.stringify(good.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
      const drilled = tasksByTable(good.tasks);
      expect(drilled.get('orders')).to.include({ status: 'SUCCEEDED', rows: 30, fileCount: 3 });
      expect(drilled.get('orders')?.note).to.match(
        /^restore drill: 30 rows loaded into .+, as the manifest says/,
      );
      expect(drilled.get('items')).to.include({ status: 'SUCCEEDED', rows: 2 });
      expect(drilled.get('big_orders')?.note).to.equal('restore drill: no data files to load');
      expect(await scratchDatasets(), 'scratch datasets left').to.deep.equal([]);
      expect((await catalogued(backup.operation.operationId))?.verification).to.deep.include({
        operationId: good.operation.operationId,
        status: 'SUCCEEDED',
        restoreDrill: true,
      });

      // items' manifest says one row more, and `_backup.json` its new MD5: every file check passes, the
      // loaded rows do not.
      const store = locations.store(kind, prefix);
      const root = `backups/${backup.operation.location!.split('/backups/')[1]!}/${sourceProject}`;
      const itemsManifest = `${root}/shop/items/_table.json`;
      const manifest = JSON.parse((await readObject(store, itemsManifest)).toString()) as { numRows: number };
      await replaceTableManifest(store, root, 'shop', 'items', {
        ...manifest,
        numRows: manifest.numRows + 1,
      });

      const bad = await verify(kind, prefix, drill);
      expect(bad.operation.status).to.equal('FAILED');
      const found = tasksByTable(bad.tasks);
      expect(found.get('orders')?.status).to.equal('SUCCEEDED');
      const items = found.get('items')!;
      expect(items.status).to.equal('FAILED');
      expect(items.error?.reason).to.equal('rowCountMismatch');
      expect(items.error?.message).to.match(/2 rows loaded into .+, but the manifest says 3$/);
      expect(items.fileCount, 'its one file was read and passed').to.equal(1);
      expect(await scratchDatasets(), 'scratch datasets left').to.deep.equal([]);
    });
  }
});
