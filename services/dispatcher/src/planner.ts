// Planning a backup: the snapshot instant, and which tables it covers, a page at a time so that a
// project of any size is planned in bounded memory.
import {
  ValidationError,
  classifyError,
  snapshotInstant,
  backupDestination,
  destinationUri,
  tablePath,
  type BackupRequest,
  type BackupTaskSpec,
  type ErrorInfo,
  type ExportSettings,
  type PlanSummary,
  type TableRef,
} from '@bqbr/shared';
import type { BigQuery } from '@google-cloud/bigquery';
import { requireStaging, stagingFolderOf } from './staging.js';
import { isExcluded, isSelected, type SelectionRule } from './table-patterns.js';

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
}

const LIST_PAGE_SIZE = 1000;

const isNotFound = (err: unknown): boolean => classifyError(err).reason === 'notFound';

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
  };
}

function nextToken(next: unknown): { next?: string } {
  const token = (next as { pageToken?: unknown } | null | undefined)?.pageToken;
  return typeof token === 'string' && token !== '' ? { next: token } : {};
}

/** What happens to one table: exported by a worker, skipped at once, or failed at once. */
export interface PlannedTable {
  readonly table: TableRef;
  readonly action: 'EXPORT' | 'SKIP' | 'FAIL';
  readonly note?: string;
  readonly error?: ErrorInfo;
}

/**
 * The instant every table is read at: `backupTime`, else now. BigQuery's time travel reaches 7 days
 * back and not into the future, so anything outside that window is an invalid request.
 */
export function resolveSnapshot(request: BackupRequest, now: Date, maxAgeMs: number): number {
  let instant: number;
  try {
    instant = snapshotInstant(request.backupTime, now).getTime();
  } catch (err) {
    throw new ValidationError('backup request', [
      { path: 'backupTime', message: String((err as Error).message) },
    ]);
  }
  if (instant > now.getTime()) {
    throw new ValidationError('backup request', [
      {
        path: 'backupTime',
        message: `${new Date(instant).toISOString()} is in the future (now ${now.toISOString()})`,
      },
    ]);
  }
  if (now.getTime() - instant > maxAgeMs) {
    throw new ValidationError('backup request', [
      {
        path: 'backupTime',
        message: `${new Date(instant).toISOString()} is older than BigQuery's time travel window (7 days, less a safety margin of 5 minutes)`,
      },
    ]);
  }
  return instant;
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

/** Groups planned tables into pages of `size`. */
export async function* pages<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let page: T[] = [];
  for await (const item of items) {
    page.push(item);
    if (page.length >= size) {
      yield page;
      page = [];
    }
  }
  if (page.length > 0) yield page;
}

/** The export settings a request asks for, with BigQuery's defaults filled in. */
export function exportSettings(request: BackupRequest): ExportSettings {
  const options = backupDestination(request).exportOptions;
  return {
    format: options.format,
    compression: options.compression ?? 'NONE',
    header: options.header ?? true,
    fieldDelimiter: options.fieldDelimiter ?? ',',
    useAvroLogicalTypes: options.format === 'AVRO',
  };
}

/** Everything a worker needs to export one table. */
export function taskSpec(
  request: BackupRequest,
  table: TableRef,
  snapshotMillis: number,
  staging?: { readonly operationId: string; readonly stagingUri: string },
): BackupTaskSpec {
  const settings = exportSettings(request);
  const { spec: destination, exportOptions } = backupDestination(request);
  const path = tablePath(snapshotMillis, table.projectId, table.datasetId, table.tableId);
  const external =
    destination.kind === 'gcs'
      ? {}
      : {
          destination,
          tablePath: path,
          stagingFolder: stagingFolderOf(
            requireStaging('backup', destination.kind, staging?.stagingUri),
            staging?.operationId ?? '',
            table,
          ),
        };
  return {
    kind: 'backup',
    source: table,
    snapshotMillis,
    tableFolder: destinationUri(destination, path),
    format: settings.format,
    compression: settings.compression as BackupTaskSpec['compression'],
    header: settings.header,
    fieldDelimiter: settings.fieldDelimiter,
    overwrite: exportOptions.overwrite,
    ...external,
  };
}

const SAMPLE_SIZE = 1000;

/** A dry run: what a backup would export, with sizes of the first 1,000 exported tables. */
export async function dryRunPlan(
  catalog: Catalog,
  request: BackupRequest,
  snapshotMillis: number,
): Promise<PlanSummary> {
  let tables = 0;
  let skipped = 0;
  let bytes = 0;
  let rows = 0;
  const sample: PlanSummary['sample'][number][] = [];
  for await (const page of pages(planTables(catalog, request, snapshotMillis), NAMED_LOOKUP_CONCURRENCY)) {
    const stats = await Promise.all(
      page.map((planned) =>
        planned.action === 'EXPORT' && sample.length < SAMPLE_SIZE
          ? catalog.getTable(planned.table)
          : Promise.resolve(undefined),
      ),
    );
    for (const [i, planned] of page.entries()) {
      tables++;
      const stat = stats[i];
      if (planned.action !== 'EXPORT') skipped++;
      bytes += stat?.numBytes ?? 0;
      rows += stat?.numRows ?? 0;
      if (sample.length < SAMPLE_SIZE) {
        const note =
          planned.note ?? (planned.error ? `${planned.error.reason}: ${planned.error.message}` : undefined);
        sample.push({
          table: `${planned.table.datasetId}.${planned.table.tableId}`,
          action: planned.action === 'EXPORT' ? 'EXPORT' : 'SKIP',
          ...(note !== undefined ? { note } : {}),
          ...(stat ? { bytes: stat.numBytes } : {}),
        });
      }
    }
  }
  return { tables, skipped, bytes, rows, sample };
}
