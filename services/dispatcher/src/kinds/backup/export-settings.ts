// The export settings of a backup: what its task specs say and `_backup.json` records.
import { backupDestination, type BackupRequest, type Compression, type ExportSettings } from '@bqbr/shared';

/** The export settings a request asks for, with BigQuery's defaults filled in. */
export function exportSettings(
  request: BackupRequest,
): ExportSettings & { readonly compression: Compression } {
  const options = backupDestination(request).exportOptions;
  return {
    format: options.format,
    compression: options.compression ?? 'NONE',
    header: options.header ?? true,
    fieldDelimiter: options.fieldDelimiter ?? ',',
    useAvroLogicalTypes: options.format === 'AVRO',
  };
}
