// Staging in Cloud Storage: BigQuery extracts to and loads from gs:// only, so a backup to S3, Azure or
// a directory, and a restore from one, needs BQBR_STAGING_URI (docs/architecture.md, "The worker").
// The check and the landing folders live here, for both kinds.
import { PermanentError, destinationUri, type DestinationSpec, type TableRef } from '@bqbr/shared';

type What = 'backup' | 'restore';

/** Where an operation's tables land outside their home, and which operation's they are. */
export interface Staging {
  readonly stagingUri: string | undefined;
  readonly operationId: string;
}

/** The staging URI, or a permanent failedPrecondition error: an operation outside Cloud Storage cannot run without it. */
function requireStaging(what: What, home: DestinationSpec, stagingUri: string | undefined): string {
  if (stagingUri !== undefined) return stagingUri;
  throw new PermanentError(
    'failedPrecondition',
    `a ${what} ${what === 'backup' ? 'to' : 'from'} ${home.kind} (outside Cloud Storage) needs a Cloud Storage staging location for BigQuery's files: set BQBR_STAGING_URI (gs://bucket/prefix) on the dispatcher; nothing was done`,
  );
}

/** The preflight check: refuses an operation on a home outside Cloud Storage when there is no staging. */
export function checkStaging(what: What, home: DestinationSpec, stagingUri: string | undefined): void {
  if (home.kind !== 'gcs') requireStaging(what, home, stagingUri);
}

/**
 * The gs:// folder BigQuery's job meets a table's files in: the table folder itself in a Cloud Storage
 * home, else a folder of its own per operation and table under the staging URI, so no two tasks share files.
 */
export function landingFolder(
  what: What,
  home: DestinationSpec,
  tablePath: string,
  staging: Staging,
  table: TableRef,
): string {
  if (home.kind === 'gcs') return destinationUri(home, tablePath);
  const root = requireStaging(what, home, staging.stagingUri);
  return `${root}/${staging.operationId}/${table.projectId}/${table.datasetId}/${table.tableId}`;
}
