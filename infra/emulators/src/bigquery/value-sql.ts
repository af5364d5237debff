// SQL generators that walk a BigQuery schema and rewrite every leaf value, keeping STRUCTs and ARRAYs:
// the one mechanism behind export encodings, load parsing and API row output, all run inside DuckDB.
import { duckScalarType, duckType, isRepeated, quoteIdent, quoteString, type FieldSchema } from './schema.js';

/** Rewrites one non-repeated, non-RECORD value `expr` of `field`. */
export type LeafSql = (field: FieldSchema, expr: string) => string;

const elementOf = (field: FieldSchema): FieldSchema => ({ ...field, mode: 'NULLABLE' });

export const structField = (expr: string, name: string): string =>
  `struct_extract(${expr}, ${quoteString(name)})`;

/** `expr` (a value of `field`) with every leaf rewritten by `leaf`. */
export function mapValueSql(field: FieldSchema, expr: string, leaf: LeafSql, depth = 0): string {
  if (isRepeated(field)) {
    const x = `__e${depth}`;
    return `list_transform(${expr}, lambda ${x}: ${mapValueSql(elementOf(field), x, leaf, depth + 1)})`;
  }
  if (field.type === 'RECORD') {
    const parts = (field.fields ?? []).map(
      (f) => `${quoteIdent(f.name)} := ${mapValueSql(f, structField(expr, f.name), leaf, depth + 1)}`,
    );
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  return leaf(field, expr);
}

/** A SELECT list mapping each top-level column (read from `source(name)`) through `leaf`. */
export function selectListSql(
  fields: readonly FieldSchema[],
  leaf: LeafSql,
  source: (name: string) => string = quoteIdent,
): string {
  if (fields.length === 0) return '';
  return fields.map((f) => `${mapValueSql(f, source(f.name), leaf)} AS ${quoteIdent(f.name)}`).join(', ');
}

/**
 * True when any leaf of `expr` is "bad" per `leafBad` (e.g. text that does not parse), or a REQUIRED
 * value is missing. NULL records are fine even when they hold REQUIRED fields, as in BigQuery.
 */
export function badValueSql(
  field: FieldSchema,
  expr: string,
  leafBad: LeafSql,
  depth = 0,
  checkRequired = true,
): string {
  const required = checkRequired && field.mode === 'REQUIRED' ? `${expr} IS NULL OR ` : '';
  if (isRepeated(field)) {
    const x = `__b${depth}`;
    const inner = badValueSql(elementOf(field), x, leafBad, depth + 1, false);
    return `coalesce(list_bool_or(list_transform(${expr}, lambda ${x}: ${inner})), false)`;
  }
  if (field.type === 'RECORD') {
    const subs = (field.fields ?? []).map(
      (f) => `(${badValueSql(f, structField(expr, f.name), leafBad, depth + 1)})`,
    );
    return `${required}(${expr} IS NOT NULL AND (${subs.join(' OR ')}))`;
  }
  return `${required}coalesce(${leafBad(field, expr)}, false)`;
}

// ---- The canonical text form: how rows travel between DuckDB and JavaScript ----
// STRUCTs are objects, ARRAYs arrays, every scalar a string: INTEGER "12", FLOAT "1.5"/"NaN"/"Infinity",
// NUMERIC "1.5" (no trailing zeros), BOOLEAN "true", BYTES base64, TIMESTAMP "2020-01-01 00:00:00.5+00",
// DATE "2020-01-01", TIME "12:00:00.500000", DATETIME "2020-01-01T12:00:00.500000", JSON its text.

const trimDecimal = (text: string): string => `regexp_replace(${text}, '\\.?0+$', '')`;

/** Fraction digits as BigQuery prints them: none when zero, else all six. */
const withMicros = (formatted: string): string => `regexp_replace(${formatted}, '\\.000000$', '')`;

export const toTextLeaf: LeafSql = (field, expr) => {
  switch (field.type) {
    case 'FLOAT':
      return `CASE WHEN isnan(${expr}) THEN 'NaN' WHEN ${expr} = 'Infinity'::DOUBLE THEN 'Infinity' WHEN ${expr} = '-Infinity'::DOUBLE THEN '-Infinity' ELSE CAST(${expr} AS VARCHAR) END`;
    case 'NUMERIC':
      // Only trims when there is a decimal point, so 100 stays 100.
      return `CASE WHEN ${expr} IS NULL THEN NULL WHEN CAST(${expr} AS VARCHAR) LIKE '%.%' THEN ${trimDecimal(`CAST(${expr} AS VARCHAR)`)} ELSE CAST(${expr} AS VARCHAR) END`;
    case 'BYTES':
      return `to_base64(${expr})`;
    case 'TIME':
      return withMicros(`strftime(DATE '1970-01-01' + ${expr}, '%H:%M:%S.%f')`);
    case 'DATETIME':
      return withMicros(`strftime(${expr}, '%Y-%m-%dT%H:%M:%S.%f')`);
    default:
      return `CAST(${expr} AS VARCHAR)`;
  }
};

const NUMBER_TEXT = `'^\\s*[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?\\s*$'`;
const INTEGER_TEXT = `'^\\s*[+-]?\\d+\\s*$'`;

/** Parses the canonical text form (and the forms BigQuery accepts in CSV/JSON loads) to the stored type; NULL when it does not parse. */
export const fromTextLeaf: LeafSql = (field, expr) => {
  switch (field.type) {
    case 'STRING':
      return expr;
    case 'GEOGRAPHY':
      // BigQuery keeps WKT in its own canonical spelling: no space before a parenthesis ("POINT(1 2)").
      return `regexp_replace(trim(${expr}), '([A-Za-z]) +\\(', '\\1(', 'g')`;
    case 'JSON':
      return `CASE WHEN json_valid(${expr}) THEN CAST(${expr} AS JSON) END`;
    case 'INTEGER':
      return `CASE WHEN regexp_matches(${expr}, ${INTEGER_TEXT}) THEN TRY_CAST(trim(${expr}) AS BIGINT) END`;
    case 'FLOAT':
      return `TRY_CAST(trim(${expr}) AS DOUBLE)`;
    case 'NUMERIC':
      return `CASE WHEN regexp_matches(${expr}, ${NUMBER_TEXT}) THEN TRY_CAST(trim(${expr}) AS DECIMAL(38,9)) END`;
    case 'BIGNUMERIC':
      return normalizeBigNumeric(expr);
    case 'BOOLEAN':
      return `CASE lower(trim(${expr})) WHEN 'true' THEN true WHEN 't' THEN true WHEN '1' THEN true WHEN 'yes' THEN true WHEN 'y' THEN true WHEN 'false' THEN false WHEN 'f' THEN false WHEN '0' THEN false WHEN 'no' THEN false WHEN 'n' THEN false END`;
    case 'BYTES':
      return `try(from_base64(${expr}))`;
    case 'TIMESTAMP':
      // A bare number is seconds since the epoch, as BigQuery reads it in JSON and CSV.
      return `CASE WHEN regexp_matches(${expr}, ${NUMBER_TEXT}) THEN try(make_timestamptz(CAST(round(CAST(trim(${expr}) AS DOUBLE) * 1000000) AS BIGINT))) ELSE TRY_CAST(regexp_replace(trim(${expr}), '\\s*UTC$', '+00') AS TIMESTAMPTZ) END`;
    case 'DATE':
      return `TRY_CAST(trim(${expr}) AS DATE)`;
    case 'TIME':
      return `TRY_CAST(trim(${expr}) AS TIME)`;
    case 'DATETIME':
      return `TRY_CAST(trim(${expr}) AS TIMESTAMP)`;
    case 'RECORD':
      throw new Error('RECORD is not a leaf');
  }
};

/** Canonical text of a BIGNUMERIC: no '+', no leading zeros, no trailing fraction zeros; NULL if not a number. */
function normalizeBigNumeric(expr: string): string {
  const t = `trim(${expr})`;
  const noPlus = `regexp_replace(${t}, '^\\+', '')`;
  const noLeadingZeros = `regexp_replace(${noPlus}, '^(-?)0+(\\d)', '\\1\\2')`;
  const noTrailing = `CASE WHEN ${noLeadingZeros} LIKE '%.%' THEN ${trimDecimal(noLeadingZeros)} ELSE ${noLeadingZeros} END`;
  return `CASE WHEN regexp_matches(${t}, '^[+-]?(\\d+\\.?\\d*|\\.\\d+)$') AND length(regexp_replace(${t}, '[^0-9]', '', 'g')) <= 77 THEN regexp_replace(regexp_replace(${noTrailing}, '^(-?)\\.', '\\10.'), '^-0$', '0') END`;
}

/** Bad when text is present but does not parse. */
export const badTextLeaf: LeafSql = (field, expr) =>
  `(${expr} IS NOT NULL AND ${fromTextLeaf(field, expr)} IS NULL)`;

/**
 * Parses a text-typed value into the stored type; NULL arrays become empty arrays at every depth, as
 * BigQuery never stores a NULL array.
 */
export function fromTextSql(field: FieldSchema, expr: string, storedType: string, depth = 0): string {
  if (isRepeated(field)) {
    const x = `__p${depth}`;
    const element = elementOf(field);
    const inner = fromTextSql(element, x, duckScalarType(element), depth + 1);
    return `coalesce(list_transform(${expr}, lambda ${x}: ${inner}), CAST([] AS ${storedType}))`;
  }
  if (field.type === 'RECORD') {
    const parts = (field.fields ?? []).map(
      (f) => `${quoteIdent(f.name)} := ${fromTextSql(f, structField(expr, f.name), duckType(f), depth + 1)}`,
    );
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  return fromTextLeaf(field, expr);
}

/** The REST API's row form (tabledata.list, query results): the text form, but TIMESTAMP as epoch microseconds. */
export const toApiLeaf: LeafSql = (field, expr) =>
  field.type === 'TIMESTAMP' ? `CAST(epoch_us(${expr}) AS VARCHAR)` : toTextLeaf(field, expr);

/**
 * A DuckDB `from_json` structure for text rows of this schema: every leaf VARCHAR (JSON keeps its raw text),
 * RECORDs objects, REPEATED lists.
 */
export function jsonStructure(fields: readonly FieldSchema[]): Record<string, unknown> {
  const one = (f: FieldSchema): unknown => {
    const scalar =
      f.type === 'RECORD' ? jsonStructure(f.fields ?? []) : f.type === 'JSON' ? 'JSON' : 'VARCHAR';
    return isRepeated(f) ? [scalar] : scalar;
  };
  return Object.fromEntries(fields.map((f) => [f.name, one(f)]));
}
