// CSV extract files. Lines are built in SQL (RFC 4180 quoting with any one-character delimiter) and written
// verbatim, since DuckDB's own CSV writer fails on delimiters that are not ASCII.
import { invalid } from '../api-error.js';
import { isRepeated, quoteIdent, quoteString, type FieldSchema } from '../schema.js';
import { selectListSql } from '../value-sql.js';
import { copyToFile, csvLeaf, duckCompression, rangeSql, rawLinesOptions } from './export-encodings.js';
import type { ExportOptions, FileWriter } from './types.js';

/** Tables with RECORD or REPEATED fields cannot be exported as CSV; the error names the first such field. */
export function assertCsvExportable(fields: readonly FieldSchema[]): void {
  const nested = fields.find((f) => f.type === 'RECORD' || isRepeated(f));
  if (nested) throw invalid(`Operation cannot be performed on a nested schema. Field: ${nested.name}`);
}

/** The export's field delimiter: one character, with "\t" and "tab" meaning a tab. */
export function csvDelimiter(options: Pick<ExportOptions, 'fieldDelimiter'>): string {
  const given = options.fieldDelimiter === '' ? ',' : options.fieldDelimiter;
  const delimiter = given === '\\t' || given.toLowerCase() === 'tab' ? '\t' : given;
  if ([...delimiter].length !== 1)
    throw invalid(`Invalid field delimiter: "${given}". The field delimiter must be a single character.`);
  return delimiter;
}

const ORDER = '__bqexport_rowid';

/** One encoded column (VARCHAR, possibly NULL) as a CSV field: NULL is empty; quoted when empty or holding the delimiter, a quote or a line break. */
function csvFieldSql(column: string, delimiter: string): string {
  const special = [quoteString(delimiter), `'"'`, 'chr(10)', 'chr(13)'].map(
    (c) => `strpos(${column}, ${c}) > 0`,
  );
  return `CASE WHEN ${column} IS NULL THEN '' WHEN ${column} = '' OR ${special.join(' OR ')} THEN '"' || replace(${column}, '"', '""') || '"' ELSE ${column} END`;
}

const csvHeaderField = (name: string, delimiter: string): string =>
  [delimiter, '"'].some((c) => name.includes(c)) ? `"${name.replaceAll('"', '""')}"` : name;

export const writeCsvFile: FileWriter = async (source, options, path, range) => {
  assertCsvExportable(source.fields);
  const delimiter = csvDelimiter(options);
  const compression = duckCompression('CSV', options.compression);
  const separator = ` || ${quoteString(delimiter)} || `;
  const line =
    source.fields.length === 0
      ? `''`
      : source.fields.map((f) => csvFieldSql(quoteIdent(f.name), delimiter)).join(separator);
  const columns = [selectListSql(source.fields, csvLeaf), `rowid AS ${ORDER}`].filter((c) => c !== '');
  const encoded = `SELECT ${columns.join(', ')} ${rangeSql(source, range)}`;
  const rows = `SELECT ${line} AS line, ${ORDER} FROM (${encoded})`;
  const header = quoteString(source.fields.map((f) => csvHeaderField(f.name, delimiter)).join(delimiter));
  const query = options.printHeader
    ? `SELECT line FROM (SELECT ${header} AS line, -1 AS ${ORDER} UNION ALL ${rows}) ORDER BY ${ORDER}`
    : `SELECT line FROM (${rows}) ORDER BY ${ORDER}`;
  return copyToFile(source, query, path, rawLinesOptions(compression), options.printHeader ? 1 : 0);
};
