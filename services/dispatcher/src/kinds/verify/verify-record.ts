// A finished verify's record: the verified backup's catalogue entry (`backups/{its operation id}`) gets
// the result as `verification`; a backup the catalogue does not know yet is added from its `_backup.json`.
import {
  OperationStatus,
  VerifyRequest,
  decode,
  lifecycleLocation,
  type BackupCatalogEntry,
  type BackupManifest,
  type BackupVerification,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type StateStore,
} from '@bqbr/shared';
import type { Outcome } from '../../engine/operation-kind.js';
import { taskPages } from '../../engine/task-pages.js';
import type { BackupSource } from '../restore/backup-source.js';

export interface VerifyRecordDeps {
  readonly store: Pick<StateStore, 'putBackup' | 'updateBackup' | 'listTasks'>;
  readonly backups: BackupSource;
}

/** Records the verification on the backup's catalogue entry; returns a problem to keep on the operation. */
export async function recordVerification(
  operation: OperationDoc,
  { status, finishedAt }: Outcome,
  deps: VerifyRecordDeps,
  logger: Logger,
): Promise<ErrorInfo | undefined> {
  // The request as stored with the operation: read back from Firestore, so decoded like any edge.
  const request = decode(VerifyRequest, operation.request, 'stored verify request');
  // Planning recorded the folder it found (`…/backups/<timestamp>/<project>`): `latest` may be another by now.
  const timestamp = operation.backupFolder?.split('/').at(-2);
  const backup =
    timestamp === undefined
      ? undefined
      : await deps.backups.find(lifecycleLocation(request), request.bigQuery.projectId, timestamp);
  if (backup?.manifest === undefined) {
    logger.warn(
      'the verified backup has no readable _backup.json any more: its catalogue entry is not updated',
      {
        backupFolder: operation.backupFolder,
      },
    );
    return {
      reason: 'notFound',
      message: `the backup at ${operation.backupFolder} has no readable _backup.json any more: the catalogue does not record this verification`,
    };
  }
  const verification: BackupVerification = {
    operationId: operation.operationId,
    status,
    verifiedAt: finishedAt,
    ...(await figuresOf(deps.store, operation.operationId)),
    ...(request.readDataSubset !== undefined ? { subset: request.readDataSubset } : {}),
    ...(request.restoreDrill === true ? { restoreDrill: true } : {}),
  };
  const { manifest } = backup;
  if (!(await deps.store.updateBackup(manifest.operationId, { verification }))) {
    await deps.store.putBackup({ ...catalogEntryOf(manifest), verification });
    logger.info('backup added to the catalogue from its _backup.json', { backupId: manifest.operationId });
  }
  return undefined;
}

/** Tables, failed tables, files and bytes read, over every task (the summary sums the succeeded ones only). */
async function figuresOf(
  store: Pick<StateStore, 'listTasks'>,
  operationId: string,
): Promise<Pick<BackupVerification, 'tables' | 'failedTables' | 'filesRead' | 'bytesRead'>> {
  const figures = { tables: 0, failedTables: 0, filesRead: 0, bytesRead: 0 };
  for await (const page of taskPages(store, operationId))
    for (const task of page) {
      figures.tables++;
      if (task.status === 'FAILED') figures.failedTables++;
      figures.filesRead += task.fileCount ?? 0;
      figures.bytesRead += task.bytes ?? 0;
    }
  return figures;
}

/** A backup's catalogue entry as its `_backup.json` describes it (what the backup's own finalize writes). */
export function catalogEntryOf(manifest: BackupManifest): BackupCatalogEntry {
  const { summary } = manifest;
  return {
    backupId: manifest.operationId,
    operationId: manifest.operationId,
    projectId: manifest.projectId,
    snapshotMillis: manifest.snapshotMillis,
    snapshotTime: manifest.snapshotTime,
    location: manifest.location,
    format: manifest.export.format,
    compression: manifest.export.compression,
    status: decode(OperationStatus, manifest.status, '_backup.json status'),
    tables: summary.tables,
    failedTables: summary.failed,
    rows: summary.rows,
    bytes: summary.bytes,
    files: summary.files,
    createdAt: manifest.finishedAt,
  };
}
