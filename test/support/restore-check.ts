// What every restore end-to-end test checks: each restored table equals its source at the backup's
// instant, value by value, with its partitioning, clustering, labels and description.
import type { DemoTable } from '@bqbr/local/demo-data';
import type { BigQuery } from '@google-cloud/bigquery';
import { expect } from 'chai';
import { diffTables, readTable } from './table-compare.js';

export type Metadata = Record<string, unknown> & { view?: { query?: string } };

/** A resource's metadata (tables.get / datasets.get), typed loosely. */
export async function metadataOf(resource: { getMetadata(): Promise<unknown> }): Promise<Metadata> {
  const [metadata] = (await resource.getMetadata()) as [Metadata];
  return metadata;
}

/** Every restored table equals its source at `snapshotMillis`: schema, settings and rows. */
export async function expectRestored(
  source: { readonly bigquery: BigQuery; readonly projectId: string },
  target: { readonly bigquery: BigQuery; readonly projectId: string },
  list: readonly DemoTable[],
  snapshotMillis: number,
  targetDataset: (datasetId: string) => string,
): Promise<void> {
  for (const table of list.filter((t) => t.type === 'TABLE')) {
    const name = `${table.datasetId}.${table.tableId}`;
    const expected = await readTable(
      source.bigquery,
      { projectId: source.projectId, ...table },
      snapshotMillis,
    );
    const actual = await readTable(target.bigquery, {
      projectId: target.projectId,
      datasetId: targetDataset(table.datasetId),
      tableId: table.tableId,
    });
    expect(diffTables(expected, actual), name).to.deep.equal([]);
    expect(actual.rows, name).to.have.length(table.rows);
    const srcMeta = await metadataOf(source.bigquery.dataset(table.datasetId).table(table.tableId));
    const dstMeta = await metadataOf(
      target.bigquery.dataset(targetDataset(table.datasetId)).table(table.tableId),
    );
    for (const key of ['timePartitioning', 'rangePartitioning', 'clustering', 'labels', 'description'])
      expect(dstMeta[key], `${name} ${key}`).to.deep.equal(srcMeta[key]);
  }
}
