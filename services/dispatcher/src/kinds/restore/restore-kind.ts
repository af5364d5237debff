// Restores as the engine runs them: find the backup, choose the tables and their targets, create each
// target dataset once, plan one task per table; views are a second phase, released once tables finished.
import {
  checkEndpoint,
  classifyError,
  restoreSource,
  type EndpointAllowlist,
  type OperationDoc,
  type RestoreRequest,
  type StateStore,
} from '@bqbr/shared';
import type { OperationKind } from '../../engine/operation-kind.js';
import { checkStaging } from '../staging.js';
import type { BackupSource } from './backup-source.js';
import { releaseViews } from './release-views.js';
import { dryRunSummary } from './restore-dry-run.js';
import { planRestore, type RestorePlan } from './restore-plan.js';
import { restoreTaskSpecs } from './restore-task-spec.js';
import { prepareTargetDatasets, type TargetDatasets } from './target-datasets.js';
import { backedUpDataset, restoredAccess } from './dataset-settings.js';

export interface RestoreKindDeps {
  readonly store: Pick<StateStore, 'updateOperation'>;
  readonly backups: BackupSource;
  readonly datasets: TargetDatasets;
  /** gs:// folder a backup outside Cloud Storage is staged in to be loaded (BQBR_STAGING_URI). */
  readonly stagingUri?: string;
  /**
   * The endpoints a request may name (endpointAllowlist of the services' env): checked at preflight, so
   * a request naming another fails at once (the HTTP API answers 400); createStore refuses it anyway.
   */
  readonly endpoints: EndpointAllowlist;
}

export function createRestoreKind(deps: RestoreKindDeps): OperationKind<RestoreRequest> {
  return {
    preflight(request) {
      const { spec } = restoreSource(request);
      checkEndpoint(spec, deps.endpoints);
      checkStaging('restore', spec, deps.stagingUri);
      return {};
    },

    // The backup is found and its tables chosen (format checked) from the store alone: no BigQuery.
    async admit(request) {
      await planRestore(request, deps.backups);
    },

    async plan(request, operation, logger) {
      const plan = await planRestore(request, deps.backups);
      const { locations, created } = await prepareTargetDatasets(
        request,
        plan,
        deps,
        logger,
        Date.parse(operation.createdAt),
      );
      const datasetAccess = request.restoreAccess === true ? accessPlan(request, plan, created) : [];
      logger.info('restore planned', {
        backup: plan.backup.folder,
        layout: plan.backup.layout,
        tables: plan.entries.length,
      });
      const specOf = restoreTaskSpecs(request, plan, locations, {
        stagingUri: deps.stagingUri,
        operationId: operation.operationId,
      });
      return {
        fields: { ...backupFields(plan), ...(datasetAccess.length > 0 ? { datasetAccess } : {}) },
        tasks: plan.entries.map((entry) => ({
          table: entry.source,
          spec: specOf(entry),
          status: entry.action === 'RESTORE' ? 'PENDING' : entry.action === 'SKIP' ? 'SKIPPED' : 'FAILED',
          phase: entry.phase,
          ...(entry.note !== undefined ? { note: entry.note } : {}),
          ...(entry.error !== undefined ? { error: entry.error } : {}),
        })),
      };
    },

    async dryRun(request) {
      const plan = await planRestore(request, deps.backups);
      return { fields: backupFields(plan), plan: dryRunSummary(plan) };
    },

    advance: (operation, phases, logger) => releaseViews(operation, phases, deps.store, logger),

    // Once every table and view is restored, the datasets it created get their access entries (an
    // authorized view must exist before an entry can name it).
    async finalize(operation, _outcome, logger) {
      const problems: string[] = [];
      for (const { datasetId, access } of operation.datasetAccess ?? []) {
        const ref = { projectId: operation.projectId, datasetId };
        try {
          await deps.datasets.setAccess(ref, access);
          logger.info('access entries restored', { datasetId, entries: access.length });
        } catch (err) {
          const failure = classifyError(err);
          if (failure.kind === 'retryable') throw err;
          problems.push(`${operation.projectId}:${datasetId}: ${failure.message}`);
        }
      }
      return problems.length === 0
        ? undefined
        : { reason: 'invalid', message: `could not restore access entries of ${problems.join('; ')}` };
    },
  };
}

/**
 * With `restoreAccess`: the access entries of each dataset this restore created, rewritten to the restored
 * names and principals (dataset-settings.ts); what was changed or left out goes into the plan's warnings.
 */
function accessPlan(
  request: RestoreRequest,
  plan: RestorePlan,
  created: readonly string[],
): { datasetId: string; access: Record<string, unknown>[] }[] {
  const context = {
    backupProject: restoreSource(request).projectIdOfBackup,
    targetProject: request.bigQuery.projectId,
    datasetMap: plan.datasetMap,
    principalMap: request.accessPrincipalMap ?? {},
  };
  const planned: { datasetId: string; access: Record<string, unknown>[] }[] = [];
  for (const datasetId of [...created].sort()) {
    const { source, entry } = backedUpDataset(plan, datasetId);
    if (entry?.access === undefined) {
      plan.warnings.push(
        `restoreAccess: the backup holds no access entries of dataset ${source ?? datasetId} (made before bqbr kept them, or in the original layout): ${datasetId} keeps BigQuery's defaults`,
      );
      continue;
    }
    const { access, changes } = restoredAccess(entry, context);
    plan.warnings.push(
      `restoreAccess: ${datasetId} gets ${access.length} of the ${entry.access.length} access entries of ${source ?? datasetId} (read ${entry.readAt})${changes.length > 0 ? `: ${changes.join('; ')}` : ''}`,
    );
    planned.push({ datasetId, access });
  }
  return planned;
}

/** What a restore's operation records of the backup it restores from. */
function backupFields({ backup, warnings }: RestorePlan): Partial<OperationDoc> {
  return {
    backupFolder: backup.folder,
    backupLayout: backup.layout === 'original' ? 'original' : 'bqbr',
    snapshotMillis: backup.snapshotMillis,
    snapshotTime: new Date(backup.snapshotMillis).toISOString(),
    location: backup.folder,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
