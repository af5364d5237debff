// Finding the backup a restore names (a timestamp or `latest`) in the store its request names.
import { destinationUri, restoreSource, type RestoreRequest } from '@bqbr/shared';
import type { BackupSource, FoundBackup } from './backup-source.js';
import { RestorePlanError } from './restore-plan-error.js';

/** The finished backup, or a RestorePlanError naming the backups there are. */
export async function findBackup(request: RestoreRequest, source: BackupSource): Promise<FoundBackup> {
  const { spec: where, projectIdOfBackup: project, backupTimestamp } = restoreSource(request);
  const backup = await source.find(where, project, backupTimestamp);
  if (backup === undefined) {
    const rootUri = destinationUri(where, '');
    const known = await source.timestamps(where, project);
    const listed =
      known.length === 0
        ? 'there are none'
        : `found: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', …' : ''}`;
    throw new RestorePlanError({
      reason: 'notFound',
      message:
        backupTimestamp === 'latest'
          ? `no finished backup of project ${project} under ${rootUri}/backups (${listed})`
          : `no backup of project ${project} at ${rootUri}/backups/${backupTimestamp} (${listed})`,
    });
  }
  if (backup.layout === 'pruning')
    throw new RestorePlanError({
      reason: 'failedPrecondition',
      message: `the backup at ${backup.folder} is partially deleted (a prune started deleting it; the next prune finishes)`,
    });
  if (backup.layout === 'incomplete')
    throw new RestorePlanError({
      reason: 'failedPrecondition',
      message: `the backup at ${backup.folder} has no readable _backup.json: it is still running or was interrupted${backup.problem ? ` (${backup.problem})` : ''}`,
    });
  return backup;
}
