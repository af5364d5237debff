// Prunes as the engine runs them (docs/contracts.md, "Prune and verify requests"): the project's backups at
// one location decided by the retention policy, the catalogue reconciled with storage, one task per backup
// folder (PENDING: a worker deletes it; SKIPPED: kept, the note says why), deleted ones marked at the end.
import {
  checkEndpoint,
  destinationUri,
  lifecycleLocation,
  type BackupStore,
  type DestinationSpec,
  type EndpointAllowlist,
  type PlanSummary,
  type PruneRequest,
  type PruneTaskSpec,
  type StateStore,
} from '@bqbr/shared';
import type { OperationKind, PlannedTask } from '../../engine/operation-kind.js';
import { taskPages } from '../../engine/task-pages.js';
import { markDeleted, reconcileCatalogue, type CatalogueWrites } from './catalogue-sync.js';
import { planPrune, type PruneDecision, type PrunePlan, type PruneStateReads } from './prune-plan.js';

export interface PruneKindDeps {
  readonly store: PruneStateReads & CatalogueWrites & Pick<StateStore, 'listTasks'>;
  /** The store a location names (createStore on the services' clients). */
  readonly stores: (where: DestinationSpec) => BackupStore;
  /** The endpoints a request may name (endpointAllowlist of the services' env), checked at preflight. */
  readonly endpoints: EndpointAllowlist;
  readonly now?: () => Date;
}

/** The dry-run sample holds this many backups at most (PlanSummary's limit). */
const SAMPLE_LIMIT = 1000;

export function createPruneKind(deps: PruneKindDeps): OperationKind<PruneRequest> {
  const now = deps.now ?? (() => new Date());
  const locate = (request: PruneRequest): { spec: DestinationSpec; locationUri: string } => {
    const spec = lifecycleLocation(request);
    return { spec, locationUri: destinationUri(spec, 'backups') };
  };
  const decide = (request: PruneRequest): Promise<PrunePlan & { locationUri: string }> => {
    const { spec, locationUri } = locate(request);
    return planPrune(request, deps.stores(spec), deps.store, locationUri, now()).then((plan) => ({
      ...plan,
      locationUri,
    }));
  };

  return {
    preflight(request) {
      const { spec, locationUri } = locate(request);
      checkEndpoint(spec, deps.endpoints);
      return { location: locationUri };
    },

    async plan(request, operation, logger) {
      const plan = await decide(request);
      await reconcileCatalogue(
        plan,
        deps.store,
        { operationId: operation.operationId, locationUri: plan.locationUri, now: now() },
        logger,
      );
      const summary = planSummary(plan.decisions);
      logger.info('prune planned', {
        location: plan.locationUri,
        backups: summary.tables,
        deleting: summary.tables - summary.skipped,
        reconcileOnly: request.reconcileOnly === true,
      });
      const spec = locate(request).spec;
      return {
        fields: { plan: summary },
        tasks: plan.decisions.map((d) => pruneTask(request, spec, d)),
      };
    },

    async dryRun(request) {
      const plan = await decide(request);
      return { fields: { location: plan.locationUri }, plan: planSummary(plan.decisions) };
    },

    async finalize(operation, outcome) {
      const deleted: { backupId?: string }[] = [];
      for await (const page of taskPages(deps.store, operation.operationId, { status: 'SUCCEEDED' }))
        for (const task of page)
          if (task.spec.kind === 'prune' && task.spec.backupId !== undefined)
            deleted.push({ backupId: task.spec.backupId });
      await markDeleted(deleted, deps.store, {
        operationId: operation.operationId,
        finishedAt: outcome.finishedAt,
      });
      return undefined;
    },
  };
}

/** One backup folder's task: its table ref names the folder (`{project}.backups.{folder name}`). */
function pruneTask(request: PruneRequest, home: DestinationSpec, decision: PruneDecision): PlannedTask {
  const { backup, keep, reasons, backupId } = decision;
  const spec: PruneTaskSpec = {
    kind: 'prune',
    home,
    folderPath: backup.folderPath,
    folder: backup.folder,
    timestamp: backup.timestamp,
    snapshotMillis: backup.manifest?.snapshotMillis ?? backup.snapshotMillis,
    reasons: [...reasons],
    ...(backupId !== undefined ? { backupId } : {}),
  };
  return {
    table: { projectId: request.bigQuery.projectId, datasetId: 'backups', tableId: backup.timestamp },
    spec,
    status: keep ? 'SKIPPED' : 'PENDING',
    ...(keep ? { note: `kept: ${reasons.join('; ')}` } : {}),
  };
}

/** What the plan (and a dry run) shows: every backup with KEEP or DELETE and its reasons. */
function planSummary(decisions: readonly PruneDecision[]): PlanSummary {
  const deleting = decisions.filter((d) => !d.keep);
  return {
    tables: decisions.length,
    skipped: decisions.length - deleting.length,
    bytes: deleting.reduce((sum, d) => sum + (d.backup.manifest?.summary.bytes ?? 0), 0),
    rows: deleting.reduce((sum, d) => sum + (d.backup.manifest?.summary.rows ?? 0), 0),
    sample: decisions.slice(0, SAMPLE_LIMIT).map((d) => ({
      table: d.backup.timestamp,
      action: d.keep ? 'KEEP' : 'DELETE',
      note: d.reasons.join('; '),
      ...(d.backup.manifest !== undefined ? { bytes: d.backup.manifest.summary.bytes } : {}),
    })),
  };
}
