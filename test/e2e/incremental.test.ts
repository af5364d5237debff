// Incremental backups, end to end (docs/contracts.md, "Incremental backups"): the services as processes
// take a full backup and three incrementals of one dataset while it changes (rows added to some
// partitions, a partition deleted, a table added and one dropped), on Cloud Storage (the table folder is
// BigQuery's landing folder) and S3 (files carried through the staging folder). Each incremental runs
// extract jobs only for what changed (counted in the BigQuery emulator's job list) and writes only their
// files; a restore of each point into another project equals the source at that point, value by value.
import type { BackupManifest, OperationDoc, TableManifest, TaskDoc } from '@bqbr/shared';
import type { BigQuery, Table } from '@google-cloud/bigquery';
import { expect } from 'chai';
import {
  publishRequest,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';
import { StoreLocations, type StoreKind } from '../support/store-locations.js';
import { metadataOf } from '../support/restore-check.js';
import { diffTables, readTable, type TableRows } from '../support/table-compare.js';

const DATASET = 'shop';
/** Where a restore puts it (the default `restored_` prefix). */
const RESTORED = `restored_${DATASET}`;

const readJson = async <T>(locations: StoreLocations, kind: StoreKind, prefix: string, path: string) =>
  JSON.parse(
    Buffer.concat((await (await locations.store(kind, prefix).get(path)).toArray()) as Buffer[]).toString(
      'utf8',
    ),
  ) as T;

/** A point of the chain: the backup, what the source held at its snapshot, what its jobs and files were. */
interface Point {
  readonly operation: OperationDoc;
  readonly tasks: TaskDoc[];
  readonly folder: string;
  readonly manifest: BackupManifest;
  readonly expected: Map<string, TableRows>;
  /** Extract jobs the backup ran, per table. */
  readonly jobs: Map<string, number>;
}

describe('incremental backups end to end: full + 3 incrementals, restore of each point (gcs, s3)', function () {
  this.timeout(600_000);
  let environment: Environment;
  let locations: StoreLocations;

  before(async function () {
    environment = await startEnvironment({ destinations: true });
    locations = new StoreLocations(environment);
    await locations.prepare();
    // Two files for a partition of more than 2 rows: a partition's files are a series of their own.
    await environment.controls({ exportShardRows: 2 });
  });

  after(async function () {
    await environment?.stop();
  });

  const day = (n: number): string => `2026-11-0${n}`;
  const rowsOf = (n: number, ids: readonly number[]) =>
    ids.map((id) => ({ d: day(n), id, v: `r${n}_${id}` }));

  async function run(
    kind: 'backup' | 'restore' | 'verify',
    body: object,
  ): Promise<{ operation: OperationDoc; tasks: TaskDoc[] }> {
    const operationId = unique(`${kind[0]}_inc`);
    await publishRequest(environment, { operationId, ...body }, { kind });
    const operation = await waitForOperation(environment, operationId, undefined, 180_000);
    return { operation, tasks: await tasksOf(environment, operationId) };
  }

  for (const kind of ['gcs', 's3'] as const) {
    it(`${kind}: each incremental exports only what changed; every point restores exactly`, async function () {
      const sourceProject = unique(`src_${kind}`).replaceAll('_', '-');
      const prefix = unique(`inc_${kind}`);
      const bigquery = environment.bigquery(sourceProject);
      const [dataset] = await bigquery.createDataset(DATASET);
      const [events] = await dataset.createTable('events', {
        schema: {
          fields: [
            { name: 'd', type: 'DATE' },
            { name: 'id', type: 'INT64' },
            { name: 'v', type: 'STRING' },
          ],
        },
        timePartitioning: { type: 'DAY', field: 'd' },
      });
      await events.insert([1, 2, 3, 4, 5].flatMap((n) => rowsOf(n, [1, 2, 3])));
      const items = await plainTable(dataset, 'items', ['a', 'b']);
      await plainTable(dataset, 'notes', ['kept as it was']);

      const points: Point[] = [];
      const backup = async (): Promise<Point> => {
        const before = await environment.extractJobsByTable();
        const { operation, tasks } = await run('backup', {
          bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: DATASET }] },
          backupStorage: locations.storage(kind, prefix, {
            exportOptions: { format: 'AVRO', overwrite: true },
          }),
          mode: 'incremental',
        });
        expect(operation.status, JSON.stringify(tasks.map((t) => t.error ?? t.note))).to.equal('SUCCEEDED');
        const after = await environment.extractJobsByTable();
        const jobs = new Map(
          [...after]
            .map(([table, n]) => [table, n - (before.get(table) ?? 0)] as const)
            .filter(([, n]) => n > 0),
        );
        const folder = operation.location!.split('/').pop()!;
        const manifest = await readJson<BackupManifest>(
          locations,
          kind,
          prefix,
          `backups/${folder}/${sourceProject}/_backup.json`,
        );
        const expected = new Map<string, TableRows>();
        for (const task of tasks)
          expected.set(task.table.tableId, await readTable(bigquery, task.table, operation.snapshotMillis));
        const point = { operation, tasks, folder, manifest, expected, jobs };
        points.push(point);
        return point;
      };
      const tableManifest = (point: Point, tableId: string): Promise<TableManifest> =>
        readJson<TableManifest>(
          locations,
          kind,
          prefix,
          `backups/${point.folder}/${sourceProject}/${DATASET}/${tableId}/_table.json`,
        );
      /** The partitions a table's own files (not referenced ones) hold. */
      const exportedPartitions = async (point: Point, tableId: string): Promise<string[]> => [
        ...new Set(
          (await tableManifest(point, tableId)).files
            .filter((f) => f.folder === undefined)
            .map((f) => f.partition ?? '(whole)'),
        ),
      ];
      const bytesWritten = async (point: Point): Promise<number> => {
        let sum = 0;
        for (const task of point.tasks)
          for (const file of (await tableManifest(point, task.table.tableId)).files)
            if (file.folder === undefined) sum += file.bytes;
        return sum;
      };

      // The full backup of the chain: every partition on its own, every table whole.
      const full = await backup();
      expect(full.manifest).to.deep.include({ mode: 'INCREMENTAL', chainLength: 0, dependsOn: [] });
      expect(full.operation.warnings?.join(' ')).to.match(/full backup, the start of a new chain/);
      expect(Object.fromEntries(full.jobs)).to.deep.equal({ events: 5, items: 1, notes: 1 });
      expect(await exportedPartitions(full, 'events')).to.deep.equal([
        '20261101',
        '20261102',
        '20261103',
        '20261104',
        '20261105',
      ]);

      // 1: rows added to one partition, a new partition, a row added to items.
      await events.insert([...rowsOf(2, [4]), ...rowsOf(6, [1])]);
      await items.insert([{ id: 3, label: 'c' }]);
      const first = await backup();
      expect(first.manifest).to.deep.include({ mode: 'INCREMENTAL', base: full.folder, chainLength: 1 });
      expect(first.manifest.dependsOn).to.deep.equal([full.folder]);
      expect(Object.fromEntries(first.jobs)).to.deep.equal({ events: 2, items: 1 });
      expect(await exportedPartitions(first, 'events')).to.deep.equal(['20261102', '20261106']);
      expect(await exportedPartitions(first, 'notes')).to.deep.equal([]);
      const firstEvents = await tableManifest(first, 'events');
      expect(firstEvents.extractJobs).to.equal(2);
      expect(firstEvents.partitions!.map((p) => [p.id, p.rows])).to.deep.equal([
        ['20261101', 3],
        ['20261102', 4],
        ['20261103', 3],
        ['20261104', 3],
        ['20261105', 3],
        ['20261106', 1],
      ]);
      // Referenced files name the full backup's table folder.
      expect(
        new Set(firstEvents.files.filter((f) => f.folder !== undefined).map((f) => f.folder)),
      ).to.deep.equal(new Set([`backups/${full.folder}/${sourceProject}/${DATASET}/events/`]));

      // 2: a partition deleted (bq rm 'events$20261103'), a table added.
      await dataset.table('events$20261103').delete();
      await plainTable(dataset, 'added', ['new']);
      const second = await backup();
      expect(second.manifest).to.deep.include({ base: first.folder, chainLength: 2 });
      expect(second.manifest.dependsOn).to.deep.equal([full.folder, first.folder].sort());
      expect(Object.fromEntries(second.jobs)).to.deep.equal({ added: 1 });
      expect((await tableManifest(second, 'events')).deletedPartitions).to.deep.equal(['20261103']);

      // 3: items dropped, rows added to another partition.
      await items.delete();
      await events.insert(rowsOf(5, [4, 5]));
      const third = await backup();
      expect(third.manifest).to.deep.include({ base: second.folder, chainLength: 3 });
      expect(third.manifest.droppedTables).to.deep.equal([{ datasetId: DATASET, tableId: 'items' }]);
      expect(Object.fromEntries(third.jobs)).to.deep.equal({ events: 1 });
      expect(await exportedPartitions(third, 'events')).to.deep.equal(['20261105']);

      // What each backup wrote: the operation's summary counts its own files, a fraction of the full one.
      for (const point of points) expect(point.operation.summary?.bytes).to.equal(await bytesWritten(point));
      for (const point of [first, second, third])
        expect(point.operation.summary!.bytes).to.be.lessThan(full.operation.summary!.bytes);

      // Every point restores into a project of its own exactly as the source was at its snapshot.
      for (const point of points) {
        const target = unique(`dst_${kind}`).replaceAll('_', '-');
        const { operation, tasks } = await run('restore', {
          bigQuery: { projectId: target },
          restoreStorage: {
            [`${kind}Options`]: {
              ...locations.fields(kind, prefix),
              backupTimestamp: point.folder,
              projectIdOfBackup: sourceProject,
              importOptions: { restoreRegion: 'EU' },
            },
          },
        });
        expect(operation.status, JSON.stringify(tasks.map((t) => t.error))).to.equal('SUCCEEDED');
        const restoredTables = (await environment.bigquery(target).dataset(RESTORED).getTables())[0].map(
          (t: Table) => t.id,
        );
        expect(restoredTables.sort()).to.deep.equal([...point.expected.keys()].sort());
        for (const [tableId, expected] of point.expected) {
          const actual = await readTable(environment.bigquery(target), {
            projectId: target,
            datasetId: RESTORED,
            tableId,
          });
          expect(diffTables(expected, actual), `${point.folder} ${tableId}`).to.deep.equal([]);
        }
        const partitioning = (
          await metadataOf(environment.bigquery(target).dataset(RESTORED).table('events'))
        )['timePartitioning'];
        expect(partitioning).to.deep.include({ type: 'DAY', field: 'd' });
      }
      expect(points.map((p) => p.expected.get('events')!.rows.length)).to.deep.equal([15, 17, 14, 16]);

      // A verify of the last incremental reads every file of the chain it references: all good.
      const verified = await run('verify', {
        kind: 'verify',
        bigQuery: { projectId: sourceProject },
        backupStorage: locations.storage(kind, prefix),
        backupTimestamp: third.folder,
      });
      expect(verified.operation.status, JSON.stringify(verified.tasks.map((t) => t.error))).to.equal(
        'SUCCEEDED',
      );
    });
  }
});

/** An unpartitioned table of (id, label) rows. */
async function plainTable(
  dataset: ReturnType<BigQuery['dataset']>,
  tableId: string,
  labels: readonly string[],
): Promise<Table> {
  const [table] = await dataset.createTable(tableId, {
    schema: {
      fields: [
        { name: 'id', type: 'INT64' },
        { name: 'label', type: 'STRING' },
      ],
    },
  });
  await table.insert(labels.map((label, i) => ({ id: i + 1, label })));
  return table;
}
