// Value verification, end to end (dispatcher and worker as processes): a backup made with
// `verify: "fingerprint"` records each table's content fingerprint at the snapshot, as BigQuery computes it
// from the source; a restore with `verify: "fingerprint"` and a verify's restore drill recompute it and
// pass. A data file altered into another valid file (one value changed, its checksums recomputed in
// `_table.json` and that manifest's MD5 in `_backup.json`) passes every count and checksum, and the
// fingerprint fails it, with both values, in the restore and in the drill.
import {
  crc32cToBase64,
  Crc32c,
  fingerprintFromRow,
  fingerprintQuery,
  type OperationDoc,
  type TableManifest,
} from '@bqbr/shared';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { runRequest, startEnvironment, tasksByTable, unique, type Environment } from '../support/e2e.js';
import {
  StoreLocations,
  readObject,
  replaceTableManifest,
  type StoreKind,
} from '../support/store-locations.js';

describe('value verification end to end: content fingerprints in backups, restores and restore drills', function () {
  this.timeout(300_000);
  let environment: Environment;
  let locations: StoreLocations;
  let sourceProject: string;

  before(async function () {
    environment = await startEnvironment({ destinations: true });
    locations = new StoreLocations(environment);
    await locations.prepare();
    await environment.controls({ exportShardRows: 5 });
    sourceProject = unique('src').replaceAll('_', '-');
    const bigquery = environment.bigquery(sourceProject);
    const [shop] = await bigquery.createDataset('shop');
    // DATETIME in Avro is restored (and drilled) through a staging table and a casting query.
    const [orders] = await shop.createTable('orders', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64', mode: 'REQUIRED' },
          { name: 'amount', type: 'FLOAT64' },
          { name: 'placed', type: 'DATETIME' },
          { name: 'tags', type: 'STRING', mode: 'REPEATED' },
          {
            name: 'buyer',
            type: 'RECORD',
            fields: [
              { name: 'name', type: 'STRING' },
              { name: 'since', type: 'DATE' },
            ],
          },
        ],
      },
    });
    await orders.insert(
      Array.from({ length: 12 }, (_, id) => ({
        id,
        amount: id * 1.25,
        placed: `2026-0${1 + (id % 9)}-0${1 + (id % 7)}T10:0${id % 10}:00.250000`,
        tags: id % 3 === 0 ? [] : [`t${id}`, 'x'],
        buyer: id % 4 === 0 ? null : { name: `n${id}`, since: '2020-02-29' },
      })),
    );
    // Two identical rows: the fingerprint counts copies, so they do not cancel out.
    const [items] = await shop.createTable('items', {
      schema: {
        fields: [
          { name: 'sku', type: 'STRING' },
          { name: 'qty', type: 'INT64' },
        ],
      },
    });
    await items.insert([
      { sku: 'a', qty: 1 },
      { sku: 'a', qty: 1 },
      { sku: 'b', qty: 2 },
    ]);
  });

  after(async function () {
    await environment?.stop();
  });

  const run = (kind: 'backup' | 'restore' | 'verify', body: object) =>
    runRequest(environment, kind, body, { idPrefix: 'fp' });

  const backup = (kind: StoreKind, prefix: string, format: string) =>
    run('backup', {
      bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'shop' }] },
      backupStorage: locations.storage(kind, prefix, { exportOptions: { format, overwrite: true } }),
      verify: 'fingerprint',
    });

  const restore = (kind: StoreKind, prefix: string, folder: string, fields: object = {}) =>
    run('restore', {
      bigQuery: { projectId: unique('dst').replaceAll('_', '-') },
      restoreStorage: {
        [`${kind}Options`]: {
          ...locations.fields(kind, prefix),
          backupTimestamp: folder,
          projectIdOfBackup: sourceProject,
        },
      },
      ...fields,
    });

  const drill = (kind: StoreKind, prefix: string) =>
    run('verify', {
      kind: 'verify',
      bigQuery: { projectId: sourceProject },
      backupStorage: locations.storage(kind, prefix),
      backupTimestamp: 'latest',
      restoreDrill: true,
      restoreDrillProjectId: unique('drill').replaceAll('_', '-'),
    });

  /** The backup's folder name and the path of its project folder in the store. */
  const placeOf = (operation: OperationDoc): { folder: string; root: string } => {
    const after = operation.location!.split('/backups/')[1]!;
    return { folder: after.split('/')[0]!, root: `backups/${after}/${sourceProject}` };
  };

  for (const format of ['AVRO', 'PARQUET'] as const)
    it(`gcs, ${format}: the manifests hold the source fingerprints at the snapshot; a verified restore and a drill pass`, async function () {
      const prefix = unique(`fp_gcs_${format}`);
      const [[{ n }]] = (await environment
        .bigquery(sourceProject)
        .query({ query: 'SELECT COUNT(*) AS n FROM shop.orders' })) as unknown as [[{ n: number }]];
      const orders = Number(n);
      const made = await backup('gcs', prefix, format);
      expect(made.operation.status, JSON.stringify(made.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
      const store = locations.store('gcs', prefix);
      const { folder, root } = placeOf(made.operation);

      // Rows added after the snapshot are in no fingerprint.
      await environment
        .bigquery(sourceProject)
        .dataset('shop')
        .table('orders')
        .insert([{ id: 99, tags: [] }]);
      for (const table of ['orders', 'items']) {
        const manifest = JSON.parse(
          (await readObject(store, `${root}/shop/${table}/_table.json`)).toString(),
        ) as TableManifest;
        const [rows] = await environment.bigquery(sourceProject).query({
          query: fingerprintQuery({
            table: { projectId: sourceProject, datasetId: 'shop', tableId: table },
            snapshotMillis: manifest.snapshotMillis,
          }),
        });
        const source = fingerprintFromRow((rows as Record<string, unknown>[])[0]);
        expect(manifest.fingerprint, table).to.deep.equal(source);
        expect(manifest.fingerprint?.rows, table).to.equal(table === 'orders' ? orders : 3);
        expect(manifest.fingerprint?.value, table).to.match(/^[0-9a-f]{16}$/);
      }

      const restored = await restore('gcs', prefix, folder, { verify: 'fingerprint' });
      expect(restored.operation.status, JSON.stringify(restored.tasks.map((t) => t.error))).to.equal(
        'SUCCEEDED',
      );
      const loaded = tasksByTable(restored.tasks);
      expect(loaded.get('orders')?.note).to.match(
        new RegExp(
          `values verified: content fingerprint [0-9a-f]{16} over ${orders} rows, as the backup recorded$`,
        ),
      );
      expect(loaded.get('items')?.note).to.match(
        /^values verified: content fingerprint [0-9a-f]{16} over 3 rows, as the backup recorded$/,
      );

      const drilled = await drill('gcs', prefix);
      expect(drilled.operation.status, JSON.stringify(drilled.tasks.map((t) => t.error))).to.equal(
        'SUCCEEDED',
      );
      expect(tasksByTable(drilled.tasks).get('orders')?.note).to.match(
        new RegExp(
          `^restore drill: ${orders} rows loaded into .+, as the manifest says, their content fingerprint [0-9a-f]{16} over ${orders} rows, as the backup recorded, and dropped$`,
        ),
      );
    });

  it('file, JSON: one value changed in a valid file with its checksums recomputed passes counts and checksums, and fails the fingerprint', async function () {
    const prefix = unique('fp_file');
    const made = await backup('file', prefix, 'JSON');
    expect(made.operation.status, JSON.stringify(made.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
    const store = locations.store('file', prefix);
    const { folder, root } = placeOf(made.operation);

    // One value of one row of items: still valid JSON, the same number of rows.
    const manifest = JSON.parse(
      (await readObject(store, `${root}/shop/items/_table.json`)).toString(),
    ) as TableManifest;
    const file = manifest.files[0]!;
    const dataPath = `${root}/shop/items/${file.name}`;
    const text = (await readObject(store, dataPath)).toString();
    const altered = Buffer.from(text.replace('"sku":"b"', '"sku":"c"'));
    expect(altered.toString(), 'the file was changed').not.to.equal(text);
    await store.put(dataPath, Readable.from([altered]));
    const files = manifest.files.map((f) =>
      f.name === file.name
        ? {
            ...f,
            bytes: altered.length,
            md5: createHash('md5').update(altered).digest('base64'),
            crc32c: crc32cToBase64(new Crc32c().update(altered).digest()),
          }
        : f,
    );
    await replaceTableManifest(store, root, 'shop', 'items', { ...manifest, files });

    // Counts and checksums pass: a restore without value verification succeeds.
    const unverified = await restore('file', prefix, folder);
    expect(unverified.operation.status, JSON.stringify(unverified.tasks.map((t) => t.error))).to.equal(
      'SUCCEEDED',
    );
    expect(tasksByTable(unverified.tasks).get('items')).to.include({ status: 'SUCCEEDED', rows: 3 });

    const verified = await restore('file', prefix, folder, { verify: 'fingerprint' });
    expect(verified.operation.status).to.equal('PARTIALLY_FAILED');
    const restored = tasksByTable(verified.tasks);
    expect(restored.get('orders')?.status).to.equal('SUCCEEDED');
    const items = restored.get('items')!;
    expect(items.status).to.equal('FAILED');
    expect(items.error?.reason).to.equal('fingerprintMismatch');
    const recorded = manifest.fingerprint!;
    expect(items.error?.message).to.match(
      new RegExp(
        `: content fingerprint (?!${recorded.value})[0-9a-f]{16} over 3 rows, but the backup recorded ${recorded.value} over 3 rows at the snapshot$`,
      ),
    );

    const drilled = await drill('file', prefix);
    expect(drilled.operation.status).to.equal('FAILED');
    const found = tasksByTable(drilled.tasks);
    expect(found.get('orders')?.status).to.equal('SUCCEEDED');
    expect(found.get('items')?.error?.reason).to.equal('fingerprintMismatch');
    expect(found.get('items')?.error?.message).to.contain(
      `but the backup recorded ${recorded.value} over 3 rows at the snapshot`,
    );
  });
});
