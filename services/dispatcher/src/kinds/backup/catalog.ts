// What backup planning reads of BigQuery: dataset and table listings a page at a time, and single
// tables, on the real client.
import { classifyError, type TableRef } from '@bqbr/shared';
import type { BigQuery } from '@google-cloud/bigquery';

/** A table as BigQuery's `tables.list` describes it. */
export interface ListedTable {
  readonly tableId: string;
  /** TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, SNAPSHOT, ... */
  readonly type: string;
  readonly creationTime?: number;
}

export interface TableStats {
  readonly numBytes: number;
  readonly numRows: number;
}

/** The part of BigQuery planning reads: listings a page at a time and single tables. */
export interface Catalog {
  listDatasets(projectId: string, pageToken?: string): Promise<{ ids: string[]; next?: string }>;
  /** Throws a notFound error when the dataset does not exist. */
  listTables(
    projectId: string,
    datasetId: string,
    pageToken?: string,
  ): Promise<{ tables: ListedTable[]; next?: string }>;
  /** undefined when the table (or its dataset) does not exist. */
  getTable(ref: TableRef): Promise<(ListedTable & TableStats) | undefined>;
  /** The Dataset resource (`datasets.get`), or undefined when the dataset does not exist. */
  getDataset(projectId: string, datasetId: string): Promise<Record<string, unknown> | undefined>;
}

const LIST_PAGE_SIZE = 1000;

export const isNotFound = (err: unknown): boolean => classifyError(err).reason === 'notFound';

export function bigQueryCatalog(bigquery: BigQuery): Catalog {
  return {
    async listDatasets(projectId, pageToken) {
      const [datasets, next] = await bigquery.getDatasets({
        projectId,
        autoPaginate: false,
        maxResults: LIST_PAGE_SIZE,
        ...(pageToken ? { pageToken } : {}),
      });
      return { ids: datasets.map((d) => d.id!), ...nextToken(next) };
    },
    async listTables(projectId, datasetId, pageToken) {
      const [, next, response] = await bigquery.dataset(datasetId, { projectId }).getTables({
        autoPaginate: false,
        maxResults: LIST_PAGE_SIZE,
        ...(pageToken ? { pageToken } : {}),
      });
      const tables = (response?.tables ?? []).map((item) => ({
        tableId: item.tableReference!.tableId!,
        type: item.type ?? 'TABLE',
        ...(item.creationTime !== undefined && item.creationTime !== null
          ? { creationTime: Number(item.creationTime) }
          : {}),
      }));
      return { tables, ...nextToken(next) };
    },
    async getTable(ref) {
      try {
        const [metadata] = (await bigquery
          .dataset(ref.datasetId, { projectId: ref.projectId })
          .table(ref.tableId)
          .getMetadata()) as unknown as [Record<string, unknown>];
        return {
          tableId: ref.tableId,
          type: typeof metadata.type === 'string' ? metadata.type : 'TABLE',
          ...(metadata.creationTime !== undefined ? { creationTime: Number(metadata.creationTime) } : {}),
          numBytes: Number(metadata.numBytes ?? 0),
          numRows: Number(metadata.numRows ?? 0),
        };
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
    async getDataset(projectId, datasetId) {
      try {
        const [metadata] = (await bigquery.dataset(datasetId, { projectId }).getMetadata()) as unknown as [
          Record<string, unknown>,
        ];
        return metadata;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

function nextToken(next: unknown): { next?: string } {
  const token = (next as { pageToken?: unknown } | null | undefined)?.pageToken;
  return typeof token === 'string' && token !== '' ? { next: token } : {};
}
