// tabledata.insertAll: streaming inserts with insertId de-duplication, skipInvalidRows,
// ignoreUnknownValues and per-row errors in BigQuery's shape.
import { invalid, type ErrorProto } from './api-error.js';
import { parseDecorators } from './catalog.js';
import type { Request } from './http.js';
import { readJson, sendJson } from './http.js';
import type { EmulatorContext } from './jobs.js';
import type { Json, TableRef } from './resources.js';
import { isRepeated, quoteString, type FieldSchema } from './schema.js';
import { badTextLeaf, badValueSql, fromTextSql, jsonStructure, structField } from './value-sql.js';
import { duckType } from './schema.js';

interface RowError extends ErrorProto {
  debugInfo: string;
  location: string;
}

/** How many recent insertIds per table are remembered (BigQuery de-duplicates best-effort for about a minute). */
const REMEMBERED_INSERT_IDS = 100_000;
const recentInsertIds = new Map<string, Set<string>>();

export async function insertAll(ctx: EmulatorContext, r: Request, ref: TableRef): Promise<void> {
  const body = await readJson(r.req);
  const decorated = parseDecorators(ref.tableId, Date.now());
  const entry = ctx.catalog.getTable({ ...ref, tableId: decorated.tableId });
  if (!entry.physical || entry.type === 'SNAPSHOT')
    throw invalid(`Cannot insert rows into ${entry.type} ${ref.projectId}:${ref.datasetId}.${ref.tableId}.`);
  const rows = body['rows'];
  if (!Array.isArray(rows) || rows.length === 0) throw invalid('No rows present in the request.');
  const skipInvalid = body['skipInvalidRows'] === true;
  const ignoreUnknown = body['ignoreUnknownValues'] === true;

  const errors = new Map<number, RowError[]>();
  const good: { index: number; json: Json; insertId?: string }[] = [];
  const inRequest = new Set<string>();
  const key = `${entry.physical}`;
  const seen = recentInsertIds.get(key) ?? new Set<string>();
  rows.forEach((raw, index) => {
    const row = raw as Json;
    const json = row['json'];
    if (typeof json !== 'object' || json === null || Array.isArray(json)) {
      errors.set(index, [rowError('invalid', '', 'Row is not a JSON object.')]);
      return;
    }
    const insertId = typeof row['insertId'] === 'string' ? row['insertId'] : undefined;
    const rowErrors: RowError[] = [];
    const text = textRecord(entry.fields, json as Json, '', ignoreUnknown, rowErrors);
    if (rowErrors.length > 0) {
      errors.set(index, rowErrors);
      return;
    }
    if (insertId !== undefined && (seen.has(insertId) || inRequest.has(insertId))) return;
    if (insertId !== undefined) inRequest.add(insertId);
    good.push({ index, json: { ...text, __i: index }, ...(insertId !== undefined ? { insertId } : {}) });
  });

  // Values that are well-formed JSON but do not parse as their type (a bad date...) are found in SQL.
  if (good.length > 0) {
    const structure = { ...jsonStructure(entry.fields), __i: 'BIGINT' };
    const source = `(SELECT unnest(from_json(${quoteString(JSON.stringify(good.map((g) => g.json)))}, ${quoteString(JSON.stringify([structure]))})) AS __r)`;
    const checks = entry.fields.map(
      (f) =>
        `CASE WHEN ${badValueSql(f, structField('__r', f.name), badTextLeaf)} THEN ${quoteString(f.name)} END`,
    );
    if (checks.length > 0) {
      const bad = await ctx.engine.all(
        `SELECT struct_extract(__r, '__i') AS i, coalesce(${checks.join(', ')}) AS field FROM ${source} WHERE coalesce(${checks.join(', ')}) IS NOT NULL`,
      );
      for (const b of bad) {
        const field = String(b['field']);
        errors.set(Number(b['i']), [
          rowError(
            'invalid',
            field,
            `Invalid value for field ${field}: it does not parse as ${entry.fields.find((f) => f.name === field)?.type}.`,
          ),
        ]);
      }
    }
    const accepted = good.filter((g) => !errors.has(g.index));
    if (accepted.length > 0 && (errors.size === 0 || skipInvalid)) {
      const keep = accepted.map((g) => g.index).join(', ');
      const select = entry.fields
        .map((f) => fromTextSql(f, structField('__r', f.name), duckType(f)))
        .join(', ');
      await ctx.catalog.commit(
        entry,
        `SELECT ${select || '1'} FROM ${source} WHERE struct_extract(__r, '__i') IN (${keep}) ORDER BY struct_extract(__r, '__i')`,
        { truncate: false, ...(decorated.partition !== undefined ? { partition: decorated.partition } : {}) },
      );
      // Only rows actually written count for de-duplication: a rejected request may be sent again.
      for (const g of accepted) if (g.insertId !== undefined) seen.add(g.insertId);
    }
  }
  if (seen.size > REMEMBERED_INSERT_IDS) seen.clear();
  recentInsertIds.set(key, seen);

  const insertErrors: { index: number; errors: RowError[] }[] = [];
  if (errors.size > 0) {
    for (let index = 0; index < rows.length; index++) {
      const own = errors.get(index);
      if (own) insertErrors.push({ index, errors: own });
      // Without skipInvalidRows, one bad row stops the whole request; the others say so.
      else if (!skipInvalid) insertErrors.push({ index, errors: [rowError('stopped', '', '')] });
    }
  }
  sendJson(r.res, 200, {
    kind: 'bigquery#tableDataInsertAllResponse',
    ...(insertErrors.length > 0 ? { insertErrors } : {}),
  });
}

const rowError = (reason: string, location: string, message: string): RowError => ({
  reason,
  location,
  debugInfo: '',
  message,
});

/** A JSON row to the text form (every scalar a string), collecting BigQuery-style errors. */
function textRecord(
  fields: readonly FieldSchema[],
  json: Json,
  prefix: string,
  ignoreUnknown: boolean,
  errors: RowError[],
): Json {
  const out: Json = {};
  const byName = new Map(fields.map((f) => [f.name.toLowerCase(), f]));
  for (const key of Object.keys(json)) {
    if (!byName.has(key.toLowerCase()) && !ignoreUnknown)
      errors.push(rowError('invalid', `${prefix}${key}`, `no such field: ${prefix}${key}.`));
  }
  for (const field of fields) {
    const key = Object.keys(json).find((k) => k.toLowerCase() === field.name.toLowerCase());
    const value = key === undefined ? undefined : json[key];
    const path = `${prefix}${field.name}`;
    if (isRepeated(field)) {
      if (value === undefined || value === null) {
        out[field.name] = [];
      } else if (!Array.isArray(value)) {
        errors.push(rowError('invalid', path, `Array specified for non-repeated field: ${path}.`));
      } else {
        const element = { ...field, mode: 'NULLABLE' as const };
        out[field.name] = value.map((v, i) => {
          if (v === null)
            errors.push(
              rowError(
                'invalid',
                path,
                `Only optional fields can be set to NULL. Field: ${path}; Value: NULL at index ${i}`,
              ),
            );
          return textValue(element, v, path, ignoreUnknown, errors);
        });
      }
      continue;
    }
    if (value === undefined || value === null) {
      if (field.mode === 'REQUIRED')
        errors.push(rowError('invalid', path, `Missing required field: ${path}.`));
      out[field.name] = null;
      continue;
    }
    out[field.name] = textValue(field, value, path, ignoreUnknown, errors);
  }
  return out;
}

function textValue(
  field: FieldSchema,
  value: unknown,
  path: string,
  ignoreUnknown: boolean,
  errors: RowError[],
): unknown {
  if (value === null) return null;
  if (field.type === 'RECORD') {
    if (typeof value !== 'object' || Array.isArray(value)) {
      errors.push(rowError('invalid', path, `This field: ${path} is not a record.`));
      return null;
    }
    return textRecord(field.fields ?? [], value as Json, `${path}.`, ignoreUnknown, errors);
  }
  if (field.type === 'JSON') {
    // JSON columns take a JSON value, or a string holding JSON text.
    if (typeof value !== 'string') return value;
    try {
      return JSON.parse(value) as unknown;
    } catch {
      errors.push(rowError('invalid', path, `Invalid JSON value for field ${path}: ${value}`));
      return null;
    }
  }
  if (typeof value === 'object') {
    errors.push(rowError('invalid', path, `This field: ${path} is not a record.`));
    return null;
  }
  return typeof value === 'string' ? value : JSON.stringify(value);
}
