// Schema auto-detection for CSV and JSON loads (https://cloud.google.com/bigquery/docs/schema-detect), and the
// mapping from DuckDB column types to BigQuery fields that Parquet loads and the query engine share.
import type { DuckDBConnection } from '@duckdb/node-api';
import { invalid } from '../api-error.js';
import { rowsOf } from '../engine.js';
import { quoteIdent, quoteString, type FieldSchema, type FieldType } from '../schema.js';
import { fromTextLeaf } from '../value-sql.js';
import type { PreparedFile } from './load-common.js';

// ---- DuckDB type strings ----

/** A parsed DuckDB type: `STRUCT(a INTEGER, "b c" VARCHAR[])`, `MAP(VARCHAR, INTEGER)`, `DECIMAL(38,9)`... */
export type DuckTypeNode =
  | { readonly kind: 'scalar'; readonly name: string; readonly args: readonly number[] }
  | { readonly kind: 'list'; readonly element: DuckTypeNode }
  | {
      readonly kind: 'struct';
      readonly fields: readonly { readonly name: string; readonly type: DuckTypeNode }[];
    }
  | { readonly kind: 'map'; readonly key: DuckTypeNode; readonly value: DuckTypeNode };

/** Parses a type string as DuckDB prints it (DESCRIBE, typeof). */
export function parseDuckType(text: string): DuckTypeNode {
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < text.length && /\s/.test(text[pos] ?? '')) pos++;
  };
  const expect = (c: string): void => {
    skipSpace();
    if (text[pos] !== c) throw new Error(`Cannot read DuckDB type "${text}" at ${pos}: expected ${c}`);
    pos++;
  };
  const identifier = (): string => {
    skipSpace();
    if (text[pos] === '"') {
      let name = '';
      pos++;
      while (pos < text.length) {
        if (text[pos] === '"') {
          if (text[pos + 1] === '"') {
            name += '"';
            pos += 2;
            continue;
          }
          pos++;
          return name;
        }
        name += text[pos];
        pos++;
      }
      throw new Error(`Cannot read DuckDB type "${text}": unterminated name`);
    }
    const start = pos;
    while (pos < text.length && !/[\s(),[\]]/.test(text[pos] ?? '')) pos++;
    return text.slice(start, pos);
  };
  const parseType = (): DuckTypeNode => {
    skipSpace();
    let name = identifier().toUpperCase();
    // The only multi-word names: TIMESTAMP WITH TIME ZONE, TIME WITH TIME ZONE.
    const zone = /^\s+WITH\s+TIME\s+ZONE\b/i.exec(text.slice(pos));
    if (zone) {
      name = `${name} WITH TIME ZONE`;
      pos += zone[0].length;
    }
    let node: DuckTypeNode;
    skipSpace();
    if (name === 'STRUCT' && text[pos] === '(') {
      pos++;
      const fields: { name: string; type: DuckTypeNode }[] = [];
      skipSpace();
      while (text[pos] !== ')') {
        const fieldName = identifier();
        fields.push({ name: fieldName, type: parseType() });
        skipSpace();
        if (text[pos] === ',') pos++;
        skipSpace();
      }
      pos++;
      node = { kind: 'struct', fields };
    } else if (name === 'MAP' && text[pos] === '(') {
      pos++;
      const key = parseType();
      expect(',');
      const value = parseType();
      expect(')');
      node = { kind: 'map', key, value };
    } else if (text[pos] === '(') {
      pos++;
      const args: number[] = [];
      while (text[pos] !== ')' && pos < text.length) {
        const start2 = pos;
        while (pos < text.length && text[pos] !== ',' && text[pos] !== ')') pos++;
        args.push(Number(text.slice(start2, pos).trim()));
        if (text[pos] === ',') pos++;
      }
      pos++;
      node = { kind: 'scalar', name, args };
    } else {
      node = { kind: 'scalar', name, args: [] };
    }
    skipSpace();
    while (text[pos] === '[') {
      pos++;
      while (text[pos] !== ']' && pos < text.length) pos++; // fixed-size arrays: INTEGER[3]
      pos++;
      node = { kind: 'list', element: node };
      skipSpace();
    }
    return node;
  };
  const node = parseType();
  skipSpace();
  if (pos < text.length)
    throw new Error(`Cannot read DuckDB type "${text}": unexpected "${text.slice(pos)}"`);
  return node;
}

/** NUMERIC holds 29 integer and 9 fraction digits; wider decimals need BIGNUMERIC (Parquet/Avro decimal rules). */
export const decimalType = (precision: number, scale: number): FieldType =>
  scale <= 9 && precision - scale <= 29 ? 'NUMERIC' : 'BIGNUMERIC';

const INTEGER_NAMES = new Set([
  'TINYINT',
  'SMALLINT',
  'INTEGER',
  'INT',
  'BIGINT',
  'HUGEINT',
  'UTINYINT',
  'USMALLINT',
  'UINTEGER',
  'UBIGINT',
  'UHUGEINT',
  'INT1',
  'INT2',
  'INT4',
  'INT8',
]);

/** The BigQuery type of a DuckDB scalar type, as a query result or a self-describing file shows it. */
export function scalarFieldType(node: Extract<DuckTypeNode, { kind: 'scalar' }>): FieldType {
  const name = node.name;
  if (INTEGER_NAMES.has(name)) return 'INTEGER';
  switch (name) {
    case 'BOOLEAN':
    case 'BOOL':
      return 'BOOLEAN';
    case 'FLOAT':
    case 'DOUBLE':
    case 'REAL':
    case 'FLOAT4':
    case 'FLOAT8':
      return 'FLOAT';
    case 'DECIMAL':
    case 'NUMERIC':
      return decimalType(node.args[0] ?? 18, node.args[1] ?? 3);
    case 'BLOB':
    case 'BYTEA':
    case 'BIT':
      return 'BYTES';
    case 'DATE':
      return 'DATE';
    case 'TIME':
    case 'TIME WITH TIME ZONE':
    case 'TIMETZ':
      return 'TIME';
    case 'TIMESTAMP WITH TIME ZONE':
    case 'TIMESTAMPTZ':
      return 'TIMESTAMP';
    case 'TIMESTAMP':
    case 'DATETIME':
    case 'TIMESTAMP_S':
    case 'TIMESTAMP_MS':
    case 'TIMESTAMP_NS':
      return 'DATETIME';
    case 'JSON':
      return 'JSON';
    case 'NULL':
      // SELECT NULL is an INT64 in BigQuery.
      return 'INTEGER';
    default:
      // VARCHAR, UUID, ENUM, INTERVAL...: their text.
      return 'STRING';
  }
}

export interface DuckTypeMapping {
  /** Overrides the scalar mapping (return undefined to keep the default). */
  readonly scalar?: (node: Extract<DuckTypeNode, { kind: 'scalar' }>) => FieldType | undefined;
  /**
   * Parquet without `enableListInference`: a LIST becomes RECORD { list REPEATED RECORD { element } },
   * as BigQuery shows Parquet's three-level list structure (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-parquet).
   */
  readonly listAsRecord?: boolean;
}

/** The field a DuckDB type maps to; LIST → REPEATED, STRUCT → RECORD, MAP → RECORD { key_value REPEATED }. */
export function fieldFromDuckNode(
  name: string,
  node: DuckTypeNode,
  mapping: DuckTypeMapping = {},
): FieldSchema {
  switch (node.kind) {
    case 'scalar':
      return { name, type: mapping.scalar?.(node) ?? scalarFieldType(node), mode: 'NULLABLE' };
    case 'struct': {
      if (node.fields.length === 0) return { name, type: 'JSON', mode: 'NULLABLE' };
      return {
        name,
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: node.fields.map((f) => fieldFromDuckNode(f.name, f.type, mapping)),
      };
    }
    case 'map': {
      const entry: DuckTypeNode = {
        kind: 'struct',
        fields: [
          { name: 'key', type: node.key },
          { name: 'value', type: node.value },
        ],
      };
      const keyValue = fieldFromDuckNode(
        'key_value',
        { kind: 'list', element: entry },
        { ...mapping, listAsRecord: false },
      );
      return { name, type: 'RECORD', mode: 'NULLABLE', fields: [keyValue] };
    }
    case 'list': {
      if (mapping.listAsRecord) {
        const element = fieldFromDuckNode('element', node.element, mapping);
        return {
          name,
          type: 'RECORD',
          mode: 'NULLABLE',
          fields: [{ name: 'list', type: 'RECORD', mode: 'REPEATED', fields: [element] }],
        };
      }
      if (node.element.kind === 'list')
        throw invalid(`Field ${name} is an array of arrays, which BigQuery does not support.`);
      return { ...fieldFromDuckNode(name, node.element, mapping), mode: 'REPEATED' };
    }
  }
}

/** A BigQuery field for a DuckDB column type string, e.g. `fieldFromDuckType('x', 'STRUCT(a BIGINT)[]')`. */
export const fieldFromDuckType = (
  name: string,
  duckTypeString: string,
  mapping: DuckTypeMapping = {},
): FieldSchema => fieldFromDuckNode(name, parseDuckType(duckTypeString), mapping);

// ---- Auto-detection ----

/** BigQuery samples up to 500 rows to detect a schema. */
const SAMPLE_ROWS = 500;

/** JSON: DuckDB's own detection over the sample, mapped the way BigQuery's detection types values. */
export async function autodetectJsonSchema(
  connection: DuckDBConnection,
  files: readonly PreparedFile[],
): Promise<FieldSchema[]> {
  const first = files[0];
  if (first === undefined) return [];
  const described = await rowsOf(
    connection,
    `DESCRIBE SELECT * FROM read_json(${quoteString(first.path)}, format='newline_delimited', sample_size=${SAMPLE_ROWS}, compression='uncompressed', ignore_errors=true)`,
  );
  const mapping: DuckTypeMapping = {
    scalar: (node) => {
      // Date-times without a zone are detected as TIMESTAMP; a column of NULLs or of mixed types is STRING.
      if (node.name.startsWith('TIMESTAMP')) return 'TIMESTAMP';
      if (node.name === 'JSON' || node.name === 'NULL') return 'STRING';
      return undefined;
    },
  };
  return described.map((row) =>
    fieldFromDuckType(String(row['column_name']), String(row['column_type']), mapping),
  );
}

export interface CsvDialect {
  readonly delimiter: string;
  readonly quote: string;
  readonly skipLeadingRows: number;
}

export interface DetectedCsv {
  readonly fields: FieldSchema[];
  /** Rows to skip at the top of each file: the given ones, plus the header when one was detected. */
  readonly skipRows: number;
}

type Detected = 'BOOLEAN' | 'INTEGER' | 'FLOAT' | 'DATE' | 'TIME' | 'TIMESTAMP' | 'STRING';

const DETECT_ORDER: readonly Detected[] = ['BOOLEAN', 'INTEGER', 'FLOAT', 'DATE', 'TIME', 'TIMESTAMP'];

const NAME_PREFIX: Record<Detected, string> = {
  BOOLEAN: 'bool',
  INTEGER: 'int64',
  FLOAT: 'double',
  DATE: 'date',
  TIME: 'time',
  TIMESTAMP: 'timestamp',
  STRING: 'string',
};

/** SQL: does the (trimmed, non-empty) text `v` look like a value of `type`, as auto-detection reads CSV values? */
function looksLike(type: Detected, v: string): string {
  const field = (t: FieldType): FieldSchema => ({ name: 'v', type: t });
  switch (type) {
    case 'BOOLEAN':
      return `lower(${v}) IN ('true', 'false')`;
    case 'INTEGER':
      return `${fromTextLeaf(field('INTEGER'), v)} IS NOT NULL`;
    case 'FLOAT':
      return `regexp_matches(${v}, '^[+-]?(\\d+\\.?\\d*|\\.\\d+)([eE][+-]?\\d+)?$')`;
    case 'DATE':
      return `regexp_matches(${v}, '^\\d{4}-\\d{1,2}-\\d{1,2}$') AND TRY_CAST(${v} AS DATE) IS NOT NULL`;
    case 'TIME':
      return `regexp_matches(${v}, '^\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d{1,6})?)?$') AND TRY_CAST(${v} AS TIME) IS NOT NULL`;
    case 'TIMESTAMP':
      return `regexp_matches(${v}, '^\\d{4}[-/]\\d{1,2}[-/]\\d{1,2}[ T]\\d{1,2}:\\d{2}') AND ${fromTextLeaf(field('TIMESTAMP'), `replace(${v}, '/', '-')`)} IS NOT NULL`;
    case 'STRING':
      return 'true';
  }
}

/** Column names from a header, changed as BigQuery does to be valid: other characters become underscores. */
function columnName(raw: string, index: number, type: Detected, used: Set<string>): string {
  let name = raw.trim().replace(/[^A-Za-z0-9_]/g, '_');
  if (name === '') name = `${NAME_PREFIX[type]}_field_${index}`;
  if (/^[0-9]/.test(name)) name = `_${name}`;
  name = name.slice(0, 300);
  let unique = name;
  for (let n = 1; used.has(unique.toLowerCase()); n++) unique = `${name}_${n}`;
  used.add(unique.toLowerCase());
  return unique;
}

/**
 * CSV: each column gets the narrowest type all sampled values fit (empty ones ignored; all empty → STRING).
 * The first row is a header when all its values are strings and some column below it is not
 * (https://cloud.google.com/bigquery/docs/schema-detect#csv_header). Without one, columns are named
 * `string_field_0`, `int64_field_1`..., as BigQuery names them.
 */
export async function autodetectCsvSchema(
  connection: DuckDBConnection,
  files: readonly PreparedFile[],
  dialect: CsvDialect,
): Promise<DetectedCsv> {
  const first = files[0];
  if (first === undefined) return { fields: [], skipRows: dialect.skipLeadingRows };
  // skipLeadingRows N > 0 with autodetect: N-1 rows are skipped and row N may be the header (JobConfigurationLoad).
  const before = Math.max(dialect.skipLeadingRows - 1, 0);
  const sample = `(SELECT * FROM read_csv(${quoteString(first.path)}, header=false, all_varchar=true, delim=${quoteString(dialect.delimiter)}, quote=${quoteString(dialect.quote)}, escape=${quoteString(dialect.quote)}, skip=${before}, null_padding=true, strict_mode=false, parallel=false, compression='none') LIMIT ${SAMPLE_ROWS + 1})`;
  const columns = (await rowsOf(connection, `DESCRIBE SELECT * FROM ${sample}`)).map((r) =>
    String(r['column_name']),
  );
  if (columns.length === 0) return { fields: [], skipRows: dialect.skipLeadingRows };
  await connection.run(`CREATE OR REPLACE TEMP TABLE __bqbr_sample AS SELECT * FROM ${sample}`);
  try {
    const value = (c: string): string => `nullif(trim(${quoteIdent(c)}), '')`;
    const verdicts = columns.flatMap((c) =>
      DETECT_ORDER.map(
        (t) =>
          `coalesce(bool_and(${looksLike(t, value(c))}) FILTER (WHERE rowid > 0 AND ${value(c)} IS NOT NULL), false) AS ${quoteIdent(`${c}:${t}`)}`,
      ),
    );
    const present = columns.map(
      (c) => `count(${value(c)}) FILTER (WHERE rowid > 0) AS ${quoteIdent(`${c}:count`)}`,
    );
    const firstRow = columns.flatMap((c) => [
      `any_value(${quoteIdent(c)}) FILTER (WHERE rowid = 0) AS ${quoteIdent(`${c}:first`)}`,
      ...DETECT_ORDER.map(
        (t) =>
          `coalesce(bool_or(${looksLike(t, value(c))}) FILTER (WHERE rowid = 0), false) AS ${quoteIdent(`${c}:first:${t}`)}`,
      ),
    ]);
    const everything = columns.flatMap((c) =>
      DETECT_ORDER.map(
        (t) =>
          `coalesce(bool_and(${looksLike(t, value(c))}) FILTER (WHERE ${value(c)} IS NOT NULL), false) AS ${quoteIdent(`${c}:all:${t}`)}`,
      ),
    );
    const [stats] = await rowsOf(
      connection,
      `SELECT count(*) AS __rows, ${[...verdicts, ...present, ...firstRow, ...everything].join(', ')} FROM __bqbr_sample`,
    );
    if (stats === undefined) return { fields: [], skipRows: dialect.skipLeadingRows };
    const typeOf = (c: string, prefix: string): Detected => {
      const hit = DETECT_ORDER.find((t) => stats[`${c}:${prefix}${t}`] === true);
      // A column that is INTEGER and FLOAT reads as INTEGER; BOOLEAN is tried first, then narrower numbers.
      return hit ?? 'STRING';
    };
    const belowTypes = columns.map((c) => (Number(stats[`${c}:count`]) > 0 ? typeOf(c, '') : 'STRING'));
    const firstIsAllStrings = columns.every((c) => {
      const text = stats[`${c}:first`];
      return (
        typeof text === 'string' &&
        text.trim() !== '' &&
        !DETECT_ORDER.some((t) => stats[`${c}:first:${t}`] === true)
      );
    });
    const hasHeader =
      Number(stats['__rows']) > 1 && firstIsAllStrings && belowTypes.some((t) => t !== 'STRING');
    const types = hasHeader ? belowTypes : columns.map((c) => typeOf(c, 'all:'));
    const used = new Set<string>();
    const fields = columns.map((c, i): FieldSchema => {
      const type = types[i] ?? 'STRING';
      const first = stats[`${c}:first`];
      const header = hasHeader && typeof first === 'string' ? first : '';
      return { name: columnName(header, i, type, used), type, mode: 'NULLABLE' };
    });
    const skipRows = before + (hasHeader || dialect.skipLeadingRows > 0 ? 1 : 0);
    return { fields, skipRows };
  } finally {
    await connection.run('DROP TABLE IF EXISTS __bqbr_sample');
  }
}
