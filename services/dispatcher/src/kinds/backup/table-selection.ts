// Which tables a backup covers and what happens to each, in a stable order and a page of BigQuery's
// listing at a time, so that a project of any size is planned in bounded memory.
import type { BackupRequest, ErrorInfo, TableRef } from '@bqbr/shared';
import { isNotFound, type Catalog, type ListedTable } from './catalog.js';
import { isExcluded, isSelected, type SelectionRule } from './table-patterns.js';

/** What happens to one table: exported by a worker, skipped at once, or failed at once. */
export interface PlannedTable {
  readonly table: TableRef;
  readonly action: 'EXPORT' | 'SKIP' | 'FAIL';
  readonly note?: string;
  readonly error?: ErrorInfo;
}

/** How a listed table is backed up; views go to the worker, which records their definition. */
export function classifyTable(table: TableRef, listed: ListedTable, snapshotMillis: number): PlannedTable {
  if (listed.creationTime !== undefined && listed.creationTime > snapshotMillis) {
    return { table, action: 'SKIP', note: 'created after the snapshot' };
  }
  if (listed.type === 'EXTERNAL') {
    return {
      table,
      action: 'SKIP',
      note: 'external table: its data lives outside BigQuery and is not exported',
    };
  }
  return { table, action: 'EXPORT' };
}

const notFound = (table: TableRef, message: string): PlannedTable => ({
  table,
  action: 'FAIL',
  error: { reason: 'notFound', message },
});

/**
 * Every table of the request, in a stable order (datasets and tables as BigQuery lists them), so a
 * redelivered request plans the same tables. A table named twice appears twice: tasks are keyed by table.
 */
export async function* planTables(
  catalog: Catalog,
  request: BackupRequest,
  snapshotMillis: number,
): AsyncGenerator<PlannedTable> {
  const projectId = request.bigQuery.projectId;
  const requestExcludes = request.bigQuery.excludeTables ?? [];
  const selections = request.bigQuery.tablesToBackup;
  if (selections === undefined) {
    let pageToken: string | undefined;
    do {
      const page = await catalog.listDatasets(projectId, pageToken);
      for (const datasetId of page.ids) {
        yield* planDataset(catalog, projectId, datasetId, {}, requestExcludes, snapshotMillis);
      }
      pageToken = page.next;
    } while (pageToken);
    return;
  }
  for (const selection of selections) {
    yield* planDataset(catalog, projectId, selection.datasetName, selection, requestExcludes, snapshotMillis);
  }
}

async function* planDataset(
  catalog: Catalog,
  projectId: string,
  datasetId: string,
  rule: SelectionRule,
  requestExcludes: readonly string[],
  snapshotMillis: number,
): AsyncGenerator<PlannedTable> {
  const ref = (tableId: string): TableRef => ({ projectId, datasetId, tableId });
  const excluded = (tableId: string): boolean =>
    isExcluded(rule.excludeTables ?? [], requestExcludes, datasetId, tableId);
  const names = [...new Set(rule.tables ?? [])].filter((name) => !excluded(name));
  if ((rule.tables?.length ?? 0) > 0 && rule.tableFilter === undefined) {
    // Only named tables: look each up instead of listing a dataset that may hold thousands.
    for (let i = 0; i < names.length; i += NAMED_LOOKUP_CONCURRENCY) {
      const chunk = names.slice(i, i + NAMED_LOOKUP_CONCURRENCY);
      const found = await Promise.all(chunk.map((name) => catalog.getTable(ref(name))));
      for (const [j, name] of chunk.entries()) {
        const listed = found[j];
        yield listed
          ? classifyTable(ref(name), listed, snapshotMillis)
          : notFound(ref(name), `table ${projectId}:${datasetId}.${name} not found`);
      }
    }
    return;
  }
  const seen = new Set<string>();
  let pageToken: string | undefined;
  try {
    do {
      const page = await catalog.listTables(projectId, datasetId, pageToken);
      for (const listed of page.tables) {
        if (!isSelected(rule, listed.tableId) || excluded(listed.tableId)) continue;
        if (names.includes(listed.tableId)) seen.add(listed.tableId);
        yield classifyTable(ref(listed.tableId), listed, snapshotMillis);
      }
      pageToken = page.next;
    } while (pageToken);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // A missing dataset fails its named tables one by one, or stands for them with its filter.
    if (names.length > 0) {
      for (const name of names) yield notFound(ref(name), `dataset ${projectId}:${datasetId} not found`);
    } else {
      yield notFound(ref(rule.tableFilter ?? '*'), `dataset ${projectId}:${datasetId} not found`);
    }
    return;
  }
  for (const name of names) {
    if (!seen.has(name)) yield notFound(ref(name), `table ${projectId}:${datasetId}.${name} not found`);
  }
}

const NAMED_LOOKUP_CONCURRENCY = 16;
