// How a BigQuery table's rows are kept in DuckDB, with history for time travel.
// Every physical row carries the commit (epoch ms) that wrote it and the one that removed it:
// a read "as of T" sees rows with ins <= T < del. Nothing is rewritten in place.
import { invalid } from './api-error.js';
import { duckType, isRepeated, quoteIdent, quoteString, type FieldSchema } from './schema.js';
import { structField } from './value-sql.js';

export const INSERTED = '__bqbr_ins';
export const DELETED = '__bqbr_del';
/** Ingestion time of rows in tables partitioned by ingestion time (`_PARTITIONTIME`). */
export const PARTITION_TIME = '__bqbr_pt';

export interface TimePartitioning {
  type: 'DAY' | 'HOUR' | 'MONTH' | 'YEAR';
  field?: string;
  expirationMs?: string;
  requirePartitionFilter?: boolean;
}

export interface RangePartitioning {
  field: string;
  range: { start: string; end: string; interval: string };
}

export interface Partitioning {
  time?: TimePartitioning;
  range?: RangePartitioning;
}

export function createTableSql(physical: string, fields: readonly FieldSchema[]): string {
  const columns = fields.map((f) => `${quoteIdent(f.name)} ${duckType(f)}`);
  columns.push(`${INSERTED} BIGINT NOT NULL`, `${DELETED} BIGINT`, `${PARTITION_TIME} TIMESTAMPTZ`);
  return `CREATE TABLE ${quoteIdent(physical)} (${columns.join(', ')})`;
}

/** Rows visible at `at` (epoch ms), or now. */
export const visibleSql = (at?: number): string =>
  at === undefined
    ? `${DELETED} IS NULL`
    : `${INSERTED} <= ${at} AND (${DELETED} IS NULL OR ${DELETED} > ${at})`;

const PARTITION_FORMATS: Record<TimePartitioning['type'], string> = {
  HOUR: '%Y%m%d%H',
  DAY: '%Y%m%d',
  MONTH: '%Y%m',
  YEAR: '%Y',
};

/** SQL for each row's partition id (`20200101`, `__NULL__`, `__UNPARTITIONED__`), or undefined when unpartitioned. */
export function partitionIdSql(
  partitioning: Partitioning,
  fields: readonly FieldSchema[],
): string | undefined {
  if (partitioning.time) {
    const { field, type } = partitioning.time;
    const column = field === undefined ? PARTITION_TIME : quoteIdent(field);
    const typed =
      fields.find((f) => f.name === field)?.type === 'DATE' ? `CAST(${column} AS TIMESTAMP)` : column;
    return `CASE WHEN ${column} IS NULL THEN '__NULL__' ELSE strftime(${typed}, '${PARTITION_FORMATS[type]}') END`;
  }
  if (partitioning.range) {
    const { field, range } = partitioning.range;
    const col = quoteIdent(field);
    const [start, end, interval] = [range.start, range.end, range.interval].map((v) => BigInt(v));
    return `CASE WHEN ${col} IS NULL THEN '__NULL__' WHEN ${col} < ${start} OR ${col} >= ${end} THEN '__UNPARTITIONED__' ELSE CAST(${start} + ((${col} - ${start}) // ${interval}) * ${interval} AS VARCHAR) END`;
  }
  return undefined;
}

/** Checks a `$partition` decorator against the table's partitioning and returns it. */
export function checkPartitionDecorator(
  partitioning: Partitioning,
  decorator: string,
  table: string,
): string {
  if (!partitioning.time && !partitioning.range)
    throw invalid(
      `Cannot read partition information from a table that is not partitioned: ${table}$${decorator}`,
    );
  if (decorator === '__NULL__' || decorator === '__UNPARTITIONED__') return decorator;
  if (partitioning.time) {
    const digits = { HOUR: 10, DAY: 8, MONTH: 6, YEAR: 4 }[partitioning.time.type];
    if (!new RegExp(`^\\d{${digits}}$`).test(decorator))
      throw invalid(
        `Invalid partition decorator ${decorator} for table ${table} partitioned by ${partitioning.time.type}.`,
      );
  } else if (!/^-?\d+$/.test(decorator)) {
    throw invalid(`Invalid partition decorator ${decorator} for integer-range partitioned table ${table}.`);
  }
  return decorator;
}

/** Start of the partition a `$YYYYMMDD[HH]` decorator names, for ingestion-time partitions loaded through it. */
export function partitionStartSql(decorator: string): string | undefined {
  const m = /^(\d{4})(\d{2})?(\d{2})?(\d{2})?$/.exec(decorator);
  if (!m) return undefined;
  return `TIMESTAMPTZ '${m[1]}-${m[2] ?? '01'}-${m[3] ?? '01'} ${m[4] ?? '00'}:00:00+00'`;
}

/** A TIMESTAMPTZ truncated to the start of its partition. */
export function truncateTimeSql(expr: string, type: TimePartitioning['type']): string {
  const unit = { HOUR: 'hour', DAY: 'day', MONTH: 'month', YEAR: 'year' }[type];
  return `date_trunc('${unit}', ${expr})`;
}

/** Ingestion partition time of rows committed at `at` ms. */
export function ingestionTimeSql(at: number, type: TimePartitioning['type']): string {
  const unit = { HOUR: 'hour', DAY: 'day', MONTH: 'month', YEAR: 'year' }[type];
  return `date_trunc('${unit}', make_timestamptz(${at * 1000}::BIGINT))`;
}

/** BigQuery's logical size of a value (https://cloud.google.com/bigquery/pricing#data): the basis of numBytes. */
export function valueSizeSql(field: FieldSchema, expr: string, depth = 0): string {
  if (isRepeated(field)) {
    const x = `__s${depth}`;
    return `coalesce(list_sum(list_transform(${expr}, lambda ${x}: ${valueSizeSql({ ...field, mode: 'NULLABLE' }, x, depth + 1)})), 0)`;
  }
  switch (field.type) {
    case 'RECORD':
      return `CASE WHEN ${expr} IS NULL THEN 0 ELSE ${(field.fields ?? []).map((f) => valueSizeSql(f, structField(expr, f.name), depth + 1)).join(' + ')} END`;
    case 'STRING':
    case 'JSON':
    case 'GEOGRAPHY':
      return `coalesce(2 + strlen(CAST(${expr} AS VARCHAR)), 0)`;
    case 'BYTES':
      return `coalesce(2 + octet_length(${expr}), 0)`;
    case 'BOOLEAN':
      return `CASE WHEN ${expr} IS NULL THEN 0 ELSE 1 END`;
    case 'NUMERIC':
      return `CASE WHEN ${expr} IS NULL THEN 0 ELSE 16 END`;
    case 'BIGNUMERIC':
      return `CASE WHEN ${expr} IS NULL THEN 0 ELSE 32 END`;
    default:
      return `CASE WHEN ${expr} IS NULL THEN 0 ELSE 8 END`;
  }
}

export const rowSizeSql = (fields: readonly FieldSchema[]): string =>
  fields.length === 0 ? '0' : fields.map((f) => valueSizeSql(f, quoteIdent(f.name))).join(' + ');

export const columnListSql = (fields: readonly FieldSchema[]): string =>
  fields.map((f) => quoteIdent(f.name)).join(', ');

export const literal = (text: string): string => quoteString(text);
