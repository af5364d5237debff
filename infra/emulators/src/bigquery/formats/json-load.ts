// Newline-delimited JSON load files (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-json):
// each line is read as a JSON object, its values taken as text leaves (JSON fields keep their JSON text), then
// parsed to the stored types in SQL. Lines that do not fit the schema are bad records.
import { invalid } from '../api-error.js';
import {
  duckType,
  isRepeated,
  quoteIdent,
  quoteString,
  STANDARD_SQL_NAME,
  type FieldSchema,
} from '../schema.js';
import { badTextLeaf, badValueSql, fromTextLeaf, jsonStructure, structField } from '../value-sql.js';
import { autodetectJsonSchema } from './autodetect.js';
import {
  asReadError,
  createEmptyTable,
  finishStagedLoad,
  prepareFiles,
  sqlFileList,
  STAGE_BAD,
  STAGE_FILE,
  type BadRow,
} from './load-common.js';
import type { FileReader, LoadOptions } from './types.js';

const VALUE = '__bqbr_value';

const jsonType = (expr: string): string => `coalesce(json_type(${expr}), 'NULL')`;
const member = (expr: string, name: string): string =>
  `json_extract(${expr}, ${quoteString(`$."${name.replaceAll('"', '\\"')}"`)})`;

/**
 * SQL: true when JSON value `expr` does not have the shape of `fields` — a record that is not an object, a
 * repeated field that is not an array, an object or array where a string goes, or (unless ignored) a key
 * that is no field. Scalars of other types fail parsing anyway.
 */
function recordShapeBad(
  fields: readonly FieldSchema[],
  expr: string,
  checkUnknown: boolean,
  depth: number,
): string {
  const parts: string[] = [];
  if (checkUnknown) {
    const names = fields.map((f) => quoteString(f.name)).join(', ');
    parts.push(`len(list_filter(json_keys(${expr}), lambda __k${depth}: __k${depth} NOT IN (${names}))) > 0`);
  }
  for (const f of fields) {
    const bad = fieldShapeBad(f, member(expr, f.name), checkUnknown, depth + 1);
    if (bad !== undefined) parts.push(bad);
  }
  return parts.length === 0 ? 'false' : parts.map((p) => `(${p})`).join(' OR ');
}

function fieldShapeBad(
  field: FieldSchema,
  expr: string,
  checkUnknown: boolean,
  depth: number,
): string | undefined {
  if (isRepeated(field)) {
    const x = `__s${depth}`;
    const element = valueShapeBad({ ...field, mode: 'NULLABLE' }, x, checkUnknown, depth + 1);
    const elements =
      element === undefined
        ? ''
        : ` OR coalesce(list_bool_or(list_transform(from_json(${expr}, '["JSON"]'), lambda ${x}: ${element})), false)`;
    return `${jsonType(expr)} NOT IN ('ARRAY', 'NULL')${elements}`;
  }
  return valueShapeBad(field, expr, checkUnknown, depth);
}

function valueShapeBad(
  field: FieldSchema,
  expr: string,
  checkUnknown: boolean,
  depth: number,
): string | undefined {
  if (field.type === 'RECORD')
    return `${jsonType(expr)} NOT IN ('OBJECT', 'NULL') OR (${jsonType(expr)} = 'OBJECT' AND (${recordShapeBad(field.fields ?? [], expr, checkUnknown, depth)}))`;
  if (field.type === 'STRING' || field.type === 'GEOGRAPHY')
    return `${jsonType(expr)} IN ('OBJECT', 'ARRAY')`;
  return undefined;
}

/** Names of NUMERIC and BIGNUMERIC fields at any depth. */
function decimalNames(fields: readonly FieldSchema[]): string[] {
  return fields.flatMap((f) =>
    f.type === 'RECORD'
      ? decimalNames(f.fields ?? [])
      : f.type === 'NUMERIC' || f.type === 'BIGNUMERIC'
        ? [f.name]
        : [],
  );
}

/**
 * DuckDB reads JSON numbers as doubles, so `"n": 0.1234567890123456789` would lose digits a NUMERIC keeps:
 * such numbers are quoted in the line's text before it is parsed.
 */
function keepDecimalDigits(line: string, fields: readonly FieldSchema[]): string {
  const names = [...new Set(decimalNames(fields))];
  if (names.length === 0) return line;
  const pattern = `([{,]\\s*"(?:${names.join('|')})"\\s*:\\s*)(-?[0-9][0-9.eE+-]*)`;
  return `regexp_replace(${line}, ${quoteString(pattern)}, '\\1"\\2"', 'g')`;
}

export const readJsonFiles: FileReader = async (source, options) => {
  const { connection } = source;
  const files = await prepareFiles(source);
  let fields: FieldSchema[];
  if (options.schema !== undefined && options.schema.length > 0) fields = [...options.schema];
  else if (options.autodetect) fields = await autodetectJsonSchema(connection, files);
  else throw invalid('No schema specified on job or table.');
  if (files.length === 0 || fields.length === 0) {
    await createEmptyTable(connection, source.table, fields, duckType);
    return { table: source.table, fields, rows: 0, badRecords: 0, errors: [] };
  }

  const stage = `${source.table}__stage`;
  const line = keepDecimalDigits('json', fields);
  const structure = quoteString(JSON.stringify(jsonStructure(fields)));
  const checkUnknown = !options.ignoreUnknownValues;
  const value = (f: FieldSchema): string => structField(VALUE, f.name);
  const parsed = (i: number): string => `p${i}`;
  // Top-level scalars are checked against their parsed value (parsed once); nested ones leaf by leaf.
  const fieldBad = (f: FieldSchema, i: number): string => {
    if (f.type === 'RECORD' || isRepeated(f)) return `(${badValueSql(f, value(f), badTextLeaf)})`;
    return f.mode === 'REQUIRED'
      ? `${parsed(i)} IS NULL`
      : `(${value(f)} IS NOT NULL AND ${parsed(i)} IS NULL)`;
  };
  const problems = [
    `${VALUE} IS NULL`,
    `json_type(__bqbr_line) <> 'OBJECT'`,
    `(${recordShapeBad(fields, '__bqbr_line', checkUnknown, 0)})`,
    ...fields.map(fieldBad),
  ];
  try {
    // The text values are kept for bad rows only, to describe them.
    await connection.run(
      `CREATE TEMP TABLE ${quoteIdent(stage)} AS
       SELECT ${fields.map((_, i) => parsed(i)).join(', ')}, ${STAGE_FILE}, ${STAGE_BAD}, CASE WHEN ${STAGE_BAD} THEN ${VALUE} END AS ${VALUE}
       FROM (SELECT *, coalesce(${problems.join(' OR ')}, true) AS ${STAGE_BAD}
             FROM (SELECT *, ${fields.map((f, i) => `${parseValueSql(f, value(f), 0)} AS ${parsed(i)}`).join(', ')}
                   FROM (SELECT CAST(__bqbr_line AS JSON) AS __bqbr_line, from_json(__bqbr_line, ${structure}) AS ${VALUE}, ${STAGE_FILE}
                         FROM (SELECT ${line} AS __bqbr_line, filename AS ${STAGE_FILE}
                               FROM read_json_objects(${sqlFileList(files)}, format='newline_delimited', ignore_errors=true, compression='uncompressed', filename=true)))))`,
    );
  } catch (err) {
    throw asReadError(err);
  }

  const diagnostics = fields.map(
    (f, i) => `(${badValueSql(f, value(f), badTextLeaf)}) AS ${quoteIdent(`__bqbr_bad_${i}`)}`,
  );
  return finishStagedLoad({
    connection,
    stage,
    table: source.table,
    fields,
    files,
    kind: 'JSON',
    maxBadRecords: options.maxBadRecords,
    parseSql: fields.map((f, i) => `${parsed(i)} AS ${quoteIdent(f.name)}`).join(', '),
    diagnosticsSql: diagnostics.join(', '),
    locate: locateJsonRow,
    explain: (bad) => explainJsonRow(bad, fields, options),
  });
};

/**
 * Text value → stored type, like fromTextSql, but REPEATED fields at any depth read NULL as an empty
 * array (fromTextSql only does so at the top level), since BigQuery never stores a NULL array.
 */
function parseValueSql(field: FieldSchema, expr: string, depth: number): string {
  if (isRepeated(field)) {
    const x = `__v${depth}`;
    const element = parseValueSql({ ...field, mode: 'NULLABLE' }, x, depth + 1);
    return `coalesce(list_transform(${expr}, lambda ${x}: ${element}), CAST([] AS ${duckType(field)}))`;
  }
  if (field.type === 'RECORD') {
    const parts = (field.fields ?? []).map(
      (f) => `${quoteIdent(f.name)} := ${parseValueSql(f, structField(expr, f.name), depth + 1)}`,
    );
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  return fromTextLeaf(field, expr);
}

/** Byte offset and text of data line `index` (blank lines are not rows). */
export function locateJsonRow(text: Buffer, index: number): { position: number; text: string } | undefined {
  let pos = 0;
  let row = 0;
  while (pos < text.length) {
    const nl = text.indexOf(0x0a, pos);
    const end = nl < 0 ? text.length : nl;
    const line = text.subarray(pos, end).toString('utf8');
    if (line.trim() !== '') {
      if (row === index) return { position: pos, text: line.replace(/\r$/, '') };
      row++;
    }
    pos = end + 1;
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The first structural problem of a parsed JSON value against `fields`, as BigQuery words it. */
function structuralProblem(
  value: Record<string, unknown>,
  fields: readonly FieldSchema[],
  options: LoadOptions,
  prefix: string,
): string | undefined {
  if (!options.ignoreUnknownValues) {
    const unknown = Object.keys(value).find((k) => !fields.some((f) => f.name === k));
    if (unknown !== undefined) return `No such field: ${prefix}${unknown}.`;
  }
  for (const f of fields) {
    const path = `${prefix}${f.name}`;
    const v = value[f.name];
    if (v === undefined || v === null) {
      if (f.mode === 'REQUIRED')
        return v === null
          ? `Only optional fields can be set to NULL. Field: ${path}; Value: NULL`
          : `Missing required field: ${path}.`;
      continue;
    }
    const elements = isRepeated(f) ? v : [v];
    if (isRepeated(f) && !Array.isArray(v))
      return `Repeated field must be imported as a JSON array. Field: ${path}.`;
    if (!isRepeated(f) && Array.isArray(v)) return `Array specified for non-repeated field: ${path}.`;
    for (const e of elements as unknown[]) {
      if (f.type === 'RECORD') {
        if (e === null) continue;
        if (!isObject(e)) return `Expected object for record field: ${path}.`;
        const inner = structuralProblem(e, f.fields ?? [], options, `${path}.`);
        if (inner !== undefined) return inner;
      } else if (f.type !== 'JSON' && isObject(e)) {
        return `JSON object specified for non-record field: ${path}`;
      }
    }
  }
  return undefined;
}

/** BigQuery's message for one bad JSON line. */
function explainJsonRow(bad: BadRow, fields: readonly FieldSchema[], options: LoadOptions): string {
  const at = `JSON parsing error in row starting at position ${bad.position}: `;
  let parsed: unknown;
  try {
    parsed = JSON.parse(bad.text);
  } catch (err) {
    return `${at}${(err as Error).message}`;
  }
  if (!isObject(parsed)) return `${at}Top-level JSON value is not an object.`;
  const problem = structuralProblem(parsed, fields, options, '');
  if (problem !== undefined) return `${at}${problem}`;
  for (const [i, f] of fields.entries()) {
    if (bad.row[`__bqbr_bad_${i}`] !== true) continue;
    const v = parsed[f.name];
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    return `${at}Could not convert value '${typeof v === 'string' ? `string_value: "${v}"` : text}' to ${STANDARD_SQL_NAME[f.type]}. Field: ${f.name}; Value: ${text}`;
  }
  return `${at}Could not parse the row.`;
}
