// Target datasets: each created once by the dispatcher, in its location, before any task runs.
import { ORIGINAL_RESTORE_REGION, restoreSource, type Logger, type RestoreRequest } from '@bqbr/shared';
import type { BackupSource } from './backup-source.js';
import { backedUpDataset, creationSettings } from './dataset-settings.js';
import type { RestorePlan } from './restore-plan.js';
import { RestorePlanError } from './restore-plan-error.js';

export interface TargetDatasets {
  /** Where the dataset is, or undefined when it does not exist. */
  find(ref: {
    projectId: string;
    datasetId: string;
  }): Promise<{ location: string; creationTime?: number } | undefined>;
  /**
   * Creates the dataset (in BigQuery's default location when undefined), with `settings` (Dataset
   * resource fields such as labels) when given; 'existed' when it already did.
   */
  create(
    ref: { projectId: string; datasetId: string },
    location: string | undefined,
    settings?: Readonly<Record<string, unknown>>,
  ): Promise<'created' | 'existed'>;
  /** Replaces the dataset's access entries (datasets.patch). */
  setAccess(
    ref: { projectId: string; datasetId: string },
    access: readonly Record<string, unknown>[],
  ): Promise<void>;
}

/** Where each target dataset is (its tasks' jobs run there), and which of them this restore created. */
export interface TargetDatasetPlan {
  readonly locations: Map<string, string | undefined>;
  /** Created by this operation: by this delivery, or (a redelivery) at or after `createdSince`. */
  readonly created: readonly string[];
}

// BigQuery names locations in either case (`EU`, `eu`, `europe-west3`).
const sameLocation = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase();

/**
 * Ensures every target dataset of the plan's restored tables; returns the location each one is in, where
 * its tasks' jobs run. A new dataset goes to `restoreRegion`, else the backed-up dataset's location (from
 * one of its manifests; an original-layout backup records none: the original service's default region).
 * An existing dataset is left as it is, and one outside an explicit `restoreRegion` refuses the restore
 * before any dataset is created. A new dataset gets the backed-up dataset's settings (dataset-settings.ts).
 */
export async function prepareTargetDatasets(
  request: RestoreRequest,
  plan: RestorePlan,
  deps: { readonly backups: BackupSource; readonly datasets: TargetDatasets },
  logger: Logger,
  createdSince = Number.POSITIVE_INFINITY,
): Promise<TargetDatasetPlan> {
  const { importOptions, spec: where } = restoreSource(request);
  const { restoreRegion } = importOptions;
  const projectId = request.bigQuery.projectId;
  const wanted = new Map<string, string | undefined>();
  for (const entry of plan.entries) {
    if (entry.action !== 'RESTORE' || wanted.has(entry.target.datasetId)) continue;
    const location =
      restoreRegion ??
      (entry.original !== undefined
        ? ORIGINAL_RESTORE_REGION
        : await deps.backups.manifestLocation(where, entry.manifestPath));
    wanted.set(entry.target.datasetId, location);
  }
  const existing = new Map<string, string>();
  const created: string[] = [];
  for (const datasetId of wanted.keys()) {
    const found = await deps.datasets.find({ projectId, datasetId });
    if (found !== undefined) existing.set(datasetId, found.location);
    if (found?.creationTime !== undefined && found.creationTime >= createdSince) created.push(datasetId);
  }
  const elsewhere = [...existing].filter(
    ([, location]) => restoreRegion !== undefined && !sameLocation(location, restoreRegion),
  );
  if (elsewhere.length > 0)
    throw new RestorePlanError({
      reason: 'failedPrecondition',
      message: `target dataset ${elsewhere.map(([d, l]) => `${projectId}:${d} is in ${l}`).join(', ')}, not in importOptions.restoreRegion ${restoreRegion}, and BigQuery cannot move a dataset: leave restoreRegion out to restore into it where it is, or name another target (targetDataset, targetDatasetPrefix); nothing was done`,
    });

  const locations = new Map<string, string | undefined>();
  for (const [datasetId, location] of wanted) {
    const found = existing.get(datasetId);
    if (found !== undefined) {
      locations.set(datasetId, found);
      logger.info('target dataset exists: left as it is', { datasetId, location: found });
      continue;
    }
    const backedUp = backedUpDataset(plan, datasetId).entry;
    const outcome = await deps.datasets.create(
      { projectId, datasetId },
      location,
      creationSettings(backedUp),
    );
    if (outcome === 'created') created.push(datasetId);
    locations.set(datasetId, location);
    logger.info(outcome === 'created' ? 'target dataset created' : 'target dataset exists: left as it is', {
      datasetId,
      location,
    });
  }
  return { locations, created };
}
