// A finished backup's record: `_backup.json` next to its tables and its entry in the backups catalogue,
// both idempotent overwrites (finalization may run twice; the content is the same). A write-once backup's
// `_backup.json` is locked like its tables (the same instant): a second finalization finds it locked, and
// that one is the record.
import {
  BackupRequest,
  DATASET_SETTINGS,
  MANIFEST_VERSION,
  backupDestination,
  backupManifestPath,
  classifyError,
  decode,
  destinationUri,
  type BackupCatalogEntry,
  type BackupDatasetEntry,
  type BackupManifest,
  type BackupTableEntry,
  type DestinationSpec,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type PutOptions,
  type StateStore,
  type TaskDoc,
} from '@bqbr/shared';
import type { Outcome } from '../../engine/operation-kind.js';
import { taskPages } from '../../engine/task-pages.js';
import { writeOnceLock } from './backup-task-spec.js';
import { exportSettings } from './export-settings.js';
import { droppedTables } from './incremental-chain.js';
import type { BackupSource } from '../restore/backup-source.js';
import type { Catalog } from './catalog.js';

/** Writes a JSON object to a path under a destination, replacing it (locked when `options.retention` says). */
export type JsonWriter = (
  destination: DestinationSpec,
  path: string,
  value: unknown,
  options?: Pick<PutOptions, 'retention'>,
) => Promise<void>;

export interface BackupRecordDeps {
  readonly store: StateStore;
  readonly writeJson: JsonWriter;
  /** The backups in the stores: an incremental's base (its plan, and its dropped tables at the end). */
  readonly backups: Pick<BackupSource, 'find'>;
  /** The backed-up datasets' settings and access entries, read when the backup is recorded. */
  readonly catalog: Pick<Catalog, 'getDataset'>;
}

/** Writes `_backup.json` and the catalogue entry; returns the problem a permanent write failure leaves. */
export async function recordBackup(
  operation: OperationDoc,
  { status, summary, finishedAt }: Outcome,
  deps: BackupRecordDeps,
  logger: Logger,
): Promise<ErrorInfo | undefined> {
  // The request as stored with the operation: read back from Firestore, so decoded like any edge.
  const request = decode(BackupRequest, operation.request, 'stored backup request');
  const snapshotMillis = operation.snapshotMillis!;
  const snapshotTime = operation.snapshotTime ?? new Date(snapshotMillis).toISOString();
  const settings = exportSettings(request);
  const { spec: destination, writeOnce } = backupDestination(request);
  const retention = writeOnce === undefined ? undefined : writeOnceLock(writeOnce, snapshotMillis);
  const manifestPath = backupManifestPath(snapshotMillis, operation.projectId, operation.operationId);
  const manifestUri = destinationUri(destination, manifestPath);
  const manifest: BackupManifest = {
    manifestVersion: MANIFEST_VERSION,
    kind: 'bqbr#backup',
    operationId: operation.operationId,
    projectId: operation.projectId,
    snapshotMillis,
    snapshotTime,
    location: operation.location!,
    export: settings,
    status,
    summary,
    tables: await tableEntries(deps.store, operation.operationId),
    startedAt: operation.startedAt ?? operation.createdAt,
    finishedAt,
  };
  manifest.datasets = await datasetEntries(deps.catalog, operation.projectId, manifest.tables);
  const chain = operation.incremental;
  if (chain !== undefined) {
    const base =
      chain.base === undefined
        ? undefined
        : await deps.backups.find(destination, operation.projectId, chain.base);
    const has = new Set(manifest.tables.map((entry) => `${entry.datasetId}.${entry.tableId}`));
    Object.assign(manifest, {
      mode: 'INCREMENTAL',
      ...(chain.base !== undefined ? { base: chain.base } : {}),
      chainLength: chain.chainLength,
      dependsOn: chain.dependsOn,
      droppedTables: droppedTables(base, has),
    });
  } else manifest.mode = 'FULL';
  let problem: ErrorInfo | undefined;
  try {
    await deps.writeJson(destination, manifestPath, manifest, retention ? { retention } : {});
  } catch (err) {
    const failure = classifyError(err);
    // A transient failure retries the whole check (the event is nacked); a permanent one is recorded.
    if (failure.kind === 'retryable') throw err;
    if (retention !== undefined && failure.reason === 'retentionLocked') {
      logger.info('_backup.json is already written and locked', { uri: manifestUri });
    } else {
      problem = recordProblem(manifestUri, failure, logger);
    }
  }
  const entry: BackupCatalogEntry = {
    backupId: operation.operationId,
    operationId: operation.operationId,
    projectId: operation.projectId,
    snapshotMillis,
    snapshotTime,
    location: operation.location!,
    format: settings.format,
    compression: settings.compression,
    status,
    tables: summary.tables,
    failedTables: summary.failed,
    rows: summary.rows,
    bytes: summary.bytes,
    files: summary.files,
    createdAt: finishedAt,
    ...(retention ? { retainUntil: retention.retainUntil } : {}),
    ...(chain !== undefined && chain.dependsOn.length > 0 ? { dependsOn: chain.dependsOn } : {}),
  };
  await deps.store.putBackup(entry);
  return problem;
}

/**
 * Each dataset with a table in the backup: its settings and access entries as they are now, at
 * finalization, since BigQuery keeps no history of a dataset's settings (`readAt` says when). A dataset
 * gone meanwhile has none.
 */
async function datasetEntries(
  catalog: Pick<Catalog, 'getDataset'>,
  projectId: string,
  tables: readonly BackupTableEntry[],
): Promise<BackupDatasetEntry[]> {
  const entries: BackupDatasetEntry[] = [];
  for (const datasetId of [...new Set(tables.map((t) => t.datasetId))].sort()) {
    const resource = await catalog.getDataset(projectId, datasetId);
    if (resource === undefined) continue;
    const settings = Object.fromEntries(
      DATASET_SETTINGS.filter((key) => resource[key] !== undefined && resource[key] !== null).map((key) => [
        key,
        resource[key],
      ]),
    );
    const access = Array.isArray(resource['access'])
      ? (resource['access'] as Record<string, unknown>[])
      : undefined;
    entries.push({
      datasetId,
      readAt: new Date().toISOString(),
      settings,
      ...(access === undefined ? {} : { access }),
    });
  }
  return entries;
}

function recordProblem(
  uri: string,
  failure: { readonly reason: string; readonly message: string },
  logger: Logger,
): ErrorInfo {
  logger.error('could not write _backup.json', { uri, reason: failure.reason, error: failure.message });
  return { reason: failure.reason, message: `could not write ${uri}: ${failure.message}` };
}

async function tableEntries(store: StateStore, operationId: string): Promise<BackupTableEntry[]> {
  const entries: BackupTableEntry[] = [];
  for await (const page of taskPages(store, operationId)) entries.push(...page.map(tableEntry));
  return entries;
}

function tableEntry(task: TaskDoc): BackupTableEntry {
  return {
    datasetId: task.table.datasetId,
    tableId: task.table.tableId,
    status: task.status,
    ...(task.rows !== undefined ? { rows: task.rows } : {}),
    ...(task.bytes !== undefined ? { bytes: task.bytes } : {}),
    ...(task.fileCount !== undefined ? { files: task.fileCount } : {}),
    ...(task.manifestUri !== undefined ? { manifest: task.manifestUri } : {}),
    ...(task.manifestMd5 !== undefined ? { manifestMd5: task.manifestMd5 } : {}),
    ...(task.note !== undefined ? { note: task.note } : {}),
    ...(task.error ? { error: { reason: task.error.reason, message: task.error.message } } : {}),
  };
}
