// Restore planning: what the backup holds (from `_backup.json`, or in the original service's layout from
// its file names), which of its tables the request asks for, and what happens to each.
import {
  TABLE_MANIFEST,
  restoreSource,
  type BackupTableEntry,
  type ErrorInfo,
  type RestoreRequest,
  type TableRef,
} from '@bqbr/shared';
import type { BackupSource, FoundBackup, OriginalTable } from './backup-source.js';
import { findBackup } from './find-backup.js';
import { chooseOriginalFiles } from './original-layout-files.js';
import { RestorePlanError } from './restore-plan-error.js';
import { targetDatasetOf } from './restore-targets.js';

interface EntryFields {
  readonly source: TableRef;
  readonly target: TableRef;
  /** 1 tables, 2 views (released once every table finished, so they can read restored tables). */
  readonly phase: 1 | 2;
  /** The table folder's path in the store (`backups/<ts>/<project>/<dataset>/<table>`). */
  readonly tablePath?: string;
  /** Its `_table.json`: path in the store, URI and MD5 as `_backup.json` records them. */
  readonly manifestPath?: string;
  readonly manifestUri?: string;
  readonly manifestMd5?: string;
  readonly original?: OriginalTable;
  readonly rows?: number;
  readonly bytes?: number;
  readonly note?: string;
  readonly error?: ErrorInfo;
}

/** One table of the restore: restored from its manifest or from original-layout files, or decided at once. */
export type RestorePlanEntry =
  | (EntryFields & {
      readonly action: 'RESTORE';
      readonly tablePath: string;
      readonly manifestPath: string;
      readonly manifestUri: string;
      readonly original?: undefined;
    })
  | (EntryFields & { readonly action: 'RESTORE'; readonly original: OriginalTable })
  | (EntryFields & { readonly action: 'SKIP' | 'FAIL' });

export interface RestorePlan {
  readonly backup: FoundBackup;
  readonly entries: RestorePlanEntry[];
  readonly warnings: string[];
  /** Source dataset → target dataset, for every dataset in scope. */
  readonly datasetMap: Record<string, string>;
}

const isRecordedAs = (status: string): 'ok' | 'view' | 'failed' | 'absent' =>
  status === 'SUCCEEDED' ? 'ok' : status === 'SKIPPED' ? 'view' : status === 'FAILED' ? 'failed' : 'absent';

/** Finds the backup and decides every table: what is restored where, and what is skipped or failed at once. */
export async function planRestore(request: RestoreRequest, source: BackupSource): Promise<RestorePlan> {
  const { spec: where, projectIdOfBackup: backupProject, importOptions } = restoreSource(request);
  const backup = await findBackup(request, source);
  const { format } = importOptions;

  const wantedDatasets = request.bigQuery.datasetsToRestore ?? [];
  const wantedTables = request.bigQuery.tablesToRestore;
  const inDatasetScope = (datasetId: string): boolean =>
    wantedDatasets.length === 0 || wantedDatasets.includes(datasetId);
  const inScope = (datasetId: string, tableId: string): boolean =>
    inDatasetScope(datasetId) &&
    (wantedTables === undefined || wantedTables.includes(`${datasetId}.${tableId}`));
  const targetProject = request.bigQuery.projectId;
  const ref = (projectId: string, datasetId: string, tableId: string): TableRef => ({
    projectId,
    datasetId,
    tableId,
  });
  const targetOf = (datasetId: string, tableId: string): TableRef =>
    ref(targetProject, targetDatasetOf(request, datasetId), tableId);

  const entries: RestorePlanEntry[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const datasetsInBackup = new Set<string>();

  if (backup.layout === 'bqbr') {
    const manifest = backup.manifest!;
    if (format !== undefined && format !== manifest.export.format)
      throw new RestorePlanError({
        reason: 'invalid',
        message: `importOptions.format is ${format}, but the backup at ${backup.folder} is in ${manifest.export.format} (its _backup.json): leave format out to restore the backup as it was made; nothing was done`,
      });
    if (manifest.status === 'FAILED' || manifest.status === 'PARTIALLY_FAILED')
      warnings.push(
        `the backup ${backup.timestamp} ended ${manifest.status}: tables that failed then cannot be restored`,
      );
    for (const table of manifest.tables) {
      datasetsInBackup.add(table.datasetId);
      if (!inScope(table.datasetId, table.tableId)) continue;
      seen.add(`${table.datasetId}.${table.tableId}`);
      entries.push(
        entryOf(
          table,
          ref(backupProject, table.datasetId, table.tableId),
          targetOf(table.datasetId, table.tableId),
          `${backup.folderPath}/${table.datasetId}/${table.tableId}`,
        ),
      );
    }
  } else {
    if (where.kind !== 'gcs')
      throw new RestorePlanError({
        reason: 'failedPrecondition',
        message: `the backup at ${backup.folder} is in the original service's layout, which bqbr restores from Cloud Storage only (that service never wrote anywhere else): copy it to a gs:// bucket and restore from there; nothing was done`,
      });
    const tables = await source.originalTables(where, backup.folderPath);
    warnings.push(
      `the backup at ${backup.folder} is in the original service's layout (no manifests): schemas are detected by BigQuery, row counts are not verified, and partitioning, clustering, descriptions and labels are not restored`,
    );
    for (const table of tables) datasetsInBackup.add(table.datasetId);
    const wanted = tables.filter((t) => inScope(t.datasetId, t.tableId));
    for (const choice of chooseOriginalFiles(wanted, format, backup.folder)) {
      const { datasetId, tableId } = choice;
      seen.add(`${datasetId}.${tableId}`);
      const fields = {
        source: ref(backupProject, datasetId, tableId),
        target: targetOf(datasetId, tableId),
        phase: 1,
      } as const;
      entries.push(
        'table' in choice
          ? {
              ...fields,
              action: 'RESTORE',
              original: choice.table,
              bytes: choice.table.files.reduce((n, f) => n + f.bytes, 0),
            }
          : { ...fields, action: 'FAIL', error: { reason: 'invalid', message: choice.problem } },
      );
    }
  }
  // What the request names but the backup does not hold fails, so nothing is missed silently.
  for (const datasetId of wantedDatasets) {
    if (datasetsInBackup.has(datasetId)) continue;
    entries.push({
      source: ref(backupProject, datasetId, '*'),
      target: targetOf(datasetId, '*'),
      action: 'FAIL',
      phase: 1,
      error: { reason: 'notFound', message: `dataset ${datasetId} is not in the backup at ${backup.folder}` },
    });
  }
  for (const name of wantedTables ?? []) {
    const [datasetId = '', tableId = ''] = name.split('.');
    if (seen.has(name) || !datasetsInBackup.has(datasetId)) continue;
    entries.push({
      source: ref(backupProject, datasetId, tableId),
      target: targetOf(datasetId, tableId),
      action: 'FAIL',
      phase: 1,
      error: { reason: 'notFound', message: `table ${name} is not in the backup at ${backup.folder}` },
    });
  }
  const datasetMap: Record<string, string> = {};
  for (const datasetId of datasetsInBackup)
    if (inDatasetScope(datasetId)) datasetMap[datasetId] = targetDatasetOf(request, datasetId);
  return { backup, entries, warnings, datasetMap };
}

/** A table `_backup.json` lists, with its folder at `tablePath` in the store. */
function entryOf(
  table: BackupTableEntry,
  source: TableRef,
  target: TableRef,
  tablePath: string,
): RestorePlanEntry {
  const base = {
    source,
    target,
    ...(table.rows !== undefined ? { rows: table.rows } : {}),
    ...(table.bytes !== undefined ? { bytes: table.bytes } : {}),
  };
  const restored = (manifestUri: string, phase: 1 | 2): RestorePlanEntry => ({
    ...base,
    action: 'RESTORE',
    phase,
    tablePath,
    manifestPath: `${tablePath}/${TABLE_MANIFEST}`,
    manifestUri,
    ...(table.manifestMd5 !== undefined ? { manifestMd5: table.manifestMd5 } : {}),
  });
  switch (isRecordedAs(table.status)) {
    case 'ok':
      if (table.manifest === undefined) break;
      return restored(table.manifest, 1);
    case 'view':
      // Views (and other definitions) have a manifest; a table skipped for another reason has none.
      if (table.manifest !== undefined) return restored(table.manifest, 2);
      return { ...base, action: 'SKIP', phase: 1, note: `not in the backup: ${table.note ?? 'skipped'}` };
    case 'failed':
      return {
        ...base,
        action: 'FAIL',
        phase: 1,
        error: {
          reason: table.error?.reason ?? 'notFound',
          message: `its backup failed, nothing to restore: ${table.error?.message ?? 'no reason recorded'}`,
        },
      };
    case 'absent':
      break;
  }
  return {
    ...base,
    action: 'FAIL',
    phase: 1,
    error: { reason: 'notFound', message: `the backup holds no data for it (status ${table.status})` },
  };
}
