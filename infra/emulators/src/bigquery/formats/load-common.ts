// Shared machinery of the load readers: gzip detection, the staging table every text format goes
// through, bad-record accounting with BigQuery's messages, and the reader for each format.
import { createReadStream, createWriteStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { BigQueryError, invalid, type ErrorProto } from '../api-error.js';
import { rowsOf, type JsonRow } from '../engine.js';
import { quoteIdent, quoteString, type FieldSchema } from '../schema.js';
import { readCsvFiles } from './csv-load.js';
import { readJsonFiles } from './json-load.js';
import { readParquetFiles } from './parquet-load.js';
import type { FileFormat, FileReader, LoadedRows, LoadSource } from './types.js';

/** A failed load: `errors` is what the job's `status.errors` shows (the summary first, then one per bad row). */
export class LoadError extends BigQueryError {
  constructor(
    message: string,
    readonly errors: ErrorProto[],
  ) {
    super(400, 'invalid', message);
    this.name = 'LoadError';
  }
}

/** BigQuery lists only the first few bad rows of a load. */
export const MAX_REPORTED_ERRORS = 5;

/** Every per-row error starts like this in BigQuery. */
export const readingError = (message: string): string =>
  `Error while reading data, error message: ${message}`;

export function loadReaderFor(format: FileFormat): FileReader {
  switch (format) {
    case 'CSV':
      return readCsvFiles;
    case 'NEWLINE_DELIMITED_JSON':
      return readJsonFiles;
    case 'PARQUET':
      return readParquetFiles;
    default:
      throw new Error(`No load reader for ${format} here`);
  }
}

/** One input file as DuckDB should read it: `path` is the original, or its gunzipped copy in the work dir. */
export interface PreparedFile {
  readonly original: string;
  readonly path: string;
  readonly bytes: number;
}

const GZIP_MAGIC = [0x1f, 0x8b];

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === GZIP_MAGIC[0] && head[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/**
 * Gunzips compressed files into the work dir (BigQuery detects gzip by content, not by name) and drops
 * empty files, which DuckDB's readers would reject and BigQuery reads as no rows.
 */
export async function prepareFiles(source: LoadSource): Promise<PreparedFile[]> {
  const prepared: PreparedFile[] = [];
  for (const [index, original] of source.files.entries()) {
    let path = original;
    if (await isGzip(original)) {
      path = join(source.workDir, `${source.table}-${index}.unzipped`);
      try {
        await pipeline(createReadStream(original), createGunzip(), createWriteStream(path));
      } catch (err) {
        throw invalid(readingError(`Failed to decompress gzip file ${original}: ${(err as Error).message}`));
      }
    }
    const bytes = (await stat(path)).size;
    if (bytes > 0) prepared.push({ original, path, bytes });
  }
  return prepared;
}

export const sqlFileList = (files: readonly PreparedFile[]): string =>
  `[${files.map((f) => quoteString(f.path)).join(', ')}]`;

/** An empty table of `fields` in stored types: a load of no rows. */
export async function createEmptyTable(
  connection: DuckDBConnection,
  table: string,
  fields: readonly FieldSchema[],
  duckType: (f: FieldSchema) => string,
): Promise<void> {
  const columns = fields.map((f) => `${quoteIdent(f.name)} ${duckType(f)}`).join(', ');
  await connection.run(`CREATE TEMP TABLE ${quoteIdent(table)} (${columns})`);
}

/** Columns every staging table carries besides the row's own data. */
export const STAGE_FILE = '__bqbr_file';
export const STAGE_BAD = '__bqbr_bad';

/** A bad row as the format's `explain` sees it: its staged columns, diagnostics, and where it is in its file. */
export interface BadRow {
  readonly row: JsonRow;
  readonly file: PreparedFile;
  /** Byte offset where the row starts in the (uncompressed) file, and its raw text. */
  readonly position: number;
  readonly text: string;
}

/** What a text format hands over once its rows sit in a staging table with `STAGE_BAD` computed. */
export interface StagedLoad {
  readonly connection: DuckDBConnection;
  readonly stage: string;
  readonly table: string;
  readonly fields: FieldSchema[];
  readonly files: readonly PreparedFile[];
  /** SELECT list turning a staging row into the table's columns in stored types. */
  readonly parseSql: string;
  /** Extra SELECT list (may be empty) with per-row diagnostics for `explain`. */
  readonly diagnosticsSql: string;
  /** 'CSV' or 'JSON', as BigQuery names the table in its "too many errors" message. */
  readonly kind: 'CSV' | 'JSON';
  readonly maxBadRecords: number;
  /** Finds row `index` (0-based among data rows) in a file's text. */
  readonly locate: (text: Buffer, index: number) => { position: number; text: string } | undefined;
  readonly explain: (bad: BadRow) => string;
}

/**
 * Counts bad rows, fails the load when there are more than `maxBadRecords` (with BigQuery's message), and
 * otherwise creates the destination temp table from the good rows.
 */
export async function finishStagedLoad(load: StagedLoad): Promise<LoadedRows> {
  const { connection, stage } = load;
  const [counts] = await rowsOf(
    connection,
    `SELECT count(*) AS total, count(*) FILTER (WHERE ${STAGE_BAD}) AS bad FROM ${quoteIdent(stage)}`,
  );
  const total = Number(counts?.['total'] ?? 0);
  const bad = Number(counts?.['bad'] ?? 0);
  const errors = bad > 0 ? await describeBadRows(load) : [];
  if (bad > load.maxBadRecords) {
    const [limitRow] = await rowsOf(
      connection,
      `SELECT rowid AS r FROM ${quoteIdent(stage)} WHERE ${STAGE_BAD} ORDER BY rowid LIMIT 1 OFFSET ${load.maxBadRecords}`,
    );
    const rows = Number(limitRow?.['r'] ?? 0) + 1;
    const message = readingError(
      `${load.kind} table encountered too many errors, giving up. Rows: ${rows}; errors: ${load.maxBadRecords + 1}. Please look into the errors[] collection for more details.`,
    );
    await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(stage)}`);
    throw new LoadError(message, [{ reason: 'invalid', message }, ...errors]);
  }
  const where = bad > 0 ? ` WHERE NOT ${STAGE_BAD}` : '';
  await connection.run(
    `CREATE TEMP TABLE ${quoteIdent(load.table)} AS SELECT ${load.parseSql} FROM ${quoteIdent(stage)}${where}`,
  );
  await connection.run(`DROP TABLE ${quoteIdent(stage)}`);
  return { table: load.table, fields: load.fields, rows: total - bad, badRecords: bad, errors };
}

/** Per-row ErrorProtos for the first few bad rows, each located by file and byte offset. */
async function describeBadRows(load: StagedLoad): Promise<ErrorProto[]> {
  const stage = quoteIdent(load.stage);
  const diagnostics = load.diagnosticsSql === '' ? '' : `, ${load.diagnosticsSql}`;
  const rows = await rowsOf(
    load.connection,
    `WITH firsts AS (SELECT ${STAGE_FILE} AS f, min(rowid) AS first FROM ${stage} GROUP BY ${STAGE_FILE})
     SELECT s.*, s.rowid - firsts.first AS __bqbr_index${diagnostics}
     FROM (SELECT rowid, * FROM ${stage} WHERE ${STAGE_BAD} ORDER BY rowid LIMIT ${MAX_REPORTED_ERRORS}) AS s
     JOIN firsts ON firsts.f = s.${STAGE_FILE} ORDER BY s.rowid`,
  );
  const texts = new Map<string, Buffer>();
  const errors: ErrorProto[] = [];
  for (const row of rows) {
    const file = load.files.find((f) => f.path === row[STAGE_FILE]) ?? load.files[0];
    if (file === undefined) continue;
    let text = texts.get(file.path);
    if (text === undefined) {
      text = await readFile(file.path);
      texts.set(file.path, text);
    }
    const where = load.locate(text, Number(row['__bqbr_index'])) ?? { position: 0, text: '' };
    const message = readingError(load.explain({ row, file, position: where.position, text: where.text }));
    errors.push({ reason: 'invalid', location: file.original, message });
  }
  return errors;
}

/** Turns a DuckDB failure while reading files into BigQuery's invalid error; other errors pass through. */
export function asReadError(err: unknown): unknown {
  if (err instanceof BigQueryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return invalid(readingError(message.split('\n')[0] ?? message));
}
