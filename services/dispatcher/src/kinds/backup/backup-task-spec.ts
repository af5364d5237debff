// A backup task's spec: everything a worker needs to export one table, without reading the request.
import {
  backupDestination,
  destinationUri,
  parseRetentionDuration,
  tablePath,
  type BackupRequest,
  type BackupTaskSpec,
  type TableRef,
  type WriteOnce,
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
  const { spec: home, exportOptions, writeOnce } = backupDestination(request);
  const lock = writeOnce === undefined ? undefined : writeOnceLock(writeOnce, snapshotMillis);
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
      ...(lock ? { writeOnce: lock } : {}),
      ...(request.verify === 'FINGERPRINT' ? { fingerprint: true } : {}),
    };
  };
}

/**
 * The lock a write-once backup's objects get: from the snapshot instant, which every table and
 * `_backup.json` share, `retainFor` later on the UTC calendar. GOVERNANCE unless the request says.
 */
export function writeOnceLock(
  writeOnce: WriteOnce,
  snapshotMillis: number,
): { readonly mode: 'GOVERNANCE' | 'COMPLIANCE'; readonly retainUntil: string } {
  // The request's codec accepted the duration already.
  const duration = parseRetentionDuration(writeOnce.retainFor)!;
  const until = new Date(snapshotMillis);
  until.setUTCFullYear(
    until.getUTCFullYear() + duration.years,
    until.getUTCMonth() + duration.months,
    until.getUTCDate() + duration.days,
  );
  return {
    mode: writeOnce.mode ?? 'GOVERNANCE',
    // On a whole second, rounded up: Azure's policy headers carry no milliseconds, and no store may
    // end a lock before the instant asked for.
    retainUntil: new Date(
      Math.ceil((until.getTime() + duration.hours * 3_600_000) / 1000) * 1000,
    ).toISOString(),
  };
}
