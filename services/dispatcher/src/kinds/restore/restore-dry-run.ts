// A restore's dry run: its plan in the operation's plan summary, sized from `_backup.json`.
import type { PlanSummary } from '@bqbr/shared';
import type { RestorePlan } from './restore-plan.js';

const SAMPLE_SIZE = 1000;

export function dryRunSummary(plan: RestorePlan): PlanSummary {
  const restored = plan.entries.filter((e) => e.action === 'RESTORE');
  return {
    tables: plan.entries.length,
    skipped: plan.entries.length - restored.length,
    bytes: restored.reduce((n, e) => n + (e.bytes ?? 0), 0),
    rows: restored.reduce((n, e) => n + (e.rows ?? 0), 0),
    sample: plan.entries.slice(0, SAMPLE_SIZE).map((e) => ({
      table: `${e.source.datasetId}.${e.source.tableId} → ${e.target.datasetId}.${e.target.tableId}`,
      action: e.action === 'RESTORE' ? 'RESTORE' : 'SKIP',
      ...(e.note !== undefined ? { note: e.note } : {}),
      ...(e.error !== undefined ? { note: `${e.error.reason}: ${e.error.message}` } : {}),
      ...(e.bytes !== undefined ? { bytes: e.bytes } : {}),
    })),
  };
}
