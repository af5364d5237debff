// PARQUET extract files, written by DuckDB with the column types of BigQuery's "Parquet export details"
// table (https://cloud.google.com/bigquery/docs/exporting-data#parquet_export_details): RECORDs as groups,
// REPEATED fields as LISTs, columns named as the BigQuery fields.
import { selectListSql } from '../value-sql.js';
import { copyToFile, duckCompression, parquetLeaf, rangeSql } from './export-encodings.js';
import type { FileWriter } from './types.js';

export const writeParquetFile: FileWriter = async (source, options, path, range) => {
  const compression = duckCompression('PARQUET', options.compression);
  const query = `SELECT ${selectListSql(source.fields, parquetLeaf)} ${rangeSql(source, range)} ORDER BY rowid`;
  return copyToFile(
    source,
    query,
    path,
    `FORMAT parquet, COMPRESSION ${compression}, GEOPARQUET_VERSION 'BOTH'`,
  );
};
