// Restore planning from a backup's manifest: scope, targets, phases, and what fails at once.
import { createSilentLogger, decode, RestoreRequest, type BackupManifest } from '@bqbr/shared';
import { expect } from 'chai';
import type { BackupSource, FoundBackup, OriginalTable } from '../src/kinds/restore/backup-source.js';
import { RestorePlanError } from '../src/kinds/restore/restore-plan-error.js';
import { planRestore, type RestorePlan } from '../src/kinds/restore/restore-plan.js';
import { prepareTargetDatasets, type TargetDatasets } from '../src/kinds/restore/target-datasets.js';
import { backupManifest as manifest } from './backup-manifest.js';

const FOLDER = 'gs://bkt/root/backups/20261120_223000/prod-project';
const FOLDER_PATH = 'backups/20261120_223000/prod-project';

const TABLES: BackupManifest['tables'] = [
  {
    datasetId: 'sales',
    tableId: 'orders',
    status: 'SUCCEEDED',
    rows: 5,
    bytes: 10,
    manifest: `${FOLDER}/sales/orders/_table.json`,
    manifestMd5: 'm1',
  },
  { datasetId: 'sales', tableId: 'paid', status: 'SKIPPED', manifest: `${FOLDER}/sales/paid/_table.json` },
  { datasetId: 'sales', tableId: 'late', status: 'SKIPPED', note: 'created after the snapshot' },
  {
    datasetId: 'sales',
    tableId: 'broken',
    status: 'FAILED',
    error: { reason: 'invalid', message: 'CSV cannot hold nested fields' },
  },
  {
    datasetId: 'hr',
    tableId: 'people',
    status: 'SUCCEEDED',
    rows: 1,
    manifest: `${FOLDER}/hr/people/_table.json`,
  },
];

function source(found: FoundBackup | undefined, timestamps: string[] = []): BackupSource {
  return {
    find: () => Promise.resolve(found),
    timestamps: () => Promise.resolve(timestamps),
    originalTables: () => Promise.resolve([]),
    manifestLocation: () => Promise.resolve(undefined),
  };
}

const bqbr = (tables = TABLES): FoundBackup => ({
  timestamp: '20261120_223000',
  snapshotMillis: 0,
  folder: FOLDER,
  folderPath: FOLDER_PATH,
  layout: 'bqbr',
  manifest: manifest(tables),
});

const request = (
  bigQuery: object = {},
  timestamp = '20261120_223000',
  importOptions?: object,
): RestoreRequest =>
  decode(
    RestoreRequest,
    {
      bigQuery: { projectId: 'dev-project', ...bigQuery },
      restoreStorage: {
        gcsOptions: {
          uri: 'gs://bkt/root',
          backupTimestamp: timestamp,
          projectIdOfBackup: 'prod-project',
          ...(importOptions !== undefined ? { importOptions } : {}),
        },
      },
    },
    'restore request',
  );

const withFormat = (format?: string): RestoreRequest =>
  request({}, '20261120_223000', format === undefined ? {} : { format });

/** An original-layout table of `sales` with one file per format and compression given. */
const originalTable = (
  tableId: string,
  format: OriginalTable['format'],
  compressed = false,
): OriginalTable => {
  const name = `${tableId}-000000000000.${format.toLowerCase()}${compressed ? '.gz' : ''}`;
  return {
    datasetId: 'sales',
    tableId,
    format,
    compressed,
    files: [{ uri: `${FOLDER}/sales/${name}`, path: `${FOLDER_PATH}/sales/${name}`, bytes: 7 }],
  };
};

const original = (tables: OriginalTable[]): BackupSource => ({
  ...source({ ...bqbr(), layout: 'original', manifest: undefined }),
  originalTables: () => Promise.resolve(tables),
});

/** `dataset.table: ACTION (formats of the files loaded, or the error)` per planned table, sorted. */
const outcomes = (plan: RestorePlan): string[] =>
  plan.entries
    .map(
      (e) =>
        `${e.source.datasetId}.${e.source.tableId}: ${e.action} ${
          e.original !== undefined
            ? e.original.files.map((f) => f.path.split('.').slice(1).join('.')).join()
            : ''
        }${e.error?.message ?? ''}`,
    )
    .sort();

describe('restore planning', function () {
  it('restores every dataset by default into restored_<dataset> of the target project; views in phase 2', async function () {
    const plan = await planRestore(request(), source(bqbr()));
    const byTable = new Map(plan.entries.map((e) => [`${e.source.datasetId}.${e.source.tableId}`, e]));
    expect(byTable.get('sales.orders')).to.deep.include({
      action: 'RESTORE',
      phase: 1,
      manifestMd5: 'm1',
      target: { projectId: 'dev-project', datasetId: 'restored_sales', tableId: 'orders' },
    });
    expect(byTable.get('sales.paid')).to.deep.include({ action: 'RESTORE', phase: 2 });
    expect(byTable.get('sales.late')).to.deep.include({ action: 'SKIP' });
    expect(byTable.get('sales.broken')?.action).to.equal('FAIL');
    expect(byTable.get('sales.broken')?.error?.message).to.match(/its backup failed.*CSV/);
    expect(plan.datasetMap).to.deep.equal({ sales: 'restored_sales', hr: 'restored_hr' });
    expect(plan.warnings.join()).to.match(/PARTIALLY_FAILED/);
  });

  it('keeps to the datasets and tables asked for, and fails the ones the backup does not hold', async function () {
    const plan = await planRestore(
      request({
        datasetsToRestore: ['sales', 'finance'],
        tablesToRestore: ['sales.orders', 'sales.nope'],
        targetDatasetPrefix: 'x_',
      }),
      source(bqbr()),
    );
    const summary = plan.entries.map(
      (e) => `${e.source.datasetId}.${e.source.tableId}:${e.action}:${e.target.datasetId}`,
    );
    expect(summary.sort()).to.deep.equal([
      'finance.*:FAIL:x_finance',
      'sales.nope:FAIL:x_sales',
      'sales.orders:RESTORE:x_sales',
    ]);
  });

  it('reads a backup in S3 from the store the request names, and refuses the original layout there', async function () {
    const s3Request = decode(
      RestoreRequest,
      {
        bigQuery: { projectId: 'dev-project' },
        restoreStorage: {
          s3Options: {
            bucket: 'vault',
            prefix: 'bq',
            region: 'eu-central-1',
            backupTimestamp: 'latest',
            projectIdOfBackup: 'prod-project',
          },
        },
      },
      'restore request',
    );
    const asked: unknown[] = [];
    const plan = await planRestore(s3Request, {
      ...source(bqbr()),
      find: (where, projectId, timestamp) => {
        asked.push({ where, projectId, timestamp });
        return Promise.resolve(bqbr());
      },
    });
    expect(asked).to.deep.equal([
      {
        where: { kind: 's3', bucket: 'vault', prefix: 'bq', region: 'eu-central-1' },
        projectId: 'prod-project',
        timestamp: 'latest',
      },
    ]);
    const orders = plan.entries.find((e) => e.source.tableId === 'orders');
    expect(orders?.manifestPath).to.equal(`${FOLDER_PATH}/sales/orders/_table.json`);

    const original = await planRestore(s3Request, source({ ...bqbr(), layout: 'original' })).catch(
      (e: unknown) => e,
    );
    expect((original as RestorePlanError).info.reason).to.equal('failedPrecondition');
    expect((original as Error).message).to.contain('from Cloud Storage only');
  });

  it('names the backups there are when the timestamp matches none', async function () {
    const err = await planRestore(request(), source(undefined, ['20261121_000000', '20261120_000000'])).catch(
      (e: unknown) => e,
    );
    expect(err).to.be.instanceOf(RestorePlanError);
    expect((err as RestorePlanError).info.reason).to.equal('notFound');
    expect((err as Error).message).to.contain('20261121_000000, 20261120_000000');
  });

  it('refuses a backup without _backup.json (running or interrupted)', async function () {
    const err = await planRestore(
      request(),
      source({
        timestamp: 't',
        snapshotMillis: 0,
        folder: FOLDER,
        folderPath: FOLDER_PATH,
        layout: 'incomplete',
      }),
    ).catch((e: unknown) => e);
    expect((err as RestorePlanError).info.reason).to.equal('failedPrecondition');
  });

  describe('importOptions.format', function () {
    it("refuses a format that is not the backup's, naming both, and takes the backup's own when absent", async function () {
      const err = await planRestore(withFormat('PARQUET'), source(bqbr())).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(RestorePlanError);
      expect((err as RestorePlanError).info.reason).to.equal('invalid');
      expect((err as Error).message).to.equal(
        `importOptions.format is PARQUET, but the backup at ${FOLDER} is in AVRO (its _backup.json): leave format out to restore the backup as it was made; nothing was done`,
      );
      const asMade = await planRestore(withFormat('AVRO'), source(bqbr()));
      const absent = await planRestore(withFormat(), source(bqbr()));
      expect(outcomes(asMade)).to.deep.equal(outcomes(absent));
      expect(asMade.entries.filter((e) => e.action === 'RESTORE')).to.have.length(3);
    });

    it("chooses which files of the original service's layout are loaded, one set per table", async function () {
      const backup = original([
        originalTable('orders', 'AVRO'),
        originalTable('orders', 'CSV'),
        originalTable('customers', 'CSV'),
        originalTable('events', 'JSON'),
        originalTable('events', 'JSON', true),
      ]);
      expect(outcomes(await planRestore(withFormat('CSV'), backup))).to.deep.equal([
        'sales.customers: RESTORE csv',
        'sales.events: FAIL its files are JSON and JSON (gzip), not CSV (importOptions.format)',
        'sales.orders: RESTORE csv',
      ]);
      expect(outcomes(await planRestore(withFormat('AVRO'), backup))).to.deep.equal([
        'sales.customers: FAIL its files are CSV, not AVRO (importOptions.format)',
        'sales.events: FAIL its files are JSON and JSON (gzip), not AVRO (importOptions.format)',
        'sales.orders: RESTORE avro',
      ]);
      // Absent: each table's own files, where they are in one format and compression.
      expect(outcomes(await planRestore(withFormat(), backup))).to.deep.equal([
        'sales.customers: RESTORE csv',
        'sales.events: FAIL its JSON files are both gzip-compressed and not, which BigQuery cannot load in one job',
        'sales.orders: FAIL its files are AVRO and CSV: set importOptions.format to choose',
      ]);
    });

    it("refuses a format none of an original-layout backup's tables is in, before anything is planned", async function () {
      const err = await planRestore(
        withFormat('PARQUET'),
        original([originalTable('orders', 'AVRO'), originalTable('customers', 'CSV', true)]),
      ).catch((e: unknown) => e);
      expect((err as RestorePlanError).info).to.deep.equal({
        reason: 'invalid',
        message: `importOptions.format is PARQUET, but the backup at ${FOLDER} holds no PARQUET files (only AVRO and CSV (gzip)): leave format out to restore each table's files as they are; nothing was done`,
      });
    });
  });

  describe('target datasets and importOptions.restoreRegion', function () {
    /** Datasets in memory: `existing` maps a dataset to its location; `created` lists what was made. */
    function datasets(existing: Record<string, string> = {}) {
      const created: string[] = [];
      const fake: TargetDatasets = {
        find: ({ datasetId }) =>
          Promise.resolve(existing[datasetId] !== undefined ? { location: existing[datasetId] } : undefined),
        create: ({ datasetId }, location) => {
          created.push(`${datasetId}@${location ?? 'default'}`);
          return Promise.resolve('created');
        },
        setAccess: () => Promise.reject(new Error('planning never sets access')),
      };
      return { fake, created };
    }
    const backups: BackupSource = {
      ...source(bqbr()),
      manifestLocation: (_where, path) => Promise.resolve(path.includes('/hr/') ? 'asia-east1' : 'US'),
    };
    const prepare = async (req: RestoreRequest, from: BackupSource, made: ReturnType<typeof datasets>) =>
      prepareTargetDatasets(
        req,
        await planRestore(req, from),
        { backups: from, datasets: made.fake },
        createSilentLogger(),
      );

    it("creates new datasets in restoreRegion, else the backed-up dataset's location, else the original service's region", async function () {
      const inRegion = datasets();
      const located = await prepare(
        request({}, '20261120_223000', { restoreRegion: 'EU' }),
        backups,
        inRegion,
      );
      expect(inRegion.created.sort()).to.deep.equal(['restored_hr@EU', 'restored_sales@EU']);
      expect([...located.locations]).to.deep.include(['restored_sales', 'EU']);

      const asBackedUp = datasets();
      await prepare(request(), backups, asBackedUp);
      expect(asBackedUp.created.sort()).to.deep.equal(['restored_hr@asia-east1', 'restored_sales@US']);

      const fromOriginal = datasets();
      await prepare(withFormat(), original([originalTable('orders', 'AVRO')]), fromOriginal);
      expect(fromOriginal.created).to.deep.equal(['restored_sales@europe-west3']);
    });

    it('refuses a restoreRegion an existing target dataset is not in, creating nothing; without one, loads where it is', async function () {
      const made = datasets({ restored_sales: 'US' });
      const err = await prepare(request({}, '20261120_223000', { restoreRegion: 'EU' }), backups, made).catch(
        (e: unknown) => e,
      );
      expect((err as RestorePlanError).info.reason).to.equal('failedPrecondition');
      expect((err as Error).message).to.match(
        /^target dataset dev-project:restored_sales is in US, not in importOptions.restoreRegion EU, and BigQuery cannot move a dataset/,
      );
      expect(made.created).to.deep.equal([]);

      // The same location in another case is the same location.
      const sameRegion = datasets({ restored_sales: 'eu' });
      await prepare(request({}, '20261120_223000', { restoreRegion: 'EU' }), backups, sameRegion);
      expect(sameRegion.created).to.deep.equal(['restored_hr@EU']);

      const whereItIs = datasets({ restored_sales: 'asia-northeast1' });
      const located = await prepare(request(), backups, whereItIs);
      expect(located.locations.get('restored_sales')).to.equal('asia-northeast1');
      expect(whereItIs.created).to.deep.equal(['restored_hr@asia-east1']);
    });
  });
});
