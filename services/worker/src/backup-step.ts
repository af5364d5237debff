// Backup of one table (docs/architecture.md, "The worker"): skip if done, read the table, start or find
// its extract job, wait within a budget, list the files, write `_table.json`, mark the task, publish
// the event. Every step is idempotent, so a redelivered message finds the state and does no more work.
import {
  PermanentError,
  dataFilesPattern,
  extractJobId,
  tableManifestUri,
  type BackupFileEntry,
  type BackupTaskSpec,
  type FieldSchema,
  type TableRef,
  type TaskDoc,
  type TaskMessage,
  type TableManifest,
} from '@bqbr/shared';
import { externalDestination, finishedAtDestination, type StoreFactory } from './external-backup.js';
import {
  buildTableManifest,
  type BackupFiles,
  type BackupSpec,
  type TableMetadata,
} from './manifest-writer.js';
import {
  continueLater,
  jobFailed,
  runJob,
  runTaskStep,
  type Finish,
  type StepContext,
  type StepDeps,
  type StepOutcome,
  MAX_FILES_IN_TASK,
  type StepSettings,
} from './task-step.js';

export interface TableReader {
  /** The table's metadata, or undefined when it does not exist. */
  get(ref: TableRef): Promise<TableMetadata | undefined>;
  /** Rows in the table at `snapshotMillis`. */
  rowsAt(ref: TableRef, snapshotMillis: number): Promise<number>;
}

export type { StepContext, StepOutcome, TaskPublisher } from './task-step.js';
/** @deprecated name kept for callers: the settings of every step. */
export type BackupStepSettings = StepSettings;

export interface BackupStepDeps extends StepDeps {
  readonly tables: TableReader;
  readonly files: BackupFiles;
  /** The store a destination names (Cloud Storage staging, S3, Azure, files). */
  readonly stores: StoreFactory;
}

/**
 * BigQuery's extract configuration for a task: the table at the snapshot instant into the table folder,
 * or into the staging folder when the destination is outside Cloud Storage.
 */
export function extractConfiguration(spec: BackupSpec): object {
  const { source } = spec;
  const folder = spec.stagingFolder ?? spec.tableFolder;
  return {
    extract: {
      sourceTable: {
        projectId: source.projectId,
        datasetId: source.datasetId,
        tableId: `${source.tableId}@${spec.snapshotMillis}`,
      },
      destinationUris: [dataFilesPattern(folder, spec.format, spec.compression)],
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
    exportTable(message, spec, task, deps, ctx, finish),
  );
}

async function exportTable(
  message: TaskMessage,
  spec: BackupTaskSpec,
  task: TaskDoc,
  deps: BackupStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  const { source } = spec;
  const name = `${source.projectId}:${source.datasetId}.${source.tableId}`;
  const now = deps.now ?? (() => new Date());
  const external = externalDestination(spec, deps, ctx);
  const manifestUri = external?.manifestUri ?? tableManifestUri(spec.tableFolder);
  const writeManifest = (manifest: TableManifest): Promise<string | undefined> =>
    external !== undefined ? external.writeManifest(manifest) : deps.files.writeJson(manifestUri, manifest);

  if (external !== undefined) {
    // A redelivery after the manifest was written: only the staging cleanup may be left to do.
    const done = await finishedAtDestination(external, message.operationId);
    if (done !== undefined) {
      await external.clearStaging();
      return finish('SUCCEEDED', succeeded(done.manifest, manifestUri, done.md5));
    }
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
    const manifestMd5 = await writeManifest(manifest);
    return finish('SKIPPED', {
      note,
      manifestUri,
      ...(manifestMd5 === undefined ? {} : { manifestMd5 }),
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
  if (task.jobIds.length === 0 && spec.overwrite === false) {
    // Only before this task's first job: files written by our own earlier attempt are not "existing".
    const existing =
      external !== undefined
        ? await external.existingDataFiles()
        : (await deps.files.listDataFiles(spec.tableFolder)).length;
    if (existing > 0)
      throw new PermanentError(
        'duplicate',
        `${spec.tableFolder} already holds ${existing} data file(s) and exportOptions.overwrite is false`,
      );
  }
  const result = await runJob(message, task, deps, ctx, {
    jobId,
    location: table.location,
    configuration: extractConfiguration(spec),
  });
  if (result.kind === 'continued') return result.outcome;
  if (result.job.errorResult !== undefined)
    return jobFailed(message, task, deps, ctx, finish, 'extract', result.job.errorResult);

  const extracted = await deps.files.listDataFiles(spec.stagingFolder ?? spec.tableFolder);
  // Outside Cloud Storage: every file is carried to the destination and checked there first.
  const files = external !== undefined ? await external.carry(extracted) : extracted;
  if (files === undefined)
    return continueLater(message, deps, ctx.logger, 'files still to carry to the destination');
  const numRows = await deps.tables.rowsAt(source, spec.snapshotMillis);
  const manifest = buildTableManifest({
    operationId: message.operationId,
    spec,
    table,
    numRows,
    files,
    extractJobId: jobId,
    createdAt: now(),
  });
  // The manifest goes last: it never points at a file that is not whole at the destination.
  const manifestMd5 = await writeManifest(manifest);
  if (external !== undefined) await external.clearStaging();
  return finish('SUCCEEDED', succeeded(manifest, manifestUri, manifestMd5));
}

/** The task's figures from its manifest. */
function succeeded(
  manifest: TableManifest,
  manifestUri: string,
  manifestMd5: string | undefined,
): Partial<TaskDoc> {
  const bytes = manifest.files.reduce((sum: number, f: BackupFileEntry) => sum + f.bytes, 0);
  return {
    rows: manifest.numRows,
    bytes,
    fileCount: manifest.files.length,
    files: manifest.files.slice(0, MAX_FILES_IN_TASK),
    manifestUri,
    ...(manifestMd5 === undefined ? {} : { manifestMd5 }),
  };
}
