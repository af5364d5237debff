// A backup task's spec: everything a worker needs to export one table, without reading the request.
import {
  backupDestination,
  destinationUri,
  tablePath,
  type BackupRequest,
  type BackupTaskSpec,
  type TableRef,
} from '@bqbr/shared';
import { landingFolder, type Staging } from '../staging.js';
import { exportSettings } from './export-settings.js';

/** The spec of each table of one backup; what all its tables share is worked out once. */
export function backupTaskSpecs(
  request: BackupRequest,
  snapshotMillis: number,
  staging: Staging,
): (table: TableRef) => BackupTaskSpec {
  const { format, compression, header, fieldDelimiter } = exportSettings(request);
  const { spec: home, exportOptions } = backupDestination(request);
  return (table) => {
    // The operation names the folder too: two backups of one second never share one.
    const path = tablePath(
      snapshotMillis,
      table.projectId,
      table.datasetId,
      table.tableId,
      staging.operationId,
    );
    return {
      kind: 'backup',
      source: table,
      snapshotMillis,
      home,
      tablePath: path,
      landingFolder: landingFolder('backup', home, path, staging, table),
      tableFolder: destinationUri(home, path),
      format,
      compression,
      header,
      fieldDelimiter,
      overwrite: exportOptions.overwrite,
    };
  };
}
