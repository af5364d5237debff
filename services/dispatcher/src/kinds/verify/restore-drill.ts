// A verify's restore drill (docs/contracts.md, "Prune and verify requests"): one scratch dataset per
// source dataset of the backup, created at planning in that dataset's location; every table's task also
// loads its files into it and compares the rows with the manifest; the datasets are dropped when the
// verify ends. They expire on their own too (a day's default table expiration), should a drop fail.
import {
  drillDatasetId,
  lifecycleLocation,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type StateStore,
  type TableRef,
  type VerifyRequest,
} from '@bqbr/shared';
import { taskPages } from '../../engine/task-pages.js';
import type { BackupSource } from '../restore/backup-source.js';
import type { TargetDatasets } from '../restore/target-datasets.js';
import { landingFolder } from '../staging.js';
import type { VerifyPlan } from './verify-plan.js';

export interface DrillDatasets extends Pick<TargetDatasets, 'find' | 'create'> {
  /** Deletes the dataset and every table in it; a missing one is fine. */
  delete(ref: { projectId: string; datasetId: string }): Promise<void>;
}

export interface DrillDeps {
  readonly backups: BackupSource;
  readonly datasets: DrillDatasets;
  readonly stagingUri?: string;
}

const DAY_MS = 86_400_000;

/** The plan with every verified table's drill: its scratch table, landing folder and location. */
export async function withDrill(
  request: VerifyRequest,
  plan: VerifyPlan,
  operationId: string,
  deps: DrillDeps,
  logger: Logger,
): Promise<VerifyPlan> {
  const where = lifecycleLocation(request);
  const projectId = request.restoreDrillProjectId ?? request.bigQuery.projectId;
  const locations = new Map<string, string | undefined>();
  for (const entry of plan.entries) {
    const { datasetId } = entry.table;
    if (entry.action !== 'VERIFY' || locations.has(datasetId)) continue;
    const location = await deps.backups.manifestLocation(where, entry.spec.manifestPath);
    const scratch = { projectId, datasetId: drillDatasetId(operationId, datasetId) };
    const created = await deps.datasets.create(scratch, location, {
      labels: { bqbr: 'restore-drill' },
      description: `bqbr restore drill of operation ${operationId}: dropped when it ends`,
      defaultTableExpirationMs: String(DAY_MS),
    });
    logger.info('restore drill dataset', { ...scratch, location, created });
    locations.set(datasetId, location);
  }
  const staging = { stagingUri: deps.stagingUri, operationId };
  return {
    ...plan,
    entries: plan.entries.map((entry) => {
      if (entry.action !== 'VERIFY') return entry;
      const target: TableRef = {
        projectId,
        datasetId: drillDatasetId(operationId, entry.table.datasetId),
        tableId: entry.table.tableId,
      };
      const tablePath = entry.spec.manifestPath.slice(0, entry.spec.manifestPath.lastIndexOf('/'));
      const location = locations.get(entry.table.datasetId);
      return {
        ...entry,
        spec: {
          ...entry.spec,
          drill: {
            target,
            landingFolder: landingFolder('restore', where, tablePath, staging, entry.table),
            ...(location !== undefined ? { location } : {}),
          },
        },
      };
    }),
  };
}

/** Drops the drill's scratch datasets, as its tasks name them; the problem to keep on the operation. */
export async function dropDrill(
  operation: OperationDoc,
  deps: { readonly datasets: DrillDatasets; readonly store: Pick<StateStore, 'listTasks'> },
  logger: Logger,
): Promise<ErrorInfo | undefined> {
  const datasets = new Map<string, { projectId: string; datasetId: string }>();
  for await (const page of taskPages(deps.store, operation.operationId))
    for (const { spec } of page) {
      if (spec.kind !== 'verify' || spec.drill === undefined) continue;
      const { projectId, datasetId } = spec.drill.target;
      datasets.set(`${projectId}:${datasetId}`, { projectId, datasetId });
    }
  const left: string[] = [];
  for (const [name, ref] of datasets) {
    try {
      await deps.datasets.delete(ref);
    } catch (err) {
      logger.warn('restore drill dataset not dropped', { dataset: name, error: (err as Error).message });
      left.push(name);
    }
  }
  return left.length === 0
    ? undefined
    : {
        reason: 'internal',
        message: `the restore drill's scratch dataset(s) ${left.join(', ')} could not be dropped: their tables expire within a day`,
      };
}
