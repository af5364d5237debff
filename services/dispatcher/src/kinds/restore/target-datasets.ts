// Target datasets: each created once by the dispatcher, in its location, before any task runs.
import { restoreSource, type Logger, type RestoreRequest } from '@bqbr/shared';
import type { BackupSource } from './backup-source.js';
import type { RestorePlan } from './restore-plan.js';

export interface TargetDatasets {
  /** Creates the dataset unless it exists; says which. An existing dataset is left as it is. */
  ensure(
    ref: { projectId: string; datasetId: string },
    location: string | undefined,
  ): Promise<'created' | 'existed'>;
}

/**
 * Ensures every target dataset of the plan's restored tables; returns each one's location:
 * `restoreRegion`, else the backed-up dataset's (from one of its manifests).
 */
export async function prepareTargetDatasets(
  request: RestoreRequest,
  plan: RestorePlan,
  deps: { readonly backups: BackupSource; readonly datasets: TargetDatasets },
  logger: Logger,
): Promise<Map<string, string | undefined>> {
  const { importOptions, spec: where } = restoreSource(request);
  const locations = new Map<string, string | undefined>();
  for (const entry of plan.entries) {
    if (entry.action !== 'RESTORE' || locations.has(entry.target.datasetId)) continue;
    const location =
      importOptions.restoreRegion ??
      (entry.manifestPath !== undefined
        ? await deps.backups.manifestLocation(where, entry.manifestPath)
        : undefined);
    locations.set(entry.target.datasetId, location);
  }
  for (const [datasetId, location] of locations) {
    const outcome = await deps.datasets.ensure(
      { projectId: request.bigQuery.projectId, datasetId },
      location,
    );
    logger.info(outcome === 'created' ? 'target dataset created' : 'target dataset exists: left as it is', {
      datasetId,
      location,
    });
  }
  return locations;
}
