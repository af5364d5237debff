// Backup of one table (docs/architecture.md, "The worker"): read the table, start or find its extract job
// into the landing folder, wait within a budget, carry the files to the table's home (nothing to carry for
// a Cloud Storage home, whose table folder is the landing folder), write `_table.json` there last, clear
// the landing folder and mark the task. Every step is idempotent, so a redelivered message finds the
// state and does no more work. A write-once backup (`spec.writeOnce`) locks every object it leaves at home:
// puts there carry the lock, and files BigQuery wrote into a Cloud Storage home are locked after the job.
import {
  PermanentError,
  TableManifest,
  coversRetention,
  dataFilesPattern,
  decode,
  extractJobId,
  fingerprintJobId,
  lockingStore,
  stillLocked,
  type BackupFileEntry,
  type BackupTaskSpec,
  type ObjectRetention,
  type FieldSchema,
  type TaskDoc,
  type TaskMessage,
} from '@bqbr/shared';
import { continueLater } from './continuation.js';
import { filesOfJob } from './extracted-files.js';
import { openLandingFolder, type LandingFolder } from './landing-folder.js';
import type { StepContext, StepDeps } from './step-deps.js';
import { partitionedByIngestion, planIncremental, type IncrementalPlan } from './incremental-export.js';
import type { TableReader } from './table-reader.js';
import { jobFailed, runJob, runJobs } from './step-job.js';
import { openTableHome, type StoreFactory, type TableHome } from './table-home.js';
import { computeFingerprint } from './table-fingerprint.js';
import { buildTableManifest } from './table-manifest.js';
import { fileFigures } from './task-figures.js';
import { runTaskStep, type StepOutcome, type StepRun } from './task-step.js';
import { md5Base64 } from './transfer.js';

export interface BackupStepDeps extends StepDeps {
  readonly tables: TableReader;
  /** The stores backups live in (Cloud Storage, S3, Azure, a directory) and the landing folders. */
  readonly stores: StoreFactory;
}

/**
 * BigQuery's extract configuration for a task: the table at the snapshot instant into the landing folder;
 * with `partition`, that partition only (`table@snapshot$partition`, into `data-p{partition}-*`).
 */
export function extractConfiguration(
  spec: BackupTaskSpec,
  partition?: string,
): {
  readonly extract: { readonly destinationUris: readonly string[] } & Record<string, unknown>;
} {
  const { source } = spec;
  return {
    extract: {
      sourceTable: {
        projectId: source.projectId,
        datasetId: source.datasetId,
        tableId: `${source.tableId}@${spec.snapshotMillis}${partition === undefined ? '' : `$${partition}`}`,
      },
      destinationUris: [dataFilesPattern(spec.landingFolder, spec.format, spec.compression, partition)],
      destinationFormat: spec.format === 'JSON' ? 'NEWLINE_DELIMITED_JSON' : spec.format,
      ...(spec.compression === 'NONE' ? {} : { compression: spec.compression }),
      ...(spec.format === 'CSV' ? { printHeader: spec.header, fieldDelimiter: spec.fieldDelimiter } : {}),
      ...(spec.format === 'AVRO' ? { useAvroLogicalTypes: true } : {}),
    },
  };
}

/** Paths of the fields CSV cannot hold: records (at the top level) and repeated fields. */
export function fieldsCsvCannotHold(fields: readonly FieldSchema[]): string[] {
  return fields
    .filter((f) => f.mode === 'REPEATED' || f.type === 'RECORD' || f.type === 'STRUCT')
    .map((f) => f.name);
}

/** Views keep their query in the manifest; external tables have no data of BigQuery's to export. */
function skipNote(tableType: string | undefined): string | undefined {
  switch (tableType) {
    case 'VIEW':
      return 'view: definition in _table.json, no data exported';
    case 'MATERIALIZED_VIEW':
      return 'materialized view: definition in _table.json, no data exported';
    case 'EXTERNAL':
      return 'external table: data lives outside BigQuery, definition in _table.json';
    default:
      return undefined;
  }
}

export async function runBackupStep(
  message: TaskMessage,
  deps: BackupStepDeps,
  ctx: StepContext,
): Promise<StepOutcome> {
  const spec = message.spec;
  if (spec.kind !== 'backup') throw new PermanentError('invalid', 'not a backup task');
  return runTaskStep(message, deps, ctx, (task, finish) =>
    exportTable({ message, spec, task, deps, ctx, finish }),
  );
}

async function exportTable(run: StepRun<BackupStepDeps, BackupTaskSpec>): Promise<StepOutcome> {
  const { message, spec, task, deps, ctx, finish } = run;
  const { source } = spec;
  const name = `${source.projectId}:${source.datasetId}.${source.tableId}`;
  const now = deps.now ?? (() => new Date());
  const stores = spec.writeOnce ? lockedAtHome(deps.stores, spec, spec.writeOnce) : deps.stores;
  const home = openTableHome(spec, stores);
  const landing = openLandingFolder(home, spec.landingFolder, { ...deps, stores }, ctx);
  const { manifestUri } = home;

  // A redelivery after the manifest was written: only clearing the landing folder may be left to do.
  const done = await finishedBefore(home, landing, message.operationId, ctx);
  if (done !== undefined) {
    await clearAfterManifest(home, landing, ctx);
    return finish('SUCCEEDED', succeeded(done.manifest, manifestUri, done.md5));
  }

  const table = await deps.tables.get(source);
  if (table === undefined)
    return finish('FAILED', { error: { reason: 'notFound', message: `table ${name} not found` } });

  const note = skipNote(table.type);
  if (note !== undefined) {
    const manifest = buildTableManifest({
      operationId: message.operationId,
      spec,
      table,
      numRows: 0,
      files: [],
      createdAt: now(),
    });
    const manifestMd5 = await writeManifest(home, manifest, spec);
    return finish('SKIPPED', {
      note,
      manifestUri,
      manifestMd5,
      rows: 0,
      bytes: 0,
      fileCount: 0,
      files: [],
    });
  }

  if (spec.format === 'CSV') {
    const nested = fieldsCsvCannotHold(table.schema?.fields ?? []);
    if (nested.length > 0)
      throw new PermanentError(
        'invalid',
        `CSV cannot hold nested or repeated fields (${nested.join(', ')}) of ${name}: use AVRO, PARQUET or JSON`,
      );
  }

  const jobId = extractJobId(message.operationId, message.taskId, task.jobAttempt);
  // Before this task's first job, as below: a write-once backup already in the folder stays as it is.
  if (task.jobIds.length === 0) await refuseLockedFolder(home, spec);
  if (task.jobIds.length === 0 && spec.overwrite === false) {
    // Only before this task's first job: files written by our own earlier attempt are not "existing".
    const existing = (await home.dataFiles()).length;
    if (existing > 0)
      throw new PermanentError(
        'duplicate',
        `${spec.tableFolder} already holds ${existing} data file(s) and exportOptions.overwrite is false`,
      );
  }
  // Before the extract, at the same instant: a fingerprint query that fails and is retried (the next job
  // attempt) costs no second extract; an extract retried does run the query again (a second scan).
  // A table that requires a partition filter refuses a query over all of its partitions: not fingerprinted.
  const content =
    spec.fingerprint === true && table.requirePartitionFilter !== true
      ? await computeFingerprint(
          run,
          fingerprintJobId(message.operationId, message.taskId, task.jobAttempt),
          table.location,
          { table: source, snapshotMillis: spec.snapshotMillis },
        )
      : undefined;
  if (content !== undefined && 'outcome' in content) return content.outcome;
  const plan: IncrementalPlan =
    spec.incremental === undefined && !partitionedByIngestion(table)
      ? { kind: 'whole' }
      : await planIncremental(spec, table, home, deps.tables);
  const exported = await runExtracts(run, plan, jobId, table.location, landing);
  if ('outcome' in exported) return exported.outcome;
  // Every file is carried to the home and checked there first (already there for Cloud Storage).
  const files = await landing.carryOut(exported.written);
  if (files === undefined) return continueLater(run, 'files still to carry to the destination');
  if (spec.writeOnce) await lockFiles(home, files, spec.writeOnce);
  const numRows =
    plan.kind === 'whole' ? await deps.tables.rowsAt(source, spec.snapshotMillis) : plan.numRows;
  const manifest = buildTableManifest({
    operationId: message.operationId,
    spec,
    table,
    numRows,
    files: plan.kind === 'whole' ? files : [...files, ...plan.referenced].sort(byPartitionThenName),
    ...(exported.jobIds.length > 0 ? { extractJobId: exported.jobIds[0] } : {}),
    ...(spec.incremental === undefined && plan.kind !== 'partitions'
      ? {}
      : {
          incremental: {
            extractJobs: exported.jobIds.length,
            ...(plan.kind === 'partitions'
              ? { partitions: plan.partitions, deletedPartitions: plan.deletedPartitions }
              : {}),
          },
        }),
    ...(content === undefined ? {} : { fingerprint: content.fingerprint }),
    createdAt: now(),
  });
  // The manifest goes last: it never points at a file that is not whole at home.
  const manifestMd5 = await writeManifest(home, manifest, spec);
  await clearAfterManifest(home, landing, ctx);
  return finish('SUCCEEDED', {
    ...succeeded(manifest, manifestUri, manifestMd5),
    ...(plan.kind === 'whole' && plan.why !== undefined ? { note: plan.why } : {}),
  });
}

/** Extract jobs an incremental table runs at once (every partition that changed). */
const PARTITION_JOB_CONCURRENCY = 8;

/**
 * The plan's extract jobs run to their ends: the files they wrote (a partition's marked with it) and their
 * ids; or the outcome of a job still running or failed. A table the plan references whole runs none.
 */
async function runExtracts(
  run: StepRun<BackupStepDeps, BackupTaskSpec>,
  plan: IncrementalPlan,
  jobId: string,
  location: string | undefined,
  landing: LandingFolder,
): Promise<
  | { readonly written: BackupFileEntry[]; readonly jobIds: readonly string[] }
  | { readonly outcome: StepOutcome }
> {
  const { spec } = run;
  if (plan.kind === 'whole') {
    const configuration = extractConfiguration(spec);
    const result = await runJob(run, { jobId, location, configuration });
    if (result.kind === 'continued') return { outcome: result.outcome };
    if (result.job.errorResult !== undefined)
      return { outcome: await jobFailed(run, 'extract', result.job.errorResult) };
    // Exactly the files this job wrote (its statistics say how many), not whatever else the folder holds.
    const written = filesOfJob(
      jobId,
      configuration.extract.destinationUris,
      result.job.destinationUriFileCounts,
      await landing.extracted(),
    );
    return { written, jobIds: [jobId] };
  }
  const partitions = plan.kind === 'partitions' ? plan.exported : [];
  const jobs = partitions.map((partition) => ({
    partition,
    jobId: partitionJobId(jobId, partition),
    location,
    configuration: extractConfiguration(spec, partition),
  }));
  if (jobs.length === 0) return { written: [], jobIds: [] };
  const result = await runJobs(run, jobs, PARTITION_JOB_CONCURRENCY);
  if (result.kind === 'continued') return { outcome: result.outcome };
  const failed = result.jobs.find((job) => job.errorResult !== undefined);
  if (failed !== undefined) return { outcome: await jobFailed(run, 'extract', failed.errorResult!) };
  const listed = await landing.extracted();
  const written = jobs.flatMap((job, i) =>
    filesOfJob(
      job.jobId,
      job.configuration.extract.destinationUris,
      result.jobs[i]!.destinationUriFileCounts,
      listed,
    ).map((file) => ({ ...file, partition: job.partition })),
  );
  return { written, jobIds: jobs.map((job) => job.jobId) };
}

/** One partition's extract job: the task's job id and the partition (`…_3_p20260101`). */
const partitionJobId = (jobId: string, partition: string): string => `${jobId}_p${partition}`;

/** A manifest's files in order: by partition (whole-table files first), then by name. */
const byPartitionThenName = (a: BackupFileEntry, b: BackupFileEntry): number =>
  compareText(a.partition ?? '', b.partition ?? '') || compareText(a.name, b.name);

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * The manifest this operation already wrote at home for a data table, or undefined. Only a landing folder
 * cleared after the manifest can leave it as the only trace of finished work; a table folder that is its
 * own landing folder keeps every file, so its work is redone (idempotently) without reading anything. A
 * manifest of another operation (an older backup in the same folder) does not count.
 */
async function finishedBefore(
  home: TableHome,
  landing: LandingFolder,
  operationId: string,
  ctx: StepContext,
): Promise<{ readonly manifest: TableManifest; readonly md5: string } | undefined> {
  if (!landing.clearedAfterManifest) return undefined;
  const bytes = await home.read(home.manifestPath);
  if (bytes === undefined) return undefined;
  let manifest: TableManifest;
  try {
    manifest = decode(TableManifest, JSON.parse(bytes.toString('utf8')), home.manifestUri);
  } catch (err) {
    // Not ours to trust (damaged, or not a manifest): the task writes its own in its place.
    ctx.logger.warn('unreadable _table.json at the destination: it will be replaced', {
      error: (err as Error).message,
    });
    return undefined;
  }
  const hasData = manifest.extractJobId !== undefined || manifest.extractJobs !== undefined;
  if (manifest.operationId !== operationId || !hasData) return undefined;
  return { manifest, md5: md5Base64(bytes) };
}

/** Once `_table.json` is at home: the landing folder's files go, and what interrupted puts left at home. */
async function clearAfterManifest(home: TableHome, landing: LandingFolder, ctx: StepContext): Promise<void> {
  await landing.clear();
  // Every file is whole at home now: any upload still unfinished there is a leftover (or a duplicate
  // delivery's copy of a file that is already whole), never the only copy.
  const cleared = await home.clearIncomplete();
  if (cleared > 0) ctx.logger.info('cleared what interrupted uploads left at the destination', { cleared });
}

/** The stores, with every put to the task's home locked (the landing folder in Cloud Storage is not). */
function lockedAtHome(stores: StoreFactory, spec: BackupTaskSpec, lock: ObjectRetention): StoreFactory {
  return (where) => (where === spec.home ? lockingStore(stores(where), lock) : stores(where));
}

/**
 * A table folder holding an object under a retention lock (an earlier write-once backup) is not written
 * into at all, whatever `exportOptions.overwrite` says: the task fails before its job, naming the instant.
 */
async function refuseLockedFolder(home: TableHome, spec: BackupTaskSpec): Promise<void> {
  for (const path of (await home.objects()).keys()) {
    const retention = (await home.store.stat(path))?.retention;
    if (retention !== undefined && stillLocked(retention)) {
      throw new PermanentError(
        'retentionLocked',
        `${spec.tableFolder} holds a write-once backup locked until ${retention.retainUntil} ` +
          `(${home.store.uri(path)}, ${retention.mode}): it cannot be overwritten before then`,
      );
    }
  }
}

/** Files BigQuery wrote into a Cloud Storage home get the lock now; those a put locked already are left. */
async function lockFiles(
  home: TableHome,
  files: readonly BackupFileEntry[],
  lock: ObjectRetention,
): Promise<void> {
  const { store } = home;
  if (store.lock === undefined)
    throw new PermanentError('invalid', `${store.uri(home.folder)}: this store cannot lock objects`);
  for (const file of files) {
    const path = `${home.folder}${file.name}`;
    if (!coversRetention((await store.stat(path))?.retention, lock)) await store.lock(path, lock);
  }
}

/**
 * Writes `_table.json`; a write-once backup's own manifest found there (a redelivery after it was
 * written) is kept as it is, locked, and its MD5 returned: it cannot be replaced, and need not be.
 */
async function writeManifest(
  home: TableHome,
  manifest: TableManifest,
  spec: BackupTaskSpec,
): Promise<string> {
  if (spec.writeOnce) {
    const bytes = await home.read(home.manifestPath);
    if (bytes !== undefined && manifestOf(bytes)?.operationId === manifest.operationId)
      return md5Base64(bytes);
  }
  return home.writeManifest(manifest);
}

const manifestOf = (bytes: Buffer): TableManifest | undefined => {
  try {
    return decode(TableManifest, JSON.parse(bytes.toString('utf8')), '_table.json');
  } catch {
    return undefined;
  }
};

/**
 * The task's figures from its manifest: the files this backup wrote (an incremental's references to its
 * base's files are not counted: the summary says what the backup cost).
 */
function succeeded(manifest: TableManifest, manifestUri: string, manifestMd5: string): Partial<TaskDoc> {
  const own = manifest.files.filter((file) => file.folder === undefined);
  return { rows: manifest.numRows, ...fileFigures(own), manifestUri, manifestMd5 };
}
