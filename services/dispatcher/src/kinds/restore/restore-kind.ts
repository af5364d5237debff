// Restores as the engine runs them: find the backup, choose the tables and their targets, create each
// target dataset once, plan one task per table; views are a second phase, released once tables finished.
import {
  checkEndpoint,
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
      const locations = await prepareTargetDatasets(request, plan, deps, logger);
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
        fields: backupFields(plan),
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
  };
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
