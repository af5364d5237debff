// A backup's dry run: what it would export, sized from BigQuery's table metadata.
import type { BackupRequest, PlanSummary } from '@bqbr/shared';
import { pages } from '../../engine/pages.js';
import type { Catalog } from './catalog.js';
import { planTables } from './table-selection.js';

const SAMPLE_SIZE = 1000;
/** Tables whose sizes are looked up at once. */
const STATS_CONCURRENCY = 16;

/** A dry run: what a backup would export, with sizes of the first 1,000 exported tables. */
export async function dryRunPlan(
  catalog: Catalog,
  request: BackupRequest,
  snapshotMillis: number,
): Promise<PlanSummary> {
  let tables = 0;
  let skipped = 0;
  let bytes = 0;
  let rows = 0;
  const sample: PlanSummary['sample'][number][] = [];
  for await (const page of pages(planTables(catalog, request, snapshotMillis), STATS_CONCURRENCY)) {
    const stats = await Promise.all(
      page.map((planned) =>
        planned.action === 'EXPORT' && sample.length < SAMPLE_SIZE
          ? catalog.getTable(planned.table)
          : Promise.resolve(undefined),
      ),
    );
    for (const [i, planned] of page.entries()) {
      tables++;
      const stat = stats[i];
      if (planned.action !== 'EXPORT') skipped++;
      bytes += stat?.numBytes ?? 0;
      rows += stat?.numRows ?? 0;
      if (sample.length < SAMPLE_SIZE) {
        const note =
          planned.note ?? (planned.error ? `${planned.error.reason}: ${planned.error.message}` : undefined);
        sample.push({
          table: `${planned.table.datasetId}.${planned.table.tableId}`,
          action: planned.action === 'EXPORT' ? 'EXPORT' : 'SKIP',
          ...(note !== undefined ? { note } : {}),
          ...(stat ? { bytes: stat.numBytes } : {}),
        });
      }
    }
  }
  return { tables, skipped, bytes, rows, sample };
}
