// Restore planning from a backup's manifest: scope, targets, phases, and what fails at once.
import { decode, RestoreRequest, type BackupManifest } from '@bqbr/shared';
import { expect } from 'chai';
import type { BackupSource, FoundBackup } from '../src/kinds/restore/backup-source.js';
import { RestorePlanError } from '../src/kinds/restore/restore-plan-error.js';
import { planRestore } from '../src/kinds/restore/restore-plan.js';
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

const request = (bigQuery: object = {}, timestamp = '20261120_223000'): RestoreRequest =>
  decode(
    RestoreRequest,
    {
      bigQuery: { projectId: 'dev-project', ...bigQuery },
      restoreStorage: {
        gcsOptions: { uri: 'gs://bkt/root', backupTimestamp: timestamp, projectIdOfBackup: 'prod-project' },
      },
    },
    'restore request',
  );

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
});
