// Table metadata and row counts at an instant, from BigQuery.
import type { BigQuery } from '@google-cloud/bigquery';
import { classifyError, type TableRef } from '@bqbr/shared';
import type { TableReader } from './backup-step.js';
import type { TableMetadata } from './table-manifest.js';

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
    async rowsAt(ref, snapshotMillis) {
      // tabledata.list of `table@millis` with no rows: its totalRows is the count at that instant.
      const [, , response] = await table(ref, `${ref.tableId}@${snapshotMillis}`).getRows({
        maxResults: 0,
        autoPaginate: false,
      });
      return Number((response as { totalRows?: string | number } | undefined)?.totalRows ?? 0);
    },
  };
}
