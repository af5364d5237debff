// How extract jobs encode each BigQuery value in CSV, JSON and Parquet files, as DuckDB SQL, plus the COPY
// step the three writers share. Formats follow https://cloud.google.com/bigquery/docs/exporting-data.
import { stat } from 'node:fs/promises';
import { invalid } from '../api-error.js';
import { isRepeated, quoteString, type FieldSchema } from '../schema.js';
import { structField, toTextLeaf, type LeafSql } from '../value-sql.js';
import { writeCsvFile } from './csv-export.js';
import { writeJsonFile } from './json-export.js';
import { writeParquetFile } from './parquet-export.js';
import type { Compression, ExportSource, FileFormat, FileWriter, RowRange, WrittenFile } from './types.js';

const elementOf = (field: FieldSchema): FieldSchema => ({ ...field, mode: 'NULLABLE' });

/** FLOAT as BigQuery prints it: shortest round-trip digits, integral values without ".0", NaN/Infinity spelled out. */
export const floatTextSql = (expr: string): string =>
  `CASE WHEN isnan(${expr}) THEN 'NaN' WHEN ${expr} = 'Infinity'::DOUBLE THEN 'Infinity' WHEN ${expr} = '-Infinity'::DOUBLE THEN '-Infinity' ELSE regexp_replace(CAST(${expr} AS VARCHAR), '\\.0$', '') END`;

/**
 * TIMESTAMP as extract jobs write it: "2020-01-01 12:00:00 UTC", "2020-01-01 12:00:00.1 UTC" (fraction
 * without trailing zeros), as seen in BigQuery exports (googleapis/google-cloud-php#3422, embulk-parser-jsonl#7).
 */
export const timestampTextSql = (expr: string): string =>
  `regexp_replace(strftime(timezone('UTC', ${expr}), '%Y-%m-%d %H:%M:%S.%f'), '\\.?0+$', '') || ' UTC'`;

/** A JSON-typed value as compact JSON text. */
const jsonTextSql = (expr: string): string => `CAST(json(${expr}) AS VARCHAR)`;

/** The text of one value in a CSV export (also the string form used inside JSON exports). */
export const csvLeaf: LeafSql = (field, expr) => {
  switch (field.type) {
    case 'FLOAT':
      return floatTextSql(expr);
    case 'TIMESTAMP':
      return timestampTextSql(expr);
    case 'JSON':
      return jsonTextSql(expr);
    case 'TIME':
      // value-sql's toTextLeaf adds a TIME to a TIMESTAMP, which DuckDB rejects; a DATE works.
      return `regexp_replace(strftime(DATE '1970-01-01' + ${expr}, '%H:%M:%S.%f'), '\\.000000$', '')`;
    default:
      return toTextLeaf(field, expr);
  }
};

/**
 * The JSON text of one non-NULL value in a NEWLINE_DELIMITED_JSON export: INTEGER (and NUMERIC/BIGNUMERIC)
 * as strings to keep their precision, FLOAT and BOOLEAN bare, non-finite FLOATs as "NaN"/"Infinity"
 * strings (JSON has no such numbers), JSON columns embedded as JSON, everything else a string.
 */
export const jsonLeaf: LeafSql = (field, expr) => {
  switch (field.type) {
    case 'BOOLEAN':
      return `CASE WHEN ${expr} THEN 'true' ELSE 'false' END`;
    case 'FLOAT':
      return `CASE WHEN isnan(${expr}) OR isinf(${expr}) THEN '"' || ${floatTextSql(expr)} || '"' ELSE ${floatTextSql(expr)} END`;
    case 'JSON':
      return jsonTextSql(expr);
    default:
      return `CAST(to_json(${csvLeaf(field, expr)}) AS VARCHAR)`;
  }
};

/**
 * A value in the DuckDB type whose Parquet encoding matches BigQuery's "Parquet export details" table.
 * DATE, DATETIME (TIMESTAMP isAdjustedToUTC=false), NUMERIC (DECIMAL(38,9)), INTEGER, FLOAT (DOUBLE),
 * BOOLEAN, STRING, BYTES and JSON are written as stored.
 */
export const parquetLeaf: LeafSql = (field, expr) => {
  switch (field.type) {
    case 'TIMESTAMP':
      // The table lists TIMESTAMP as TIMESTAMP(isAdjustedToUTC = false, MICROS): UTC wall-clock time.
      return `timezone('UTC', ${expr})`;
    case 'TIME':
      // TIME(isAdjustedToUTC = true, MICROS): DuckDB writes TIMETZ that way; the offset is always +00.
      return `CAST(${expr} AS TIMETZ)`;
    case 'GEOGRAPHY':
      // WKB with a GEOMETRY logical type and GeoParquet metadata: DuckDB cannot write GEOGRAPHY(spherical).
      return `try(CAST(${expr} AS GEOMETRY))`;
    default:
      // BIGNUMERIC stays text: DuckDB's DECIMAL stops at 38 digits, BigQuery writes DECIMAL(76,38).
      return expr;
  }
};

/**
 * One row as a JSON object, NULL members left out as BigQuery's JSON exports do; RECORDs nest as objects,
 * REPEATED fields as arrays. `source(name)` reads a member's value.
 */
export function jsonObjectSql(
  fields: readonly FieldSchema[],
  source: (name: string) => string,
  depth = 0,
): string {
  if (fields.length === 0) return `'{}'`;
  const members = fields.map((f) => {
    const value = source(f.name);
    const key = quoteString(`${JSON.stringify(f.name)}:`);
    return `CASE WHEN ${value} IS NOT NULL THEN ${key} || ${jsonValueSql(f, value, depth)} END`;
  });
  return `'{' || concat_ws(',', ${members.join(', ')}) || '}'`;
}

function jsonValueSql(field: FieldSchema, expr: string, depth: number): string {
  if (isRepeated(field)) {
    const x = `__j${depth}`;
    const element = jsonValueSql(elementOf(field), x, depth + 1);
    return `'[' || array_to_string(list_transform(${expr}, lambda ${x}: ${element}), ',') || ']'`;
  }
  if (field.type === 'RECORD')
    return jsonObjectSql(field.fields ?? [], (name) => structField(expr, name), depth + 1);
  return jsonLeaf(field, expr);
}

const COMPRESSIONS: Record<Exclude<FileFormat, 'AVRO'>, Partial<Record<Compression, string>>> = {
  CSV: { NONE: 'none', GZIP: 'gzip' },
  NEWLINE_DELIMITED_JSON: { NONE: 'none', GZIP: 'gzip' },
  PARQUET: { NONE: 'uncompressed', SNAPPY: 'snappy', GZIP: 'gzip', ZSTD: 'zstd' },
};

/** DuckDB's COPY name for an export's compression; BigQuery's matrix: CSV/JSON take GZIP, Parquet SNAPPY/GZIP/ZSTD. */
export function duckCompression(format: Exclude<FileFormat, 'AVRO'>, compression: Compression): string {
  const name = COMPRESSIONS[format][compression];
  if (name === undefined) throw invalid(`Unsupported compression type ${compression} for ${format} exports.`);
  return name;
}

/** The WHERE/ORDER BY tail that picks one shard of the source table. */
export function rangeSql(source: ExportSource, range: RowRange): string {
  const start = Math.max(0, Math.trunc(range.offset));
  const end = start + Math.max(0, Math.trunc(range.limit));
  return `FROM ${source.table} WHERE rowid >= ${start} AND rowid < ${end}`;
}

/** Runs `COPY (query) TO path (options)` and reports the file; `extraRows` are lines that are not table rows (a header). */
export async function copyToFile(
  source: ExportSource,
  query: string,
  path: string,
  copyOptions: string,
  extraRows = 0,
): Promise<WrittenFile> {
  const reader = await source.connection.runAndReadAll(
    `COPY (${query}) TO ${quoteString(path)} (${copyOptions})`,
  );
  const copied = Number(reader.getRowsJson()[0]?.[0] ?? 0);
  const { size } = await stat(path);
  return { path, rows: copied - extraRows, bytes: size };
}

/**
 * COPY options that write each row's single VARCHAR column verbatim as one line: no quoting, no escaping,
 * and a delimiter that is never written because there is only one column.
 */
export const rawLinesOptions = (compression: string): string =>
  `FORMAT csv, HEADER false, QUOTE '', ESCAPE '', DELIMITER '\x01', NULLSTR '', COMPRESSION ${quoteString(compression)}`;

/** The writer of one export file in CSV, NEWLINE_DELIMITED_JSON or PARQUET (AVRO has its own module). */
export function exportWriterFor(format: FileFormat): FileWriter {
  switch (format) {
    case 'CSV':
      return writeCsvFile;
    case 'NEWLINE_DELIMITED_JSON':
      return writeJsonFile;
    case 'PARQUET':
      return writeParquetFile;
    case 'AVRO':
      throw new Error('AVRO exports are written by formats/avro.ts');
  }
}
