// Runs a GoogleSQL query: translate, type the result from DuckDB's prepared statement, then
// materialize it in a plain DuckDB table whose columns use the result schema's stored types.
import {
  ANY,
  BIGINT,
  DuckDBBlobValue,
  DuckDBScalarFunction,
  type DuckDBConnection,
  type DuckDBType,
} from '@duckdb/node-api';
import { BigQueryError, invalidQuery } from '../api-error.js';
import { quoteIdent, type FieldSchema } from '../schema.js';
import { farmFingerprint } from './farmhash.js';
import { fieldOf, storedValueSql } from './result-schema.js';
import { tokenize } from './tokenizer.js';
import { ANONYMOUS_PREFIX, translateQuery } from './translate.js';
import type { QueryContext, QueryResult } from './types.js';

export type { QueryContext, QueryResult, TableRef, TableResolver } from './types.js';

const prepared = new WeakSet<DuckDBConnection>();

/** Registers the JavaScript functions the translation relies on (FARM_FINGERPRINT), once per connection. */
export function ensureQueryFunctions(connection: DuckDBConnection): void {
  if (prepared.has(connection)) return;
  try {
    connection.registerScalarFunction(
      DuckDBScalarFunction.create({
        name: 'bq_farm_fingerprint',
        returnType: BIGINT,
        parameterTypes: [ANY],
        mainFunction: (_info, input, output) => {
          const values = input.getColumnVector(0);
          for (let row = 0; row < input.rowCount; row++) {
            const v = values.getItem(row);
            if (v === null) output.setItem(row, null);
            else if (v instanceof DuckDBBlobValue) output.setItem(row, farmFingerprint(v.bytes));
            else if (typeof v === 'string') output.setItem(row, farmFingerprint(v));
            else output.setItem(row, farmFingerprint(String(v)));
          }
          output.flush();
        },
      }),
    );
  } catch (err) {
    // Registered through another connection of the same database already.
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
  prepared.add(connection);
}

/** Runs a GoogleSQL SELECT and materializes its result into DuckDB table `resultTable` (a plain table, caller drops it). */
export async function executeQuery(
  query: string,
  ctx: QueryContext,
  resultTable: string,
): Promise<QueryResult> {
  ensureQueryFunctions(ctx.connection);
  const { sql, referencedTables } = await translateQuery(query, ctx);

  let columns: { name: string; type: DuckDBType }[];
  try {
    const statement = await ctx.connection.prepare(sql);
    columns = Array.from({ length: statement.columnCount }, (_, k) => ({
      name: statement.columnName(k),
      type: statement.columnType(k),
    }));
    statement.destroySync();
  } catch (err) {
    throw queryError(err, query);
  }

  let anonymous = 0;
  const fields: FieldSchema[] = columns.map((c) => {
    const name = c.name.startsWith(ANONYMOUS_PREFIX) ? `f${anonymous++}_` : c.name;
    return fieldOf(name, c.type);
  });
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const f of fields) {
    const key = f.name.toLowerCase();
    if (seen.has(key)) duplicates.add(f.name);
    seen.add(key);
  }
  if (duplicates.size > 0)
    throw invalidQuery(
      `Duplicate column names in the result are not supported. Found duplicate(s): ${[...duplicates].join(', ')}`,
    );

  const aliases = columns.map((_, k) => quoteIdent(`c${k}`));
  const list = columns.map(
    (c, k) =>
      `${storedValueSql(c.type, fields[k] as FieldSchema, aliases[k] as string)} AS ${quoteIdent((fields[k] as FieldSchema).name)}`,
  );
  const target = /^[A-Za-z_][A-Za-z0-9_]*$/.test(resultTable) ? quoteIdent(resultTable) : resultTable;
  try {
    await ctx.connection.run(
      `CREATE TABLE ${target} AS SELECT ${list.join(', ')} FROM (${sql}) AS __result(${aliases.join(', ')})`,
    );
  } catch (err) {
    throw queryError(err, query);
  }
  const counted = await ctx.connection.runAndReadAll(`SELECT count(*) AS n FROM ${target}`);
  const rows = Number(counted.getRowObjectsJson()[0]?.['n'] ?? 0);
  return { fields, rows, statementType: 'SELECT', referencedTables };
}

/** Where `name` first appears in the query, as BigQuery's `[line:column]`. */
function positionOf(query: string, name: string): string {
  try {
    const token = tokenize(query).find(
      (t) => (t.kind === 'ident' || t.kind === 'quoted') && t.value.toLowerCase() === name.toLowerCase(),
    );
    return token !== undefined ? ` at [${token.line}:${token.column}]` : '';
  } catch {
    return '';
  }
}

const BAD_VALUE_TYPES: Record<string, string> = {
  BIGINT: 'int64',
  INTEGER: 'int64',
  INT64: 'int64',
  DOUBLE: 'double',
  BOOLEAN: 'bool',
  DATE: 'date',
  TIMESTAMP: 'datetime',
  'TIMESTAMP WITH TIME ZONE': 'timestamp',
  TIME: 'time',
};

/** DuckDB's errors in BigQuery's words where there is a known equivalent. */
export function queryError(err: unknown, query: string): BigQueryError {
  if (err instanceof BigQueryError) return err;
  const full = err instanceof Error ? err.message : String(err);
  const message = (full.split('\n')[0] ?? full).replace(/^[A-Za-z ]+Error: /, '').trim();
  let m =
    /Referenced column "([^"]+)" not found/.exec(full) ??
    /Column "([^"]+)" referenced that exists in the SELECT clause/.exec(full);
  if (m !== null) return invalidQuery(`Unrecognized name: ${m[1]}${positionOf(query, m[1] as string)}`);
  m = /Table "([^"]+)" does not have a column named "([^"]+)"/.exec(full);
  if (m !== null)
    return invalidQuery(`Name ${m[2]} not found inside ${m[1]}${positionOf(query, m[2] as string)}`);
  m = /Could not find key "([^"]+)" in struct/.exec(full);
  if (m !== null)
    return invalidQuery(`Field name ${m[1]} does not exist in STRUCT${positionOf(query, m[1] as string)}`);
  m = /Function with name "?([\w.]+)"? does not exist/i.exec(full);
  if (m !== null) return invalidQuery(`Function not found: ${m[1]}${positionOf(query, m[1] as string)}`);
  m = /Column "?([^"\s]+)"? in EXCLUDE list not found/i.exec(full);
  if (m !== null)
    return invalidQuery(
      `Column ${m[1]} in SELECT * EXCEPT list does not exist${positionOf(query, m[1] as string)}`,
    );
  m = /Could not convert string '([^']*)' to ([A-Z0-9 ]+)/.exec(full);
  if (m !== null)
    return invalidQuery(
      `Bad ${BAD_VALUE_TYPES[(m[2] as string).trim()] ?? (m[2] as string).toLowerCase()} value: ${m[1]}`,
    );
  if (/^Parser Error/.test(full)) return invalidQuery(`Syntax error: ${message}`);
  if (/must appear in the GROUP BY clause/.test(full)) {
    m = /column "([^"]+)" must appear/.exec(full);
    const name = m?.[1] ?? '';
    return invalidQuery(
      `SELECT list expression references column ${name} which is neither grouped nor aggregated${positionOf(query, name)}`,
    );
  }
  return invalidQuery(message);
}
