// NEWLINE_DELIMITED_JSON extract files: each row's JSON text is built in SQL (NULL members left out, as
// BigQuery does) and written verbatim, one line per row.
import { quoteIdent } from '../schema.js';
import { copyToFile, duckCompression, jsonObjectSql, rangeSql, rawLinesOptions } from './export-encodings.js';
import type { FileWriter } from './types.js';

export const writeJsonFile: FileWriter = async (source, options, path, range) => {
  const compression = duckCompression('NEWLINE_DELIMITED_JSON', options.compression);
  const line = jsonObjectSql(source.fields, quoteIdent);
  const query = `SELECT ${line} AS line ${rangeSql(source, range)} ORDER BY rowid`;
  return copyToFile(source, query, path, rawLinesOptions(compression));
};
