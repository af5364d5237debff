// Table metadata, row counts at an instant and partitions, from BigQuery.
import type { BigQuery } from '@google-cloud/bigquery';
import { classifyError, type TableRef } from '@bqbr/shared';
import type { TableMetadata } from './table-manifest.js';

export interface TableReader {
  /** The table's metadata, or undefined when it does not exist. */
  get(ref: TableRef): Promise<TableMetadata | undefined>;
  /** Rows in the table (or in one of its partitions) at `snapshotMillis`. */
  rowsAt(ref: TableRef, snapshotMillis: number, partition?: string): Promise<number>;
  /** The table's partitions now, from INFORMATION_SCHEMA.PARTITIONS (none for an unpartitioned table). */
  partitions(ref: TableRef, location: string | undefined): Promise<PartitionNow[]>;
}

/** A partition as INFORMATION_SCHEMA.PARTITIONS lists it: its id, rows and last modification now. */
export interface PartitionNow {
  readonly id: string;
  readonly rows: number;
  readonly lastModifiedMillis: number;
}

export function createBigQueryTableReader(bigquery: BigQuery): TableReader {
  const table = (ref: TableRef, tableId = ref.tableId) =>
    bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).table(tableId);
  return {
    async get(ref) {
      try {
        const response = await table(ref).getMetadata();
        return response[0] as TableMetadata;
      } catch (err) {
        if (classifyError(err).reason === 'notFound') return undefined;
        throw err;
      }
    },
    async rowsAt(ref, snapshotMillis, partition) {
      // tabledata.list of `table@millis` (`table@millis$partition`) with no rows: its totalRows is the
      // count at that instant.
      const decorated = `${ref.tableId}@${snapshotMillis}${partition === undefined ? '' : `$${partition}`}`;
      const [, , response] = await table(ref, decorated).getRows({
        maxResults: 0,
        autoPaginate: false,
      });
      return Number((response as { totalRows?: string | number } | undefined)?.totalRows ?? 0);
    },
    async partitions(ref, location) {
      // One query of the dataset's INFORMATION_SCHEMA.PARTITIONS view, as it is now
      // (https://cloud.google.com/bigquery/docs/information-schema-partitions): metadata only, but a
      // query job all the same (billed at the on-demand minimum).
      const [rows] = await bigquery.query({
        query:
          'SELECT partition_id, total_rows, UNIX_MILLIS(last_modified_time) AS last_modified ' +
          `FROM \`${ref.projectId}.${ref.datasetId}.INFORMATION_SCHEMA.PARTITIONS\` WHERE table_name = @table`,
        params: { table: ref.tableId },
        projectId: ref.projectId,
        ...(location === undefined ? {} : { location }),
      });
      return (rows as Record<string, unknown>[])
        .filter((row) => row['partition_id'] !== null && row['partition_id'] !== undefined)
        .map((row) => ({
          id: String(row['partition_id']),
          rows: Number(row['total_rows'] ?? 0),
          lastModifiedMillis: Number(row['last_modified'] ?? 0),
        }));
    },
  };
}
