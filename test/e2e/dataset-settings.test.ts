// Dataset settings, end to end (dispatcher and worker as processes): a backup records each dataset's
// settings and access entries in `_backup.json`; a restore into another project creates its datasets with
// those settings, and with `restoreAccess` gives them the access entries once the views exist, authorized
// views rewritten to the restored datasets and principals mapped or dropped as the request says.
import type { BackupManifest, TableManifest } from '@bqbr/shared';
import { expect } from 'chai';
import { runRequest, startEnvironment, unique, type Environment } from '../support/e2e.js';
import { StoreLocations, readObject } from '../support/store-locations.js';

const PROD_KEY = 'projects/prod-kms/locations/eu/keyRings/bq/cryptoKeys/tables';
const DEV_KEY = 'projects/dev-kms/locations/eu/keyRings/bq/cryptoKeys/tables';
/** A month from now (the emulator drops an expired table at once, as BigQuery does within hours). */
const EXPIRES = Date.now() + 30 * 86_400_000;

const SETTINGS = {
  description: 'Sales, as the finance team keeps it',
  friendlyName: 'Sales',
  labels: { team: 'finance', tier: 'gold' },
  defaultTableExpirationMs: '86400000000',
  defaultPartitionExpirationMs: '7776000000',
  maxTimeTravelHours: '72',
  defaultCollation: 'und:ci',
  storageBillingModel: 'PHYSICAL' as const,
};

describe('dataset settings end to end: kept in _backup.json, given to restored datasets, access on request', function () {
  this.timeout(300_000);
  let environment: Environment;
  let locations: StoreLocations;
  let sourceProject: string;
  const prefix = unique('ds');

  before(async function () {
    environment = await startEnvironment({ destinations: true });
    locations = new StoreLocations(environment);
    await locations.prepare();
    sourceProject = unique('src').replaceAll('_', '-');
    const bigquery = environment.bigquery(sourceProject);
    const [sales] = await bigquery.createDataset('sales', { location: 'EU', ...SETTINGS });
    // Table settings: a primary key, a foreign key to it, a CMEK key, an expiration, collation defaults.
    const [customers] = await sales.createTable('customers', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64', mode: 'REQUIRED' },
          { name: 'name', type: 'STRING', maxLength: '40', collation: 'und:ci' },
          { name: 'balance', type: 'NUMERIC', precision: '10', scale: '2' },
        ],
      },
      tableConstraints: { primaryKey: { columns: ['id'] } },
      encryptionConfiguration: { kmsKeyName: PROD_KEY },
      expirationTime: String(EXPIRES),
      defaultCollation: 'und:ci',
      defaultRoundingMode: 'ROUND_HALF_EVEN',
    });
    await customers.insert([{ id: 7, name: 'Ada', balance: 10.5 }]);
    const [orders] = await sales.createTable('orders', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64' },
          { name: 'customer_id', type: 'INT64' },
        ],
      },
      tableConstraints: {
        foreignKeys: [
          {
            name: 'fk_customer',
            referencedTable: { projectId: sourceProject, datasetId: 'sales', tableId: 'customers' },
            columnReferences: [{ referencingColumn: 'customer_id', referencedColumn: 'id' }],
          },
        ],
      },
    });
    await orders.insert([
      { id: 1, customer_id: 7 },
      { id: 2, customer_id: 7 },
    ]);
    const [reports] = await bigquery.createDataset('reports', { location: 'EU' });
    await reports.createTable('by_id', {
      view: { query: `SELECT id FROM \`${sourceProject}.sales.orders\``, useLegacySql: false },
    });
    // sales lets the reports view read it, and two principals.
    const [metadata] = (await sales.getMetadata()) as unknown as [{ access: object[] }];
    await sales.setMetadata({
      access: [
        ...metadata.access,
        { role: 'READER', userByEmail: 'ana@example.com' },
        { role: 'READER', groupByEmail: 'prod-analysts@example.com' },
        { view: { projectId: sourceProject, datasetId: 'reports', tableId: 'by_id' } },
      ],
    });
  });

  after(async function () {
    await environment?.stop();
  });

  it('restores settings always, access entries with restoreAccess, rewritten and mapped', async function () {
    const backup = await runRequest(environment, 'backup', {
      bigQuery: { projectId: sourceProject },
      backupStorage: locations.storage('gcs', prefix, { exportOptions: { format: 'AVRO' } }),
    });
    expect(
      backup.operation.status,
      JSON.stringify([backup.operation.error, ...backup.tasks.map((t) => t.error)]),
    ).to.equal('SUCCEEDED');
    const folder = backup.operation.location!.split('/backups/')[1]!;
    const summary = JSON.parse(
      (
        await readObject(locations.store('gcs', prefix), `backups/${folder}/${sourceProject}/_backup.json`)
      ).toString(),
    ) as BackupManifest;
    const sales = summary.datasets?.find((d) => d.datasetId === 'sales');
    expect(sales?.settings).to.deep.equal({ ...SETTINGS, location: 'EU' });
    expect(sales?.access).to.deep.include({ role: 'READER', userByEmail: 'ana@example.com' });
    expect(Date.parse(sales!.readAt)).to.be.at.least(Date.parse(backup.operation.createdAt));

    const restore = (targetProject: string, fields: object) =>
      runRequest(environment, 'restore', {
        bigQuery: { projectId: targetProject },
        restoreStorage: {
          gcsOptions: {
            ...locations.fields('gcs', prefix),
            backupTimestamp: folder,
            projectIdOfBackup: sourceProject,
          },
        },
        ...fields,
      });
    const datasetOf = async (projectId: string, datasetId: string) =>
      (await environment.bigquery(projectId).dataset(datasetId).getMetadata())[0] as Record<string, unknown>;

    // Without restoreAccess: the settings, and BigQuery's default access entries.
    const plain = unique('dst').replaceAll('_', '-');
    const first = await restore(plain, {});
    expect(first.operation.status, JSON.stringify(first.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
    const restoredPlain = await datasetOf(plain, 'restored_sales');
    expect(restoredPlain).to.deep.include({ ...SETTINGS, location: 'EU' });
    expect(JSON.stringify(restoredPlain['access'])).not.to.contain('ana@example.com');

    const target = unique('dst').replaceAll('_', '-');
    const second = await restore(target, {
      restoreAccess: true,
      kmsKeyMapping: { [PROD_KEY]: DEV_KEY },
      accessPrincipalMap: {
        'group:prod-analysts@example.com': 'group:dev-analysts@example.com',
        'user:ana@example.com': null,
      },
    });
    expect(second.operation.status, JSON.stringify(second.operation.error)).to.equal('SUCCEEDED');
    const restored = await datasetOf(target, 'restored_sales');
    expect(restored).to.deep.include({ ...SETTINGS, location: 'EU' });
    const access = restored['access'] as Record<string, unknown>[];
    expect(access).to.deep.include({ role: 'READER', groupByEmail: 'dev-analysts@example.com' });
    expect(access).to.deep.include({
      view: { projectId: target, datasetId: 'restored_reports', tableId: 'by_id' },
    });
    expect(JSON.stringify(access)).not.to.contain('ana@example.com');
    expect(JSON.stringify(access)).not.to.contain('prod-analysts');

    // Table settings, the CMEK key mapped, the foreign key naming the restored table.
    const tableOf = async (projectId: string, tableId: string) =>
      (
        await environment.bigquery(projectId).dataset('restored_sales').table(tableId).getMetadata()
      )[0] as Record<string, unknown>;
    const customers = await tableOf(target, 'customers');
    expect(customers).to.deep.include({
      tableConstraints: { primaryKey: { columns: ['id'] } },
      encryptionConfiguration: { kmsKeyName: DEV_KEY },
      expirationTime: String(EXPIRES),
      defaultCollation: 'und:ci',
      defaultRoundingMode: 'ROUND_HALF_EVEN',
    });
    const fields = (customers['schema'] as { fields: Record<string, unknown>[] }).fields;
    expect(fields[1]).to.deep.include({ maxLength: '40', collation: 'und:ci' });
    expect(fields[2]).to.deep.include({ precision: '10', scale: '2' });
    expect((await tableOf(target, 'orders'))['tableConstraints']).to.deep.equal({
      foreignKeys: [
        {
          name: 'fk_customer',
          referencedTable: { projectId: target, datasetId: 'restored_sales', tableId: 'customers' },
          columnReferences: [{ referencingColumn: 'customer_id', referencedColumn: 'id' }],
        },
      ],
    });
    // Without kmsKeyMapping the backed-up key stays.
    expect((await tableOf(plain, 'customers'))['encryptionConfiguration']).to.deep.equal({
      kmsKeyName: PROD_KEY,
    });
    expect(second.operation.warnings).to.satisfy((warnings: string[]) =>
      warnings.some(
        (w) =>
          /^restoreAccess: restored_sales gets \d+ of the \d+ access entries of sales/.test(w) &&
          w.includes('group:prod-analysts@example.com → group:dev-analysts@example.com') &&
          w.includes('dropped user:ana@example.com (accessPrincipalMap)'),
      ),
    );
  });
  it('an ingestion-time partitioned table comes back with every row in its partition', async function () {
    const project = unique('ing').replaceAll('_', '-');
    const bigquery = environment.bigquery(project);
    const [logs] = await bigquery.createDataset('logs', { location: 'EU' });
    const [hits] = await logs.createTable('hits', {
      schema: {
        fields: [
          { name: 'id', type: 'INT64' },
          { name: 'msg', type: 'STRING' },
        ],
      },
      timePartitioning: { type: 'DAY' },
    });
    const rows: Record<string, number> = { '20261101': 2, '20261102': 3, '20261103': 1 };
    let id = 0;
    for (const [partition, count] of Object.entries(rows))
      await logs
        .table(`${hits.id!}$${partition}`)
        .insert(Array.from({ length: count }, () => ({ id: id++, msg: `in ${partition}` })));
    const perPartition = async (projectId: string, datasetId: string): Promise<Record<string, number>> => {
      const [result] = await environment.bigquery(projectId).query({
        query: `SELECT FORMAT_TIMESTAMP('%Y%m%d', _PARTITIONTIME) AS p, COUNT(*) AS n FROM \`${projectId}.${datasetId}.hits\` GROUP BY p ORDER BY p`,
      });
      return Object.fromEntries((result as { p: string; n: number }[]).map((r) => [r.p, Number(r.n)]));
    };
    expect(await perPartition(project, 'logs')).to.deep.equal(rows);

    const backup = await runRequest(environment, 'backup', {
      bigQuery: { projectId: project },
      backupStorage: locations.storage('gcs', `${prefix}_ing`, { exportOptions: { format: 'PARQUET' } }),
      verify: 'fingerprint',
    });
    expect(backup.operation.status, JSON.stringify(backup.tasks.map((t) => t.error))).to.equal('SUCCEEDED');
    const folder = backup.operation.location!.split('/backups/')[1]!;
    const manifest = JSON.parse(
      (
        await readObject(
          locations.store('gcs', `${prefix}_ing`),
          `backups/${folder}/${project}/logs/hits/_table.json`,
        )
      ).toString(),
    ) as TableManifest;
    expect(manifest.extractJobs).to.equal(3);
    expect(manifest.partitions?.map((p) => [p.id, p.rows])).to.deep.equal(Object.entries(rows));
    expect([...new Set(manifest.files.map((f) => f.partition))]).to.deep.equal(Object.keys(rows));

    const target = unique('dst').replaceAll('_', '-');
    const restored = await runRequest(environment, 'restore', {
      bigQuery: { projectId: target },
      restoreStorage: {
        gcsOptions: {
          ...locations.fields('gcs', `${prefix}_ing`),
          backupTimestamp: folder,
          projectIdOfBackup: project,
        },
      },
      verify: 'fingerprint',
    });
    expect(restored.operation.status, JSON.stringify(restored.tasks.map((t) => t.error))).to.equal(
      'SUCCEEDED',
    );
    expect(restored.tasks[0]?.note).to.match(/^loaded partition by partition: 3 partition\(s\)/);
    expect(await perPartition(target, 'restored_logs')).to.deep.equal(rows);
  });
});
