// Parquet load files (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-parquet): the schema
// comes from the file unless one is given; values are converted to the stored types in one SQL pass.
import { invalid } from '../api-error.js';
import { rowsOf } from '../engine.js';
import {
  duckScalarType,
  duckType,
  isRepeated,
  quoteIdent,
  quoteString,
  type FieldSchema,
} from '../schema.js';
import { fromTextLeaf, structField } from '../value-sql.js';
import { fieldFromDuckNode, parseDuckType, type DuckTypeNode } from './autodetect.js';
import {
  asReadError,
  createEmptyTable,
  prepareFiles,
  sqlFileList,
  type PreparedFile,
} from './load-common.js';
import type { FileReader, LoadOptions } from './types.js';

/**
 * `parquetOptions.enableListInference` is not part of LoadOptions yet; a caller may pass it alongside.
 * Without it (BigQuery's default) a LIST column reads as RECORD { list REPEATED RECORD { element } }.
 */
export interface ParquetLoadOptions extends LoadOptions {
  readonly enableListInference?: boolean;
}

interface FileColumn {
  readonly name: string;
  readonly type: DuckTypeNode;
  readonly required: boolean;
}

/** Top-level columns with DuckDB's types, and whether Parquet declares them REQUIRED. */
async function fileColumns(
  connection: Parameters<FileReader>[0]['connection'],
  files: readonly PreparedFile[],
): Promise<FileColumn[]> {
  const first = files[0];
  if (first === undefined) return [];
  const described = await rowsOf(connection, `DESCRIBE SELECT * FROM read_parquet(${sqlFileList(files)})`);
  const schema = await rowsOf(
    connection,
    `SELECT name, repetition_type, num_children FROM parquet_schema(${quoteString(first.path)})`,
  );
  // parquet_schema lists the tree depth-first; the root's direct children are the columns.
  const required = new Set<string>();
  let pending = 0;
  for (const node of schema.slice(1)) {
    if (pending === 0 && node['repetition_type'] === 'REQUIRED') required.add(String(node['name']));
    if (pending > 0) pending--;
    pending += Number(node['num_children'] ?? 0);
  }
  return described.map((row) => ({
    name: String(row['column_name']),
    type: parseDuckType(String(row['column_type'])),
    required: required.has(String(row['column_name'])),
  }));
}

const typeLabel = (node: DuckTypeNode): string =>
  node.kind === 'scalar'
    ? node.name
    : node.kind === 'list'
      ? 'LIST'
      : node.kind === 'struct'
        ? 'STRUCT'
        : 'MAP';

const mismatch = (field: FieldSchema, node: DuckTypeNode): Error =>
  invalid(
    `Provided schema is not compatible with the file. Field '${field.name}' is specified as ${isRepeated(field) ? 'REPEATED ' : ''}${field.type} in the provided schema, which does not match ${typeLabel(node)} in the file.`,
  );

/** SQL converting file value `expr` (DuckDB type `node`) to a value of `field` in its stored type. */
function convertSql(field: FieldSchema, node: DuckTypeNode, expr: string, depth: number): string {
  if (isRepeated(field)) {
    const x = `__p${depth}`;
    const element: FieldSchema = { ...field, mode: 'NULLABLE' };
    if (node.kind === 'map') return convertSql(field, mapEntries(node), `map_entries(${expr})`, depth);
    if (node.kind !== 'list') throw mismatch(field, node);
    return `coalesce(list_transform(${expr}, lambda ${x}: ${convertSql(element, node.element, x, depth + 1)}), CAST([] AS ${duckType(field)}))`;
  }
  if (field.type === 'RECORD') {
    const subs = field.fields ?? [];
    let parts: string[];
    if (node.kind === 'struct') {
      parts = subs.map((sub) => {
        const child = node.fields.find((c) => c.name.toLowerCase() === sub.name.toLowerCase());
        const value =
          child === undefined
            ? `CAST(NULL AS ${duckType(sub)})`
            : convertSql(sub, child.type, structField(expr, child.name), depth + 1);
        return `${quoteIdent(sub.name)} := ${value}`;
      });
    } else if (subs.length === 1 && subs[0] !== undefined) {
      // Parquet's LIST and MAP wrappers: RECORD { list REPEATED { element } }, RECORD { key_value REPEATED }.
      const only = subs[0];
      parts = [`${quoteIdent(only.name)} := ${convertSql(only, node, expr, depth + 1)}`];
    } else {
      throw mismatch(field, node);
    }
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  if (node.kind !== 'scalar') {
    if (field.type === 'JSON' || field.type === 'STRING')
      return `CAST(to_json(${expr}) AS ${duckScalarType(field)})`;
    throw mismatch(field, node);
  }
  const stored = duckScalarType(field);
  if (field.type === 'BIGNUMERIC' || field.type === 'GEOGRAPHY')
    return fromTextLeaf(field, `CAST(${expr} AS VARCHAR)`);
  if (field.type === 'BYTES' && node.name === 'VARCHAR') return `encode(${expr})`;
  return `CAST(${expr} AS ${stored})`;
}

const mapEntries = (node: Extract<DuckTypeNode, { kind: 'map' }>): DuckTypeNode => ({
  kind: 'list',
  element: {
    kind: 'struct',
    fields: [
      { name: 'key', type: node.key },
      { name: 'value', type: node.value },
    ],
  },
});

export const readParquetFiles: FileReader = async (source, options) => {
  const { connection } = source;
  const files = await prepareFiles(source);
  const listInference = (options as ParquetLoadOptions).enableListInference === true;
  try {
    const columns = await fileColumns(connection, files);
    let fields: FieldSchema[];
    if (options.schema !== undefined && options.schema.length > 0) {
      fields = [...options.schema];
      for (const f of fields) {
        const found = columns.some((c) => c.name.toLowerCase() === f.name.toLowerCase());
        if (!found && f.mode === 'REQUIRED' && files.length > 0)
          throw invalid(
            `Provided schema is not compatible with the file. Required field '${f.name}' is missing in the file.`,
          );
      }
    } else {
      fields = columns.map((c) => ({
        ...fieldFromDuckNode(c.name, c.type, { listAsRecord: !listInference }),
        ...(c.required ? { mode: 'REQUIRED' as const } : {}),
      }));
    }
    if (files.length === 0) {
      await createEmptyTable(connection, source.table, fields, duckType);
      return { table: source.table, fields, rows: 0, badRecords: 0, errors: [] };
    }
    const select = fields.map((f) => {
      const column = columns.find((c) => c.name.toLowerCase() === f.name.toLowerCase());
      const value =
        column === undefined
          ? `CAST(NULL AS ${duckType(f)})`
          : convertSql(f, column.type, quoteIdent(column.name), 0);
      return `${value} AS ${quoteIdent(f.name)}`;
    });
    await connection.run(
      `CREATE TEMP TABLE ${quoteIdent(source.table)} AS SELECT ${select.join(', ')} FROM read_parquet(${sqlFileList(files)})`,
    );
    const [count] = await rowsOf(connection, `SELECT count(*) AS n FROM ${quoteIdent(source.table)}`);
    return { table: source.table, fields, rows: Number(count?.['n'] ?? 0), badRecords: 0, errors: [] };
  } catch (err) {
    throw asReadError(err);
  }
};
