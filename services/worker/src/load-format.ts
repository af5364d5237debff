// BigQuery load options per file format: how bqbr's own export (or the original service's) wrote the files.
import type { TableManifest } from '@bqbr/shared';

export function formatOptions(
  format: TableManifest['export']['format'],
  header: boolean,
  fieldDelimiter: string,
): Record<string, unknown> {
  switch (format) {
    case 'AVRO':
      return { sourceFormat: 'AVRO', useAvroLogicalTypes: true };
    case 'PARQUET':
      return { sourceFormat: 'PARQUET', parquetOptions: { enableListInference: true } };
    case 'JSON':
      return { sourceFormat: 'NEWLINE_DELIMITED_JSON' };
    case 'CSV':
      return {
        sourceFormat: 'CSV',
        skipLeadingRows: header ? 1 : 0,
        fieldDelimiter,
        allowQuotedNewlines: true,
      };
  }
}
