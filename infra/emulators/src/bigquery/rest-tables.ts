// tables.insert/get/list/patch/update/delete and tabledata.list/insertAll
import { invalid } from './api-error.js';
import { parseDecorators, type TableEntry, type TableType } from './catalog.js';
import type { Request } from './http.js';
import { readJson, sendJson, sendNoContent } from './http.js';
import type { EmulatorContext } from './jobs.js';
import { checkEtag } from './rest-datasets.js';
import {
  checkTableId,
  decodePageToken,
  encodePageToken,
  etagOf,
  tableName,
  tableRefOf,
  type DatasetRef,
  type Json,
  type TableRef,
} from './resources.js';
import { findField, isRepeated, normalizeSchema, type FieldSchema } from './schema.js';
import { checkTableSettings, settableTableFields } from './table-settings.js';
import { selectListSql, toApiLeaf } from './value-sql.js';

/** Computes a view's schema from its query (wired to the query engine by the server). */
export type ViewSchemaFn = (projectId: string, query: string) => Promise<FieldSchema[]>;

function tableTypeOf(settings: Json): TableType {
  if (settings['view'] !== undefined) return 'VIEW';
  if (settings['materializedView'] !== undefined) return 'MATERIALIZED_VIEW';
  if (settings['externalDataConfiguration'] !== undefined) return 'EXTERNAL';
  return 'TABLE';
}

export async function tableResource(
  ctx: EmulatorContext,
  entry: TableEntry,
  apiBase: string,
  at?: number,
): Promise<Json> {
  const { projectId, datasetId, tableId } = entry.ref;
  const stats = entry.physical ? await ctx.catalog.stats(entry, at) : undefined;
  const location = ctx.catalog.getDataset(entry.ref).resource['location'];
  return {
    kind: 'bigquery#table',
    etag: etagOf(entry.ref, entry.lastModifiedTime, entry.resource, entry.fields),
    id: tableName(entry.ref),
    selfLink: `${apiBase}/projects/${projectId}/datasets/${datasetId}/tables/${encodeURIComponent(tableId)}`,
    tableReference: { projectId, datasetId, tableId },
    schema: { fields: entry.fields },
    ...entry.resource,
    ...(stats
      ? {
          numBytes: String(stats.numBytes),
          numLongTermBytes: '0',
          numRows: String(stats.numRows),
          numTotalLogicalBytes: String(stats.numBytes),
          numActiveLogicalBytes: String(stats.numBytes),
          numLongTermLogicalBytes: '0',
        }
      : {}),
    creationTime: String(entry.creationTime),
    lastModifiedTime: String(entry.lastModifiedTime),
    type: entry.type,
    location,
  };
}

function listItem(entry: TableEntry): Json {
  const r = entry.resource;
  return {
    kind: 'bigquery#table',
    id: tableName(entry.ref),
    tableReference: { ...entry.ref },
    type: entry.type,
    creationTime: String(entry.creationTime),
    ...(r['expirationTime'] !== undefined ? { expirationTime: r['expirationTime'] } : {}),
    ...(r['friendlyName'] !== undefined ? { friendlyName: r['friendlyName'] } : {}),
    ...(r['labels'] !== undefined ? { labels: r['labels'] } : {}),
    ...(r['timePartitioning'] !== undefined ? { timePartitioning: r['timePartitioning'] } : {}),
    ...(r['rangePartitioning'] !== undefined ? { rangePartitioning: r['rangePartitioning'] } : {}),
    ...(r['clustering'] !== undefined ? { clustering: r['clustering'] } : {}),
    ...(entry.type === 'VIEW'
      ? { view: { useLegacySql: (r['view'] as Json)['useLegacySql'] ?? false } }
      : {}),
  };
}

function checkView(settings: Json, type: TableType): void {
  const key = type === 'VIEW' ? 'view' : type === 'MATERIALIZED_VIEW' ? 'materializedView' : undefined;
  if (!key) return;
  const view = settings[key] as Json;
  if (typeof view['query'] !== 'string' || view['query'].trim() === '')
    throw invalid(`A ${type === 'VIEW' ? 'view' : 'materialized view'} must have a query.`);
  if (type === 'VIEW') settings['view'] = { ...view, useLegacySql: view['useLegacySql'] ?? false };
}

export async function insertTable(
  ctx: EmulatorContext,
  r: Request,
  dataset: DatasetRef,
  viewSchema: ViewSchemaFn,
): Promise<void> {
  const body = await readJson(r.req);
  const ref = tableRefOf(body['tableReference'], 'table.tableReference', dataset.projectId);
  if (ref.datasetId !== dataset.datasetId || ref.projectId !== dataset.projectId)
    throw invalid('The table reference does not match the dataset in the request path.');
  checkTableId(ref.tableId);
  ctx.catalog.getDataset(dataset);
  let fields = body['schema'] !== undefined ? normalizeSchema(body['schema']).fields : [];
  const raw = settableTableFields(body);
  const type = tableTypeOf(raw);
  checkView(raw, type);
  if (type === 'VIEW' && (raw['view'] as Json)['useLegacySql'] === true)
    throw invalid('Legacy SQL views are not supported by the emulator; set view.useLegacySql to false.');
  if (type === 'VIEW' || type === 'MATERIALIZED_VIEW') {
    const query = ((raw['view'] ?? raw['materializedView']) as Json)['query'] as string;
    fields = await viewSchema(ref.projectId, query);
  }
  const settings = checkTableSettings(raw, fields);
  const entry = await ctx.catalog.createTable(ref, type, fields, settings);
  sendJson(r.res, 200, await tableResource(ctx, entry, r.apiBase));
}

export async function getTable(ctx: EmulatorContext, r: Request, ref: TableRef): Promise<void> {
  // Clients fetch the schema of `t@millis` before reading its rows; BigQuery answers for decorated ids too.
  const decorated = parseDecorators(ref.tableId, Date.now());
  const entry = ctx.catalog.getTable({ ...ref, tableId: decorated.tableId });
  const at = ctx.catalog.checkSnapshotTime(entry, decorated.at);
  const resource = await tableResource(ctx, entry, r.apiBase, at);
  const selected = r.query.get('selectedFields');
  if (selected)
    (resource['schema'] as { fields: FieldSchema[] }).fields = selectedFields(entry.fields, selected);
  sendJson(r.res, 200, resource);
}

export function listTables(ctx: EmulatorContext, r: Request, dataset: DatasetRef): void {
  const all = ctx.catalog.listTables(dataset);
  const start = decodePageToken(r.query.get('pageToken'));
  const maxText = r.query.get('maxResults');
  const max = maxText ? Math.max(1, Number.parseInt(maxText, 10) || 1) : 1000;
  const items = all.slice(start, start + max);
  const next = start + items.length;
  sendJson(r.res, 200, {
    kind: 'bigquery#tableList',
    etag: etagOf(dataset, all.length, next),
    ...(items.length > 0 ? { tables: items.map(listItem) } : {}),
    totalItems: all.length,
    ...(next < all.length ? { nextPageToken: encodePageToken(next) } : {}),
  });
}

/** PATCH changes only the fields present (labels merge, null removes); PUT replaces all settable fields. */
export async function updateTable(
  ctx: EmulatorContext,
  r: Request,
  ref: TableRef,
  mode: 'patch' | 'update',
  viewSchema: ViewSchemaFn,
): Promise<void> {
  const entry = ctx.catalog.getTable(ref);
  checkEtag(r, (await tableResource(ctx, entry, r.apiBase))['etag'] as string);
  const body = await readJson(r.req);
  const raw = settableTableFields(body);
  let fields = body['schema'] !== undefined ? normalizeSchema(body['schema']).fields : undefined;
  let next: Json;
  if (mode === 'patch') {
    next = { ...entry.resource, ...raw };
    if (raw['labels'] && typeof raw['labels'] === 'object') {
      const merged: Json = { ...((entry.resource['labels'] ?? {}) as Json) };
      for (const [k, v] of Object.entries(raw['labels'] as Json)) {
        if (v === null) delete merged[k];
        else merged[k] = v;
      }
      next['labels'] = merged;
    }
    for (const [k, v] of Object.entries(raw)) if (v === null) delete next[k];
  } else {
    next = raw;
  }
  if (entry.type === 'VIEW' || entry.type === 'MATERIALIZED_VIEW') {
    checkView(next, entry.type);
    const query = ((next['view'] ?? next['materializedView']) as Json)['query'] as string;
    fields = await viewSchema(ref.projectId, query);
  }
  if (entry.resource['timePartitioning'] && next['timePartitioning'] === undefined && mode === 'update')
    next['timePartitioning'] = entry.resource['timePartitioning'];
  const settings = checkTableSettings(next, fields ?? entry.fields);
  // Partition expiration and requirePartitionFilter may change; the partitioning itself may not
  // (https://cloud.google.com/bigquery/docs/managing-partitioned-tables).
  const spec = (time: unknown): string => {
    const t = time as Json | undefined;
    return JSON.stringify(t ? [t['type'], t['field'] ?? null] : null);
  };
  const samePartitioning =
    spec(settings['timePartitioning']) === spec(entry.resource['timePartitioning']) &&
    JSON.stringify(settings['rangePartitioning'] ?? null) ===
      JSON.stringify(entry.resource['rangePartitioning'] ?? null);
  if (!samePartitioning && entry.physical)
    throw invalid(`Cannot change partitioning spec for table ${tableName(ref)}.`);
  await ctx.catalog.updateTable(entry, settings, fields);
  sendJson(r.res, 200, await tableResource(ctx, entry, r.apiBase));
}

export async function deleteTable(ctx: EmulatorContext, r: Request, ref: TableRef): Promise<void> {
  const decorated = parseDecorators(ref.tableId, Date.now());
  if (decorated.partition !== undefined && decorated.at === undefined) {
    // `t$20260101`: that partition only.
    const entry = ctx.catalog.getTable({ ...ref, tableId: decorated.tableId });
    await ctx.catalog.deletePartition(entry, decorated.partition);
  } else await ctx.catalog.deleteTable(ref);
  sendNoContent(r.res);
}

// ---- tabledata ----

/** Up to this many rows per tabledata.list page when the client gives no maxResults. */
const DEFAULT_PAGE_ROWS = 100_000;

export async function listTableData(ctx: EmulatorContext, r: Request, ref: TableRef): Promise<void> {
  const decorated = parseDecorators(ref.tableId, Date.now());
  const entry = ctx.catalog.getTable({ ...ref, tableId: decorated.tableId });
  if (!entry.physical) throw invalid(`Cannot list a table of type ${entry.type}.`);
  const at = ctx.catalog.checkSnapshotTime(entry, decorated.at);
  const startText = r.query.get('startIndex');
  const start = startText !== null ? Number(startText) : decodePageToken(r.query.get('pageToken'));
  if (!Number.isInteger(start) || start < 0) throw invalid(`Invalid startIndex: ${startText}`);
  const maxText = r.query.get('maxResults');
  const max = maxText !== null ? Number(maxText) : DEFAULT_PAGE_ROWS;
  if (!Number.isInteger(max) || max < 0) throw invalid(`Invalid maxResults: ${maxText}`);
  const fields = selectedFields(entry.fields, r.query.get('selectedFields'));
  const relation = ctx.catalog.relationSql(entry, at, decorated.partition);
  const int64 = r.query.get('formatOptions.useInt64Timestamp') === 'true';
  const [countRow] = await ctx.engine.all(`SELECT count(*) AS n FROM ${relation}`);
  const total = Number(countRow?.['n'] ?? 0);
  const rows =
    fields.length === 0 || max === 0
      ? []
      : await ctx.engine.all(
          `SELECT ${selectListSql(fields, toApiLeaf)} FROM ${relation} LIMIT ${max} OFFSET ${start}`,
        );
  const next = start + rows.length;
  sendJson(r.res, 200, {
    kind: 'bigquery#tableDataList',
    etag: etagOf(entry.ref, entry.lastCommit, start, max),
    totalRows: String(total),
    ...(next < total && rows.length > 0 ? { pageToken: encodePageToken(next) } : {}),
    ...(rows.length > 0 ? { rows: rows.map((row) => toFv(fields, row, int64)) } : {}),
  });
}

/**
 * The schema pruned to `selectedFields` ("a,e.d.f" selects into records), in the table's column order:
 * clients map the returned cells to the schema's order, not the request's.
 */
function selectedFields(fields: readonly FieldSchema[], selected: string | null): FieldSchema[] {
  if (!selected) return [...fields];
  const paths = selected
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => s.split('.'));
  return prune(fields, paths, '');
}

function prune(fields: readonly FieldSchema[], paths: string[][], prefix: string): FieldSchema[] {
  for (const path of paths) {
    const field = findField(fields, path[0] ?? '');
    if (!field || (path.length > 1 && field.type !== 'RECORD'))
      throw invalid(`Invalid field selection ${prefix}${path.join('.')}`);
  }
  return fields.flatMap((f) => {
    const mine = paths.filter((p) => p[0]?.toLowerCase() === f.name.toLowerCase());
    if (mine.length === 0) return [];
    if (f.type !== 'RECORD' || mine.some((p) => p.length === 1)) return [f];
    return [
      {
        ...f,
        fields: prune(
          f.fields ?? [],
          mine.map((p) => p.slice(1)),
          `${prefix}${f.name}.`,
        ),
      },
    ];
  });
}

/** BigQuery's row encoding: `{f: [{v: ...}]}`, arrays of `{v}`, nested records as `{f: [...]}`. */
export function toFv(fields: readonly FieldSchema[], row: Json, int64Timestamps: boolean): Json {
  return { f: fields.map((f) => ({ v: cell(f, row[f.name], int64Timestamps) })) };
}

function cell(field: FieldSchema, value: unknown, int64: boolean): unknown {
  if (isRepeated(field)) {
    const element = { ...field, mode: 'NULLABLE' as const };
    return ((value ?? []) as unknown[]).map((v) => ({ v: cell(element, v, int64) }));
  }
  if (value === null || value === undefined) return null;
  if (field.type === 'RECORD') return toFv(field.fields ?? [], value as Json, int64);
  if (field.type === 'TIMESTAMP' && !int64) return secondsText(value as string);
  return value;
}

/** Epoch microseconds as BigQuery's floating seconds text ("1.5778368E9"). */
function secondsText(micros: string): string {
  const seconds = Number(BigInt(micros)) / 1e6;
  if (seconds === 0) return '0.0';
  const [mantissa, exponent] = seconds.toExponential().split('e');
  return `${mantissa!.includes('.') ? mantissa : `${mantissa}.0`}E${Number(exponent)}`;
}
