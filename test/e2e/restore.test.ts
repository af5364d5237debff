// Restore, end to end: backups made by the running services are restored by them into another
// project, and every restored table is compared with its source at the backup's instant, value by
// value, schema and table settings included. Also: selected tables, `latest`, the original service's
// layout and its defaults, and the refusals (existing targets, a missing backup, a changed manifest, a
// missing file, a format or region the backup or target does not have).
import { seedDemoData, type DemoTable } from '@bqbr/local/demo-data';
import { backupRoot, parseGcsUri, type OperationDoc, type TaskDoc } from '@bqbr/shared';
import type { BigQuery } from '@google-cloud/bigquery';
import { expect } from 'chai';
import {
  listObjects,
  publishRequest,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';
import { expectRestored as expectRestoredTables, metadataOf } from '../support/restore-check.js';

const BUCKET = 'e2e-restores';

/** The single number a `SELECT COUNT(*) AS n` query returns. */
async function countOf(bigquery: BigQuery, query: string): Promise<number> {
  const [rows] = (await bigquery.query({ query })) as unknown as [{ n: unknown }[]];
  return Number(rows[0]?.n);
}

/** Why an operation did not succeed, for assertion messages. */
const failures = (operation: OperationDoc, tasks: readonly TaskDoc[]): string =>
  JSON.stringify({
    error: operation.error,
    tasks: tasks.filter((t) => t.status === 'FAILED').map((t) => ({ table: t.taskId, error: t.error })),
  });
type Format = 'AVRO' | 'PARQUET' | 'JSON' | 'CSV';

interface Backup {
  readonly uri: string;
  readonly operation: OperationDoc;
  readonly timestamp: string;
}

describe('restore end to end (dispatcher and worker as processes)', function () {
  this.timeout(300_000);
  let environment: Environment;
  let sourceProject: string;
  let tables: DemoTable[];

  before(async function () {
    environment = await startEnvironment({ workers: 2 });
    sourceProject = unique('src').replaceAll('_', '-');
    ({ tables } = await seedDemoData(environment.bigquery(sourceProject)));
    const [exists] = await environment.storage.bucket(BUCKET).exists();
    if (!exists) await environment.storage.createBucket(BUCKET);
  });

  after(async function () {
    await environment?.stop();
  });

  const flat = (): DemoTable[] => tables.filter((t) => !t.nested);

  async function backup(format: Format, selection?: object[], extra: object = {}): Promise<Backup> {
    const operationId = unique(`b_${format.toLowerCase()}`);
    const uri = `gs://${BUCKET}/${operationId}`;
    await publishRequest(environment, {
      operationId,
      bigQuery: { projectId: sourceProject, ...(selection ? { tablesToBackup: selection } : {}) },
      backupStorage: {
        gcsOptions: { uri, exportOptions: { format, overwrite: true, ...extra } },
      },
    });
    const operation = await waitForOperation(environment, operationId);
    expect(operation.status, JSON.stringify(operation.error)).to.equal('SUCCEEDED');
    const timestamp = backupRoot(uri, operation.snapshotMillis!).split('/').pop()!;
    return { uri, operation, timestamp };
  }

  async function restore(
    from: Pick<Backup, 'uri' | 'timestamp'>,
    targetProject: string,
    bigQuery: object = {},
    importOptions: object = {},
    operationId = unique('r'),
  ): Promise<{ operation: OperationDoc; tasks: TaskDoc[] }> {
    await publishRequest(
      environment,
      {
        operationId,
        bigQuery: { projectId: targetProject, ...bigQuery },
        restoreStorage: {
          gcsOptions: {
            uri: from.uri,
            backupTimestamp: from.timestamp,
            projectIdOfBackup: sourceProject,
            importOptions: { restoreRegion: 'EU', ...importOptions },
          },
        },
      },
      { kind: 'restore' },
    );
    const operation = await waitForOperation(environment, operationId);
    return { operation, tasks: await tasksOf(environment, operationId) };
  }

  /** Every restored table equals its source at the backup instant: schema, settings and rows. */
  const expectRestored = (
    list: readonly DemoTable[],
    snapshotMillis: number,
    targetProject: string,
    targetDataset: (datasetId: string) => string,
  ): Promise<void> =>
    expectRestoredTables(
      { bigquery: environment.bigquery(sourceProject), projectId: sourceProject },
      { bigquery: environment.bigquery(targetProject), projectId: targetProject },
      list,
      snapshotMillis,
      targetDataset,
    );

  for (const format of ['AVRO', 'PARQUET', 'JSON', 'CSV'] as const) {
    it(`round trip in ${format}: backup, then restore into another project, equal value by value`, async function () {
      // CSV cannot hold nested or repeated fields: its backup takes the flat tables.
      const list = format === 'CSV' ? flat() : tables;
      const selection =
        format === 'CSV'
          ? [...new Set(list.map((t) => t.datasetId))].map((datasetName) => ({
              datasetName,
              tables: list.filter((t) => t.datasetId === datasetName).map((t) => t.tableId),
            }))
          : undefined;
      const made = await backup(
        format,
        selection,
        format === 'CSV' ? { header: true, compression: 'GZIP' } : {},
      );
      const targetProject = unique('dst').replaceAll('_', '-');
      const { operation, tasks } = await restore(made, targetProject, {}, { format });
      expect(operation.status, failures(operation, tasks)).to.equal('SUCCEEDED');
      expect(operation.summary?.succeeded).to.equal(list.length);
      await expectRestored(list, made.operation.snapshotMillis!, targetProject, (d) => `restored_${d}`);
      const dataset = await metadataOf(environment.bigquery(targetProject).dataset('restored_sales'));
      expect(dataset['location']).to.equal('EU');
      if (format !== 'CSV') {
        // The view was recreated after its table, reading the restored dataset.
        const view = await metadataOf(
          environment.bigquery(targetProject).dataset('restored_sales').table('paid_orders'),
        );
        expect(view['type']).to.equal('VIEW');
        expect(view.view?.query).to.contain('restored_sales.orders');
        const paid = await countOf(
          environment.bigquery(targetProject),
          `SELECT COUNT(*) AS n FROM \`${targetProject}.restored_sales.paid_orders\``,
        );
        expect(paid).to.equal(125);
      }
    });
  }

  describe('selection, latest, targets and refusals', function () {
    let made: Backup;

    before(async function () {
      made = await backup('AVRO');
    });

    it('restores only the tables asked for, from the latest backup, into a named dataset', async function () {
      const targetProject = unique('dst').replaceAll('_', '-');
      const { operation, tasks } = await restore({ uri: made.uri, timestamp: 'latest' }, targetProject, {
        datasetsToRestore: ['sales'],
        tablesToRestore: ['sales.orders', 'sales.all_types'],
        targetDataset: 'picked',
      });
      expect(operation.status, failures(operation, tasks)).to.equal('SUCCEEDED');
      expect(tasks.map((t) => t.table.tableId).sort()).to.deep.equal(['all_types', 'orders']);
      const [found] = await environment.bigquery(targetProject).dataset('picked').getTables();
      expect(found.map((t) => t.id).sort()).to.deep.equal(['all_types', 'orders']);
      await expectRestored(
        tables.filter((t) => t.datasetId === 'sales' && ['orders', 'all_types'].includes(t.tableId)),
        made.operation.snapshotMillis!,
        targetProject,
        () => 'picked',
      );
    });

    it('leaves an existing target untouched, and replaces it only with WRITE_TRUNCATE on a named target', async function () {
      const targetProject = unique('dst').replaceAll('_', '-');
      const scope = { datasetsToRestore: ['analytics'] };
      const first = await restore(made, targetProject, scope);
      expect(first.operation.status).to.equal('SUCCEEDED');
      const events = environment.bigquery(targetProject).dataset('restored_analytics').table('events');
      await events.insert([{ user_id: 99, event: 'added after the restore' }]);

      // Default target, default disposition: every existing table is refused and left as it was.
      const again = await restore(made, targetProject, scope);
      expect(again.operation.status).to.equal('FAILED');
      for (const task of again.tasks) {
        expect(task.error?.reason, task.taskId).to.equal('duplicate');
        expect(task.error?.message).to.match(/left untouched/);
      }
      // WRITE_TRUNCATE without naming the target: still refused.
      const unnamed = await restore(made, targetProject, scope, { writeDisposition: 'WRITE_TRUNCATE' });
      expect(unnamed.operation.status).to.equal('FAILED');
      const kept = await countOf(
        environment.bigquery(targetProject),
        `SELECT COUNT(*) AS n FROM \`${targetProject}.restored_analytics.events\``,
      );
      expect(kept).to.equal(41);

      // Named target + WRITE_TRUNCATE: replaced, back to the backup's rows.
      const replaced = await restore(
        made,
        targetProject,
        { ...scope, targetDatasetPrefix: 'restored_' },
        { writeDisposition: 'WRITE_TRUNCATE' },
      );
      expect(replaced.operation.status).to.equal('SUCCEEDED');
      await expectRestored(
        tables.filter((t) => t.datasetId === 'analytics'),
        made.operation.snapshotMillis!,
        targetProject,
        (d) => `restored_${d}`,
      );
    });

    it("refuses a format that is not the backup's before anything is created", async function () {
      const targetProject = unique('dst').replaceAll('_', '-');
      const { operation, tasks } = await restore(made, targetProject, {}, { format: 'PARQUET' });
      expect(operation.status).to.equal('FAILED');
      expect(operation.error?.reason).to.equal('invalid');
      expect(operation.error?.message).to.match(
        /importOptions\.format is PARQUET, but the backup .* is in AVRO/,
      );
      expect(tasks).to.deep.equal([]);
      const [datasets] = await environment.bigquery(targetProject).getDatasets();
      expect(datasets.map((d) => d.id)).to.deep.equal([]);
    });

    it('refuses a restoreRegion an existing target dataset is not in, loading nothing', async function () {
      const targetProject = unique('dst').replaceAll('_', '-');
      const bigquery = environment.bigquery(targetProject);
      await bigquery.createDataset('restored_analytics', { location: 'US' });
      const { operation, tasks } = await restore(made, targetProject, { datasetsToRestore: ['analytics'] });
      expect(operation.status).to.equal('FAILED');
      expect(operation.error?.reason).to.equal('failedPrecondition');
      expect(operation.error?.message).to.contain(
        `target dataset ${targetProject}:restored_analytics is in US, not in importOptions.restoreRegion EU`,
      );
      expect(tasks).to.deep.equal([]);
      const [kept] = await bigquery.dataset('restored_analytics').getTables();
      expect(kept).to.deep.equal([]);
    });

    it('fails clearly for a backup timestamp that does not exist', async function () {
      const { operation } = await restore(
        { uri: made.uri, timestamp: '20200101_000000' },
        unique('dst').replaceAll('_', '-'),
      );
      expect(operation.status).to.equal('FAILED');
      expect(operation.error?.reason).to.equal('notFound');
      expect(operation.error?.message).to.contain(`no backup of project ${sourceProject}`);
      expect(operation.error?.message).to.contain(made.timestamp);
    });

    it('fails a table whose manifest was changed, and one whose data file is missing', async function () {
      const damaged = await backup('PARQUET', [{ datasetName: 'analytics' }]);
      // The backup's own folder is named by its second and its operation (docs/contracts.md, "Storage layout").
      const root = backupRoot(damaged.uri, damaged.operation.snapshotMillis!, damaged.operation.operationId);
      const folder = `${root}/${sourceProject}/analytics`;
      const events = parseGcsUri(`${folder}/events/_table.json`);
      const file = environment.storage.bucket(events.bucket).file(events.name);
      const [text] = await file.download();
      await file.save(text.toString('utf8').replace('"numRows": 40', '"numRows": 41'));
      const daily = parseGcsUri(`${folder}/daily_2026_11_20/`);
      const [dataFiles] = await environment.storage
        .bucket(daily.bucket)
        .getFiles({ prefix: `${daily.name}data-` });
      await dataFiles[0]!.delete();

      const { operation, tasks } = await restore(damaged, unique('dst').replaceAll('_', '-'));
      expect(operation.status).to.equal('PARTIALLY_FAILED');
      const byTable = new Map(tasks.map((t) => [t.table.tableId, t]));
      expect(byTable.get('events')?.error?.reason).to.equal('checksumMismatch');
      expect(byTable.get('events')?.error?.message).to.match(/manifest .* has MD5/);
      expect(byTable.get('daily_2026_11_20')?.error?.reason).to.equal('notFound');
      expect(byTable.get('daily_2026_11_20')?.error?.message).to.match(/data file .* is missing/);
      expect(byTable.get('daily_2026_11_21')?.status).to.equal('SUCCEEDED');
    });
  });

  it("restores a backup in the original service's layout, with schema detection and a warning", async function () {
    const timestamp = '20261120_223000';
    const uri = `gs://${BUCKET}/${unique('original')}`;
    const bigquery = environment.bigquery(sourceProject);
    const folder = `${uri}/backups/${timestamp}/${sourceProject}`;
    const exported = tables.filter(
      (t) => t.type === 'TABLE' && ['orders', 'customers', 'all_types'].includes(t.tableId),
    );
    for (const table of exported) {
      const [job] = await bigquery.createJob({
        configuration: {
          extract: {
            sourceTable: { projectId: sourceProject, datasetId: table.datasetId, tableId: table.tableId },
            destinationUris: [`${folder}/${table.datasetId}/${table.tableId}-*.avro`],
            destinationFormat: 'AVRO',
          },
        },
      });
      await job.promise();
    }
    const targetProject = unique('dst').replaceAll('_', '-');
    const { operation, tasks } = await restore({ uri, timestamp }, targetProject, {
      datasetsToRestore: ['sales'],
    });
    expect(operation.status, failures(operation, tasks)).to.equal('SUCCEEDED');
    expect(operation.warnings?.join(' ')).to.match(/original service's layout/);
    expect(tasks).to.have.length(exported.length);
    for (const table of exported) {
      const rows = await countOf(
        environment.bigquery(targetProject),
        `SELECT COUNT(*) AS n FROM \`${targetProject}.restored_sales.${table.tableId}\``,
      );
      expect(rows, table.tableId).to.equal(table.rows);
    }
  });

  it('runs a Cloud Scheduler job of the original service: empty exportOptions back up as Avro, empty importOptions restore', async function () {
    const operationId = unique('scheduler');
    const uri = `gs://${BUCKET}/${operationId}`;
    await publishRequest(environment, {
      operationId,
      bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'analytics' }] },
      backupStorage: { gcsOptions: { uri, exportOptions: {} } },
    });
    const made = await waitForOperation(environment, operationId);
    expect(made.status, JSON.stringify(made.error)).to.equal('SUCCEEDED');
    const timestamp = backupRoot(uri, made.snapshotMillis!).split('/').pop()!;
    const objects = await listObjects(environment, BUCKET, `${operationId}/backups/`);
    const dataFiles = [...objects.keys()].filter((name) => name.split('/').pop()!.startsWith('data-'));
    expect(dataFiles).not.to.deep.equal([]);
    for (const name of dataFiles) expect(name).to.match(/\.avro$/);

    const targetProject = unique('dst').replaceAll('_', '-');
    const restoreId = unique('scheduler_r');
    await publishRequest(
      environment,
      {
        operationId: restoreId,
        bigQuery: { projectId: targetProject, datasetsToRestore: ['analytics'] },
        restoreStorage: {
          gcsOptions: {
            uri,
            backupTimestamp: timestamp,
            projectIdOfBackup: sourceProject,
            importOptions: {},
          },
        },
      },
      { kind: 'restore' },
    );
    const restored = await waitForOperation(environment, restoreId);
    const tasks = await tasksOf(environment, restoreId);
    expect(restored.status, failures(restored, tasks)).to.equal('SUCCEEDED');
    expect(restored.request).to.nested.include({
      'restoreStorage.gcsOptions.importOptions.writeDisposition': 'WRITE_TRUNCATE',
    });
    await expectRestored(
      tables.filter((t) => t.datasetId === 'analytics'),
      made.snapshotMillis!,
      targetProject,
      (d) => `restored_${d}`,
    );
  });
});
