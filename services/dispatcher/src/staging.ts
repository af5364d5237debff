// Staging in Cloud Storage: BigQuery extracts to and loads from gs:// only, so a backup to S3, Azure or
// a directory, and a restore from one, needs BQBR_STAGING_URI (docs/architecture.md, "The worker").
// The check and the folder naming live here, for every kind of operation.
import { PermanentError, type ErrorInfo, type TableRef } from '@bqbr/shared';

/** Why a backup or restore outside Cloud Storage cannot run without staging. */
export function stagingNeeded(what: 'backup' | 'restore', kind: string): ErrorInfo {
  return {
    reason: 'failedPrecondition',
    message: `a ${what} ${what === 'backup' ? 'to' : 'from'} ${kind} (outside Cloud Storage) needs a Cloud Storage staging location for BigQuery's files: set BQBR_STAGING_URI (gs://bucket/prefix) on the dispatcher; nothing was done`,
  };
}

/** The preflight check: the reason an operation on `kind` cannot run, or undefined when it can. */
export function stagingProblem(
  what: 'backup' | 'restore',
  kind: string,
  stagingUri: string | undefined,
): ErrorInfo | undefined {
  return kind !== 'gcs' && stagingUri === undefined ? stagingNeeded(what, kind) : undefined;
}

/** The staging URI, or a permanent failedPrecondition error (planning after a skipped preflight). */
export function requireStaging(
  what: 'backup' | 'restore',
  kind: string,
  stagingUri: string | undefined,
): string {
  if (stagingUri !== undefined) return stagingUri;
  const { reason, message } = stagingNeeded(what, kind);
  throw new PermanentError(reason, message);
}

/** One task's staging folder: per operation and table, so no two tasks share files. */
export const stagingFolderOf = (stagingUri: string, operationId: string, table: TableRef): string =>
  `${stagingUri}/${operationId}/${table.projectId}/${table.datasetId}/${table.tableId}`;
