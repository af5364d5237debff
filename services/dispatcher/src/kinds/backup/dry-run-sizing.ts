// A backup's dry run: what it would export, sized from BigQuery's table metadata. Every exported table is
// sized a page at a time, so that totals cover a project of any size in bounded memory; only the sample
// stops at 1,000 tables. tables.list returns a "partial projection" without numBytes or numRows, so each
// table costs a tables.get (https://cloud.google.com/bigquery/docs/reference/rest/v2/tables/list).
import { classifyError, type BackupRequest, type PlanSummary, type TableRef } from '@bqbr/shared';
import type { DryRun } from '../../engine/operation-kind.js';
import { pages } from '../../engine/pages.js';
import type { Catalog, TableStats } from './catalog.js';
import { planTables, type PlannedTable } from './table-selection.js';

const SAMPLE_SIZE = 1000;
/** Tables whose sizes are looked up at once. */
const STATS_CONCURRENCY = 16;

/** One table's size, or why it could not be read. */
type Sizing = { readonly stats: TableStats } | { readonly gone: true } | { readonly problem: string };

/**
 * A dry run: every table the backup would cover, with bytes and rows summed over all exported tables and
 * the first 1,000 tables as a sample. A table whose size cannot be read is left out of the totals, noted
 * in the sample, and counted in a warning that says the totals are partial.
 */
export async function dryRunPlan(
  catalog: Catalog,
  request: BackupRequest,
  snapshotMillis: number,
): Promise<DryRun> {
  let tables = 0;
  let skipped = 0;
  let exported = 0;
  let bytes = 0;
  let rows = 0;
  let unsized = 0;
  let firstProblem: string | undefined;
  const sample: PlanSummary['sample'][number][] = [];
  for await (const page of pages(planTables(catalog, request, snapshotMillis), STATS_CONCURRENCY)) {
    const sizes = await Promise.all(
      page.map((planned) =>
        planned.action === 'EXPORT' ? sizeOf(catalog, planned.table) : Promise.resolve(undefined),
      ),
    );
    for (const [i, planned] of page.entries()) {
      tables++;
      const size = sizes[i];
      if (planned.action === 'EXPORT') exported++;
      else skipped++;
      if (size !== undefined && 'stats' in size) {
        bytes += size.stats.numBytes;
        rows += size.stats.numRows;
      } else if (size !== undefined && 'problem' in size) {
        unsized++;
        firstProblem ??= `${qualified(planned.table)}: ${size.problem}`;
      }
      if (sample.length < SAMPLE_SIZE) {
        const note = noteOf(planned, size);
        sample.push({
          table: qualified(planned.table),
          action: planned.action === 'EXPORT' ? 'EXPORT' : 'SKIP',
          ...(note !== undefined ? { note } : {}),
          ...(size !== undefined && 'stats' in size ? { bytes: size.stats.numBytes } : {}),
        });
      }
    }
  }
  if (unsized === 0) return { plan: { tables, skipped, bytes, rows, sample } };
  const plan = { tables, skipped, bytes, rows, sample, unsizedTables: unsized };
  const warning =
    `dry-run totals are partial: bytes and rows cover ${exported - unsized} of ${exported} exported tables; ` +
    `${unsized} could not be sized (first: ${firstProblem})`;
  return { plan, fields: { warnings: [warning] } };
}

/** A table's size; a table gone since it was listed has none to export, a read that failed leaves it unknown. */
async function sizeOf(catalog: Catalog, table: TableRef): Promise<Sizing> {
  try {
    const found = await catalog.getTable(table);
    return found ? { stats: found } : { gone: true };
  } catch (err) {
    const failure = classifyError(err);
    return { problem: `${failure.reason}: ${failure.message}` };
  }
}

function noteOf(planned: PlannedTable, size: Sizing | undefined): string | undefined {
  if (planned.note !== undefined) return planned.note;
  if (planned.error) return `${planned.error.reason}: ${planned.error.message}`;
  if (size !== undefined && 'problem' in size) return `size unknown: ${size.problem}`;
  if (size !== undefined && 'gone' in size) return 'not found when its size was read';
  return undefined;
}

const qualified = (table: TableRef): string => `${table.datasetId}.${table.tableId}`;
