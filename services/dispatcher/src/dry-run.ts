// A dry run plans a backup without exporting anything and keeps the plan on a SUCCEEDED operation.
import type { PlanSummary, StateStore } from '@bqbr/shared';
import { newBackupOperation, type BackupStart } from './fan-out.js';
import { dryRunPlan, type Catalog } from './planner.js';

export async function recordDryRun(
  start: BackupStart,
  deps: { readonly store: StateStore; readonly catalog: Catalog; readonly now?: () => Date },
): Promise<PlanSummary> {
  const now = deps.now ?? (() => new Date());
  const existing = await deps.store.getOperation(start.operationId);
  if (existing?.plan) return existing.plan;
  const plan = await dryRunPlan(deps.catalog, start.request, start.snapshotMillis);
  const at = now().toISOString();
  const operation = newBackupOperation(start, now());
  await deps.store.createOperation({
    ...operation,
    status: 'SUCCEEDED',
    dryRun: true,
    plan,
    taskTotal: 0,
    fanOutComplete: true,
    finishedAt: at,
  });
  return plan;
}
