// Which files of an original-layout backup (no manifests) a restore loads. The original service found a
// table's files by `importOptions.format` (`{table}-*.{format}`), so here the format chooses them too;
// absent, each table's files are loaded in the one format they are in.
import type { Format } from '@bqbr/shared';
import type { OriginalTable } from './backup-source.js';
import { RestorePlanError } from './restore-plan-error.js';

/** One table of the backup: the files to load, or why there are none to load. */
export type OriginalChoice =
  | { readonly datasetId: string; readonly tableId: string; readonly table: OriginalTable }
  | { readonly datasetId: string; readonly tableId: string; readonly problem: string };

/**
 * Each table's files in `format` (absent: in the one format the table has). A `format` none of the
 * tables has is refused as a whole (RestorePlanError), so nothing is created for a restore that would
 * load nothing.
 */
export function chooseOriginalFiles(
  tables: readonly OriginalTable[],
  format: Format | undefined,
  folder: string,
): OriginalChoice[] {
  if (format !== undefined && tables.length > 0 && !tables.some((t) => t.format === format)) {
    throw new RestorePlanError({
      reason: 'invalid',
      message: `importOptions.format is ${format}, but the backup at ${folder} holds no ${format} files (only ${kindsOf(tables)}): leave format out to restore each table's files as they are; nothing was done`,
    });
  }
  const byTable = new Map<string, OriginalTable[]>();
  for (const table of tables) {
    const key = `${table.datasetId}.${table.tableId}`;
    byTable.set(key, [...(byTable.get(key) ?? []), table]);
  }
  return [...byTable.values()].map((groups) => {
    const { datasetId, tableId } = groups[0]!;
    const wanted = format === undefined ? groups : groups.filter((g) => g.format === format);
    if (wanted.length === 1) return { datasetId, tableId, table: wanted[0]! };
    const found = kindsOf(groups);
    if (wanted.length === 0)
      return { datasetId, tableId, problem: `its files are ${found}, not ${format} (importOptions.format)` };
    if (format === undefined && new Set(groups.map((g) => g.format)).size > 1)
      return { datasetId, tableId, problem: `its files are ${found}: set importOptions.format to choose` };
    // https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-csv: no mixing in one load job.
    return {
      datasetId,
      tableId,
      problem: `its ${wanted[0]!.format} files are both gzip-compressed and not, which BigQuery cannot load in one job`,
    };
  });
}

/** `AVRO and CSV (gzip)`: the kinds of files of some tables. */
function kindsOf(tables: readonly OriginalTable[]): string {
  const kinds = new Set(tables.map((t) => `${t.format}${t.compressed === true ? ' (gzip)' : ''}`));
  return [...kinds].sort().join(' and ');
}
