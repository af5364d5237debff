// CSV load files (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-csv): every value is
// read as text by DuckDB, then parsed to its field's stored type in SQL; rows that do not fit are bad records.
import type { DuckDBConnection } from '@duckdb/node-api';
import { invalid } from '../api-error.js';
import { rowsOf } from '../engine.js';
import {
  duckType,
  isRepeated,
  quoteIdent,
  quoteString,
  STANDARD_SQL_NAME,
  type FieldSchema,
} from '../schema.js';
import { badTextLeaf, badValueSql, fromTextSql } from '../value-sql.js';
import { autodetectCsvSchema } from './autodetect.js';
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

/** The load's field delimiter: "\t" and "tab" mean a tab; empty means the default comma. */
export function csvLoadDelimiter(given: string): string {
  if (given === '') return ',';
  if (given === '\\t' || given.toLowerCase() === 'tab') return '\t';
  return given;
}

/** CSV cannot carry nested or repeated values; BigQuery rejects such a schema for a CSV load. */
function assertFlat(fields: readonly FieldSchema[]): void {
  for (const f of fields) {
    if (isRepeated(f)) throw invalid(`Cannot load CSV data with a repeated field. Field: ${f.name}`);
    if (f.type === 'RECORD') throw invalid(`Cannot load CSV data with a nested schema. Field: ${f.name}`);
  }
}

const column = (index: number): string => `c${index}`;
const EXTRA = 'c_extra';
/** Stage flags: the row has fewer fields than the schema / more fields than the schema. */
const SHORT_FLAG = '__bqbr_short';
const EXTRA_FLAG = '__bqbr_extra';
/** DuckDB's CSV reader always has a NULL string; this one never occurs, so only missing columns are NULL. */
const NEVER_NULL = `chr(1) || 'bqbr-no-null'`;
/** Types whose empty value is not NULL: an empty string, empty bytes. */
const hasEmptyValue = (f: FieldSchema): boolean => f.type === 'STRING' || f.type === 'BYTES';

export const readCsvFiles: FileReader = async (source, options) => {
  const { connection } = source;
  const delimiter = csvLoadDelimiter(options.fieldDelimiter);
  const quote = options.quote;
  const files = await prepareFiles(source);
  let fields: FieldSchema[];
  let skipRows = options.skipLeadingRows;
  if (options.schema !== undefined && options.schema.length > 0) {
    fields = [...options.schema];
  } else if (options.autodetect) {
    const detected = await autodetectCsvSchema(connection, files, {
      delimiter,
      quote,
      skipLeadingRows: skipRows,
    });
    fields = detected.fields;
    skipRows = detected.skipRows;
  } else {
    throw invalid('No schema specified on job or table.');
  }
  assertFlat(fields);
  if (files.length === 0 || fields.length === 0) {
    await createEmptyTable(connection, source.table, fields, duckType);
    return { table: source.table, fields, rows: 0, badRecords: 0, errors: [] };
  }

  // With the default (empty) null marker an unquoted empty field is NULL but a quoted one ("") is an empty
  // STRING/BYTES value (https://github.com/googleapis/python-bigquery-pandas/issues/366). DuckDB tells them
  // apart only when '' is its NULL string, and then a missing trailing column looks like an empty one, so
  // row shapes (too few / too many fields) come from a second, cheap read that keeps every empty field.
  const quotedEmpty = options.nullMarker === '' && fields.some(hasEmptyValue);
  const stage = `${source.table}__stage`;
  const shape = `${source.table}__shape`;
  const value = (i: number): string => {
    const f = fields[i] as FieldSchema;
    return quotedEmpty && hasEmptyValue(f)
      ? column(i)
      : `nullif(${column(i)}, ${quoteString(options.nullMarker)})`;
  };
  const parsed = (i: number): string => `p${i}`;
  const last = fields.length - 1;
  const shortSql = options.allowJaggedRows ? 'false' : `${column(last)} IS NULL`;
  const extraSql = options.ignoreUnknownValues ? 'false' : `${EXTRA} IS NOT NULL`;
  const problems = [
    ...(quotedEmpty ? [] : [shortSql, extraSql]),
    ...(options.allowQuotedNewlines
      ? []
      : fields.map(
          (_, i) => `coalesce(strpos(${column(i)}, chr(10)) > 0 OR strpos(${column(i)}, chr(13)) > 0, false)`,
        )),
    // Parsed once: a value is bad when text is present but its parse is NULL (or a REQUIRED one is missing).
    ...fields.map((f, i) =>
      f.mode === 'REQUIRED' ? `${parsed(i)} IS NULL` : `(${value(i)} IS NOT NULL AND ${parsed(i)} IS NULL)`,
    ),
  ];
  const raw = fields.map((_, i) => column(i));
  const columnTypes = [...raw, EXTRA].map((c) => `${quoteString(c)}: 'VARCHAR'`).join(', ');
  const read = (parallel: boolean, emptyIsNull: boolean): string => {
    // allow_quoted_nulls=false keeps a quoted "" as '' while an unquoted empty field is NULL.
    const nulls = emptyIsNull ? `nullstr='', allow_quoted_nulls=false` : `nullstr=${NEVER_NULL}`;
    return `read_csv(${sqlFileList(files)}, columns={${columnTypes}}, auto_detect=false, header=false, delim=${quoteString(delimiter)}, quote=${quoteString(quote)}, escape=${quoteString(quote)}, skip=${skipRows}, null_padding=true, strict_mode=false, ${nulls}, compression='none', filename=true, parallel=${parallel})`;
  };
  // The raw text is kept for bad rows only, to describe them.
  const stageSql = (parallel: boolean): string =>
    `CREATE TEMP TABLE ${quoteIdent(stage)} AS
     SELECT ${fields.map((_, i) => parsed(i)).join(', ')}, ${STAGE_FILE}, ${STAGE_BAD},
            ${quotedEmpty ? 'false' : shortSql} AS ${SHORT_FLAG}, ${quotedEmpty ? 'false' : extraSql} AS ${EXTRA_FLAG},
            ${raw.map((c) => `CASE WHEN ${STAGE_BAD} THEN ${c} END AS ${c}`).join(', ')}
     FROM (SELECT *, coalesce(${problems.join(' OR ')}, false) AS ${STAGE_BAD}
           FROM (SELECT ${[...raw, EXTRA].join(', ')}, filename AS ${STAGE_FILE},
                        ${fields.map((f, i) => `${fromTextSql(f, value(i), duckType(f))} AS ${parsed(i)}`).join(', ')}
                 FROM ${read(parallel, quotedEmpty)}))`;
  const shapeSql = (parallel: boolean): string =>
    `CREATE TEMP TABLE ${quoteIdent(shape)} AS
     SELECT ${shortSql} AS s, ${extraSql} AS e FROM ${read(parallel, false)}`;
  try {
    await runWithSerialFallback(connection, stage, stageSql);
    if (quotedEmpty && !(options.allowJaggedRows && options.ignoreUnknownValues)) {
      await runWithSerialFallback(connection, shape, shapeSql);
      await markBadShapes(connection, stage, shape);
    }
  } catch (err) {
    throw asReadError(err);
  }

  const diagnostics = fields.map(
    (f, i) => `(${badValueSql(f, value(i), badTextLeaf)}) AS ${quoteIdent(`__bqbr_bad_${i}`)}`,
  );
  return finishStagedLoad({
    connection,
    stage,
    table: source.table,
    fields,
    files,
    kind: 'CSV',
    maxBadRecords: options.maxBadRecords,
    parseSql: fields.map((f, i) => `${parsed(i)} AS ${quoteIdent(f.name)}`).join(', '),
    diagnosticsSql: diagnostics.join(', '),
    locate: (text, index) => locateCsvRow(text, index, skipRows, quote),
    explain: (bad) => explainCsvRow(bad, fields, options, delimiter),
  });
};

/** Creates `table` with a parallel read, or a serial one when DuckDB's parallel reader cannot handle the file. */
async function runWithSerialFallback(
  connection: DuckDBConnection,
  table: string,
  sql: (parallel: boolean) => string,
): Promise<void> {
  try {
    await connection.run(sql(true));
  } catch (err) {
    // DuckDB's parallel reader cannot pad short rows once a quoted value spans lines.
    if (!String((err as Error).message).includes('parallel=false')) throw err;
    await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
    await connection.run(sql(false));
  }
}

/** Flags the staged rows whose shape read (same files, same row order) found too few or too many fields. */
async function markBadShapes(connection: DuckDBConnection, stage: string, shape: string): Promise<void> {
  const [counts] = await rowsOf(
    connection,
    `SELECT (SELECT count(*) FROM ${quoteIdent(shape)}) AS shapes, (SELECT count(*) FROM ${quoteIdent(stage)}) AS rows`,
  );
  if (counts?.['shapes'] !== counts?.['rows'])
    throw new Error(
      `CSV shape read found ${String(counts?.['shapes'])} rows, not ${String(counts?.['rows'])}`,
    );
  await connection.run(
    `UPDATE ${quoteIdent(stage)} SET ${STAGE_BAD} = true, ${SHORT_FLAG} = x.s, ${EXTRA_FLAG} = x.e
     FROM (SELECT rowid AS r, s, e FROM ${quoteIdent(shape)} WHERE s OR e) AS x
     WHERE ${quoteIdent(stage)}.rowid = x.r`,
  );
  await connection.run(`DROP TABLE ${quoteIdent(shape)}`);
}

/** BigQuery's message for one bad CSV row. */
function explainCsvRow(
  bad: BadRow,
  fields: readonly FieldSchema[],
  options: LoadOptions,
  delimiter: string,
): string {
  const { row, position } = bad;
  const texts = fields.map((_, i) => row[column(i)] as string | null | undefined);
  if (row[EXTRA_FLAG] === true) {
    const found = countCsvColumns(bad.text, delimiter, options.quote);
    return `Too many values in row starting at position: ${position}. Found ${found} column(s) while expected ${fields.length}.`;
  }
  if (row[SHORT_FLAG] === true) {
    const present = countCsvColumns(bad.text, delimiter, options.quote);
    return `CSV table references column position ${fields.length - 1}, but line starting at position:${position} contains only ${present} columns.`;
  }
  if (!options.allowQuotedNewlines && texts.some((t) => typeof t === 'string' && /[\r\n]/.test(t)))
    return `Error detected while parsing row starting at position: ${position}. Error: Missing close double quote (") character.`;
  for (const [i, f] of fields.entries()) {
    if (row[`__bqbr_bad_${i}`] !== true) continue;
    const text = texts[i];
    if (text === null || text === undefined || text === options.nullMarker)
      return `Required field ${f.name} cannot be null; line starting at position: ${position}`;
    return `Could not parse '${text}' as ${STANDARD_SQL_NAME[f.type]} for field ${f.name} (position ${i}) starting at location ${position}  with message 'Unable to parse'`;
  }
  return `Could not parse row starting at position: ${position}`;
}

/** Counts the fields of one CSV record's text (quote-aware). */
function countCsvColumns(text: string, delimiter: string, quote: string): number {
  let count = 1;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    if (quote !== '' && text.startsWith(quote, i)) quoted = !quoted;
    else if (!quoted && text.startsWith(delimiter, i)) {
      count++;
      i += delimiter.length - 1;
    }
  }
  return count;
}

const NL = 0x0a;
const CR = 0x0d;

/**
 * Byte offset and text of data row `index` in a CSV file, counted as DuckDB reads it: `skipLines` lines
 * skipped, blank lines ignored, line breaks inside quotes kept in the row.
 */
export function locateCsvRow(
  text: Buffer,
  index: number,
  skipLines: number,
  quote: string,
): { position: number; text: string } | undefined {
  const quoteByte = quote === '' ? -1 : Buffer.from(quote)[0];
  let pos = 0;
  for (let skipped = 0; skipped < skipLines && pos < text.length; skipped++) {
    const nl = text.indexOf(NL, pos);
    pos = nl < 0 ? text.length : nl + 1;
  }
  let row = 0;
  while (pos < text.length) {
    const start = pos;
    let quoted = false;
    while (pos < text.length) {
      const b = text[pos];
      if (b === quoteByte) quoted = !quoted;
      else if (!quoted && (b === NL || b === CR)) break;
      pos++;
    }
    const end = pos;
    if (text[pos] === CR && text[pos + 1] === NL) pos += 2;
    else pos += 1;
    if (end === start) continue;
    if (row === index) return { position: start, text: text.subarray(start, end).toString('utf8') };
    row++;
  }
  return undefined;
}
