// The task specs planning builds, checked against the task contract: where each table's files are (its
// home and table path) and where BigQuery's job meets them (the landing folder), per destination.
import { RestoreTaskSpec, TaskSpec, decode, decodeRequest, type RestoreRequest } from '@bqbr/shared';
import { expect } from 'chai';
import { backupTaskSpecs } from '../src/kinds/backup/backup-task-spec.js';
import type { BackupSource, FoundBackup } from '../src/kinds/restore/backup-source.js';
import { planRestore } from '../src/kinds/restore/restore-plan.js';
import { restoreTaskSpecs } from '../src/kinds/restore/restore-task-spec.js';
import { backupManifest } from './backup-manifest.js';

const SNAPSHOT = Date.UTC(2026, 10, 20, 22, 30, 0);
/** A table folder in the original service's layout (and bqbr's before its folders had a suffix). */
const TABLE_PATH = 'backups/20261120_223000/prod-project/sales/orders';
/** Operation op-1's: the snapshot second, then 12 hex digits of sha256('op-1'). */
const BACKUP_TABLE_PATH = 'backups/20261120_223000_71a0ef7195df/prod-project/sales/orders';
const orders = { projectId: 'prod-project', datasetId: 'sales', tableId: 'orders' };
const staging = { stagingUri: 'gs://staging/bqbr', operationId: 'op-1' };

function backupRequest(backupStorage: object) {
  const decoded = decodeRequest(
    { bigQuery: { projectId: 'prod-project' }, backupStorage },
    { kind: 'backup' },
  );
  if (decoded.kind !== 'backup') throw new Error('expected a backup');
  return decoded.request;
}

function restoreRequest(restoreStorage: object): RestoreRequest {
  const decoded = decodeRequest(
    { bigQuery: { projectId: 'dev-project' }, restoreStorage },
    { kind: 'restore' },
  );
  if (decoded.kind !== 'restore') throw new Error('expected a restore');
  return decoded.request;
}

const exportOptions = { format: 'CSV', compression: 'GZIP', overwrite: false };

describe('backup task specs', function () {
  it('land a Cloud Storage backup in its table folder, with the export settings filled in', function () {
    const specOf = backupTaskSpecs(
      backupRequest({ gcsOptions: { uri: 'gs://vault/nightly', exportOptions } }),
      SNAPSHOT,
      { stagingUri: undefined, operationId: 'op-1' },
    );
    const spec = decode(TaskSpec, specOf(orders), 'spec');
    expect(spec).to.deep.include({
      kind: 'backup',
      home: { kind: 'gcs', uri: 'gs://vault/nightly' },
      tablePath: BACKUP_TABLE_PATH,
      landingFolder: `gs://vault/nightly/${BACKUP_TABLE_PATH}`,
      tableFolder: `gs://vault/nightly/${BACKUP_TABLE_PATH}`,
      format: 'CSV',
      compression: 'GZIP',
      header: true,
      fieldDelimiter: ',',
      overwrite: false,
    });
  });

  it('land a backup outside Cloud Storage in a staging folder of its own per operation and table', function () {
    const request = backupRequest({ s3Options: { bucket: 'vault', prefix: 'bq', exportOptions } });
    const spec = decode(TaskSpec, backupTaskSpecs(request, SNAPSHOT, staging)(orders), 'spec');
    expect(spec).to.deep.include({
      tablePath: BACKUP_TABLE_PATH,
      landingFolder: 'gs://staging/bqbr/op-1/prod-project/sales/orders',
      tableFolder: `s3://vault/bq/${BACKUP_TABLE_PATH}`,
    });
    expect(() => backupTaskSpecs(request, SNAPSHOT, { ...staging, stagingUri: undefined })(orders))
      .to.throw('BQBR_STAGING_URI')
      .with.property('reason', 'failedPrecondition');
  });

  it('put two backups of the same second in folders of their own, the same again on a redelivery', function () {
    const request = backupRequest({ gcsOptions: { uri: 'gs://vault/nightly', exportOptions } });
    const specFor = (operationId: string) =>
      decode(
        TaskSpec,
        backupTaskSpecs(request, SNAPSHOT, { stagingUri: undefined, operationId })(orders),
        'spec',
      );
    const [first, again, second] = [specFor('op-1'), specFor('op-1'), specFor('op-2')];
    if (first.kind !== 'backup' || again.kind !== 'backup' || second.kind !== 'backup')
      throw new Error('expected backup specs');
    expect(first.tablePath).to.equal(BACKUP_TABLE_PATH);
    expect(again.tablePath).to.equal(first.tablePath);
    expect(second.tablePath).to.equal('backups/20261120_223000_e85fddc91eb0/prod-project/sales/orders');
    expect(second.landingFolder).not.to.equal(first.landingFolder);
  });
});

describe('restore task specs', function () {
  const folderPath = 'backups/20261120_223000/prod-project';
  const manifest = backupManifest([
    {
      datasetId: 'sales',
      tableId: 'orders',
      status: 'SUCCEEDED',
      manifest: `gs://old-bucket/${TABLE_PATH}/_table.json`,
      manifestMd5: 'md5',
    },
    { datasetId: 'sales', tableId: 'broken', status: 'FAILED', error: { reason: 'invalid', message: 'x' } },
  ]);
  const source = (found: FoundBackup, files: string[] = []): BackupSource => ({
    find: () => Promise.resolve(found),
    timestamps: () => Promise.resolve([]),
    originalTables: () =>
      Promise.resolve([
        {
          datasetId: 'sales',
          tableId: 'orders',
          format: 'CSV',
          files: files.map((uri) => ({ uri, path: uri.replace('gs://vault/', ''), bytes: 3 })),
        },
      ]),
    manifestLocation: () => Promise.resolve(undefined),
  });
  const found = (layout: FoundBackup['layout']): FoundBackup => ({
    timestamp: '20261120_223000',
    snapshotMillis: SNAPSHOT,
    folder: `gs://vault/${folderPath}`,
    folderPath,
    layout,
    ...(layout === 'bqbr' ? { manifest } : {}),
  });
  const backupId = { backupTimestamp: '20261120_223000', projectIdOfBackup: 'prod-project' };

  async function specs(request: RestoreRequest, backup: FoundBackup, files?: string[]) {
    const plan = await planRestore(request, source(backup, files));
    const specOf = restoreTaskSpecs(request, plan, new Map([['restored_sales', 'EU']]), staging);
    return new Map(plan.entries.map((e) => [e.source.tableId, decode(RestoreTaskSpec, specOf(e), 'spec')]));
  }

  it('read a bqbr backup in Cloud Storage where it is now, and carry nothing for a table decided at planning', async function () {
    const bySource = await specs(
      restoreRequest({ gcsOptions: { uri: 'gs://vault', ...backupId } }),
      found('bqbr'),
    );
    expect(bySource.get('orders')).to.deep.include({
      target: { projectId: 'dev-project', datasetId: 'restored_sales', tableId: 'orders' },
      location: 'EU',
      backup: {
        layout: 'bqbr',
        home: { kind: 'gcs', uri: 'gs://vault' },
        tablePath: TABLE_PATH,
        landingFolder: `gs://vault/${TABLE_PATH}`,
        manifestPath: `${TABLE_PATH}/_table.json`,
        manifestUri: `gs://old-bucket/${TABLE_PATH}/_table.json`,
        manifestMd5: 'md5',
      },
    });
    expect(bySource.get('broken')?.backup).to.deep.equal({ layout: 'absent' });
  });

  it('stage a bqbr backup outside Cloud Storage per operation and target table', async function () {
    const bySource = await specs(
      restoreRequest({ fileOptions: { path: '/srv/backups', ...backupId } }),
      found('bqbr'),
    );
    expect(bySource.get('orders')?.backup).to.deep.include({
      layout: 'bqbr',
      home: { kind: 'file', path: '/srv/backups' },
      tablePath: TABLE_PATH,
      landingFolder: 'gs://staging/bqbr/op-1/dev-project/restored_sales/orders',
    });
  });

  it("load the original service's files as they are, with the request's CSV settings", async function () {
    const files = ['gs://vault/backups/20261120_223000/prod-project/sales/orders-000000000000.csv'];
    const bySource = await specs(
      restoreRequest({
        gcsOptions: { uri: 'gs://vault', ...backupId, importOptions: { header: false, fieldDelimiter: ';' } },
      }),
      found('original'),
      files,
    );
    expect(bySource.get('orders')?.backup).to.deep.equal({
      layout: 'original',
      files,
      format: 'CSV',
      header: false,
      fieldDelimiter: ';',
    });
  });
});
