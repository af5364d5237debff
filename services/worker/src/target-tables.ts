// A restore's target tables in BigQuery: whether one exists (and its rows), and creating, patching and
// dropping one.
import type { BigQuery } from '@google-cloud/bigquery';
import { classifyError, type TableRef } from '@bqbr/shared';

export interface TargetTables {
  /** The table's type and row count, or undefined when it does not exist. */
  get(ref: TableRef): Promise<{ readonly type: string; readonly numRows: number } | undefined>;
  /** tables.insert; false when the table exists already. */
  create(ref: TableRef, body: Record<string, unknown>): Promise<boolean>;
  /** tables.patch. */
  patch(ref: TableRef, body: Record<string, unknown>): Promise<void>;
  /** tables.delete; a missing table is fine. */
  delete(ref: TableRef): Promise<void>;
}

const isReason = (err: unknown, reason: string): boolean => classifyError(err).reason === reason;

export function createBigQueryTargetTables(bigquery: BigQuery): TargetTables {
  const dataset = (ref: TableRef) => bigquery.dataset(ref.datasetId, { projectId: ref.projectId });
  return {
    async get(ref) {
      try {
        const [metadata] = (await dataset(ref).table(ref.tableId).getMetadata()) as unknown as [
          Record<string, unknown>,
        ];
        return {
          type: typeof metadata['type'] === 'string' ? metadata['type'] : 'TABLE',
          numRows: Number(metadata['numRows'] ?? 0),
        };
      } catch (err) {
        if (isReason(err, 'notFound')) return undefined;
        throw err;
      }
    },
    async create(ref, body) {
      try {
        await dataset(ref).createTable(ref.tableId, body as never);
        return true;
      } catch (err) {
        if (isReason(err, 'duplicate')) return false;
        throw err;
      }
    },
    async patch(ref, body) {
      await dataset(ref).table(ref.tableId).setMetadata(body);
    },
    async delete(ref) {
      try {
        await dataset(ref).table(ref.tableId).delete();
      } catch (err) {
        if (!isReason(err, 'notFound')) throw err;
      }
    },
  };
}
