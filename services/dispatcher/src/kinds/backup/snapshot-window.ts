// The snapshot instant of a backup: every table is read at it, within BigQuery's time travel window.
import { ValidationError, snapshotInstant, type BackupRequest } from '@bqbr/shared';

/**
 * The instant every table is read at: `backupTime`, else now. BigQuery's time travel reaches 7 days
 * back and not into the future, so anything outside that window is an invalid request.
 */
export function resolveSnapshot(request: BackupRequest, now: Date, maxAgeMs: number): number {
  let instant: number;
  try {
    instant = snapshotInstant(request.backupTime, now).getTime();
  } catch (err) {
    throw new ValidationError('backup request', [
      { path: 'backupTime', message: String((err as Error).message) },
    ]);
  }
  if (instant > now.getTime()) {
    throw new ValidationError('backup request', [
      {
        path: 'backupTime',
        message: `${new Date(instant).toISOString()} is in the future (now ${now.toISOString()})`,
      },
    ]);
  }
  if (now.getTime() - instant > maxAgeMs) {
    throw new ValidationError('backup request', [
      {
        path: 'backupTime',
        message: `${new Date(instant).toISOString()} is older than BigQuery's time travel window (7 days, less a safety margin of 5 minutes)`,
      },
    ]);
  }
  return instant;
}
