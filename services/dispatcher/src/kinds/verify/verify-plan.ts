// Verify planning: the backup a request names (a folder or `latest`, found as a restore finds it), read
// from its `_backup.json`, and what happens to each of its tables: re-read by a worker, or skipped at once.
import {
  PermanentError,
  TABLE_MANIFEST,
  destinationUri,
  lifecycleLocation,
  parseReadDataSubset,
  type BackupManifest,
  type BackupTableEntry,
  type DestinationSpec,
  type FileSubset,
  type PlanSummary,
  type TableRef,
  type VerifyRequest,
  type VerifyTaskSpec,
} from '@bqbr/shared';
import type { BackupSource, FoundBackup } from '../restore/backup-source.js';

export interface VerifyPlanEntry {
  readonly table: TableRef;
  readonly spec: VerifyTaskSpec;
  /** VERIFY: a worker re-reads it; SKIP: the backup holds nothing of it to check (it failed, or was skipped). */
  readonly action: 'VERIFY' | 'SKIP';
  /** What `_backup.json` records of it. */
  readonly files?: number;
  readonly bytes?: number;
  readonly rows?: number;
  readonly note?: string;
}

export interface VerifyPlan {
  readonly backup: FoundBackup & { readonly manifest: BackupManifest };
  readonly entries: VerifyPlanEntry[];
  readonly warnings: string[];
}

/** The subset of the request as the task specs carry it. */
const subsetOf = (request: VerifyRequest): FileSubset | undefined =>
  request.readDataSubset === undefined ? undefined : parseReadDataSubset(request.readDataSubset);

/** Finds the backup and decides every table of its `_backup.json`. */
export async function planVerify(request: VerifyRequest, source: BackupSource): Promise<VerifyPlan> {
  const where = lifecycleLocation(request);
  const backup = await findVerifiable(where, request, source);
  const { manifest } = backup;
  const subset = subsetOf(request);
  const entries = manifest.tables.map((table) =>
    entryOf(table, {
      kind: 'verify',
      home: where,
      source: { projectId: manifest.projectId, datasetId: table.datasetId, tableId: table.tableId },
      ...manifestOf(where, `${backup.folderPath}/${table.datasetId}/${table.tableId}/${TABLE_MANIFEST}`),
      ...(table.manifestMd5 !== undefined ? { manifestMd5: table.manifestMd5 } : {}),
      ...(subset !== undefined ? { subset } : {}),
    }),
  );
  const failed = manifest.tables.filter((t) => t.status === 'FAILED').length;
  const warnings =
    failed > 0
      ? [
          `the backup ${backup.timestamp} ended ${manifest.status}: ${failed} table(s) whose backup failed have nothing to verify`,
        ]
      : [];
  return { backup: { ...backup, manifest }, entries, warnings };
}

const manifestOf = (where: DestinationSpec, manifestPath: string) => ({
  manifestPath,
  manifestUri: destinationUri(where, manifestPath),
});

/**
 * The backup, refused when there is nothing to verify against: none there, one a prune is deleting, one
 * without a readable `_backup.json` (running or interrupted), or one in the original service's layout.
 */
async function findVerifiable(
  where: DestinationSpec,
  request: VerifyRequest,
  source: BackupSource,
): Promise<FoundBackup & { readonly manifest: BackupManifest }> {
  const { projectId } = request.bigQuery;
  const backup = await source.find(where, projectId, request.backupTimestamp);
  const backups = `${destinationUri(where, 'backups')}`;
  if (backup === undefined) {
    const known = await source.timestamps(where, projectId);
    throw new PermanentError(
      'notFound',
      `no backup of project ${projectId} ${request.backupTimestamp === 'latest' ? 'has finished' : `is at ${request.backupTimestamp}`} under ${backups} (${
        known.length === 0
          ? 'there are none'
          : `there: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', …' : ''}`
      })`,
    );
  }
  if (backup.layout === 'pruning')
    throw new PermanentError(
      'failedPrecondition',
      `the backup at ${backup.folder} is partially deleted (a prune started deleting it; the next prune finishes): nothing to verify`,
    );
  if (backup.layout === 'original')
    throw new PermanentError(
      'failedPrecondition',
      `the backup at ${backup.folder} is in the original service's layout: it has no manifests to verify its files against; nothing was done`,
    );
  if (backup.manifest === undefined)
    throw new PermanentError(
      'failedPrecondition',
      `the backup at ${backup.folder} has no readable _backup.json: it is still running or was interrupted${backup.problem ? ` (${backup.problem})` : ''}; nothing was done`,
    );
  return { ...backup, manifest: backup.manifest };
}

/**
 * A table `_backup.json` lists: its manifest is checked when it has one (a table that succeeded, a view),
 * and nothing when its backup failed or skipped it without one.
 */
function entryOf(table: BackupTableEntry, spec: VerifyTaskSpec): VerifyPlanEntry {
  const figures = {
    ...(table.files !== undefined ? { files: table.files } : {}),
    ...(table.bytes !== undefined ? { bytes: table.bytes } : {}),
    ...(table.rows !== undefined ? { rows: table.rows } : {}),
  };
  const base = { table: spec.source, spec, ...figures };
  if (table.status === 'SUCCEEDED' || (table.status === 'SKIPPED' && table.manifest !== undefined))
    return { ...base, action: 'VERIFY' };
  const why = table.error?.message ?? table.note;
  return {
    ...base,
    action: 'SKIP',
    note: `nothing to verify: its backup ${table.status === 'SKIPPED' ? 'skipped it' : `ended ${table.status}`}${why !== undefined ? ` (${why})` : ''}`,
  };
}

const SAMPLE_SIZE = 1000;

/**
 * A verify's dry run: the tables and what they would read, from `_backup.json`. A subset's share is an
 * estimate here (the workers choose files by their names, which only the table manifests hold).
 */
export function dryRunSummary(plan: VerifyPlan, request: VerifyRequest): PlanSummary {
  const subset = subsetOf(request);
  const share = subset === undefined ? 1 : 'part' in subset ? 1 / subset.of : subset.percent / 100;
  const about = subset === undefined ? '' : 'about ';
  const verified = plan.entries.filter((e) => e.action === 'VERIFY');
  const drill = request.restoreDrill === true ? '; restore drill: loads it into a scratch table' : '';
  const estimate = (n: number | undefined): number => Math.round((n ?? 0) * share);
  return {
    tables: plan.entries.length,
    skipped: plan.entries.length - verified.length,
    bytes: verified.reduce((n, e) => n + estimate(e.bytes), 0),
    rows: verified.reduce((n, e) => n + (e.rows ?? 0), 0),
    sample: plan.entries.slice(0, SAMPLE_SIZE).map((e) => ({
      table: `${e.table.datasetId}.${e.table.tableId}`,
      action: e.action,
      ...(e.action === 'VERIFY'
        ? {
            note: `reads ${about}${estimate(e.files)} of ${e.files ?? 0} file(s), ${about}${estimate(e.bytes)} bytes, and _table.json${drill}`,
            bytes: estimate(e.bytes),
          }
        : { note: e.note! }),
    })),
  };
}
