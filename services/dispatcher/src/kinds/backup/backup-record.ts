// A finished backup's record: `_backup.json` next to its tables and its entry in the backups catalogue,
// both idempotent overwrites (finalization may run twice; the content is the same).
import {
  BackupRequest,
  MANIFEST_VERSION,
  backupDestination,
  backupManifestPath,
  classifyError,
  decode,
  destinationUri,
  type BackupCatalogEntry,
  type BackupManifest,
  type BackupTableEntry,
  type DestinationSpec,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type StateStore,
  type TaskDoc,
} from '@bqbr/shared';
import type { Outcome } from '../../engine/operation-kind.js';
import { taskPages } from '../../engine/task-pages.js';
import { exportSettings } from './export-settings.js';

/** Writes a JSON object to a path under a destination, replacing it. */
export type JsonWriter = (destination: DestinationSpec, path: string, value: unknown) => Promise<void>;

export interface BackupRecordDeps {
  readonly store: StateStore;
  readonly writeJson: JsonWriter;
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
  const destination = backupDestination(request).spec;
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
  let problem: ErrorInfo | undefined;
  try {
    await deps.writeJson(destination, manifestPath, manifest);
  } catch (err) {
    const failure = classifyError(err);
    // A transient failure retries the whole check (the event is nacked); a permanent one is recorded.
    if (failure.kind === 'retryable') throw err;
    logger.error('could not write _backup.json', {
      uri: manifestUri,
      reason: failure.reason,
      error: failure.message,
    });
    problem = { reason: failure.reason, message: `could not write ${manifestUri}: ${failure.message}` };
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
  };
  await deps.store.putBackup(entry);
  return problem;
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
