// Backup of one table (DESIGN.md, "Backup of one table"): skip if done, read the table, start or find
// its extract job, wait within a budget, list the files, write `_table.json`, mark the task, publish
// the event. Every step is idempotent, so a redelivered message finds the state and does no more work.
import {
  PermanentError,
  RetryableError,
  TERMINAL_TASK_STATUSES,
  classifyError,
  dataFilesPattern,
  extractJobId,
  tableManifestUri,
  type BackupFileEntry,
  type FieldSchema,
  type Logger,
  type StateStore,
  type TableRef,
  type TaskDoc,
  type TaskEvent,
  type TaskMessage,
  type TaskStatus,
  type TerminalTaskStatus,
} from '@bqbr/shared';
import { waitForJob, type JobRunner } from './job-runner.js';
import {
  buildTableManifest,
  type BackupFiles,
  type BackupSpec,
  type TableMetadata,
} from './manifest-writer.js';

export interface TableReader {
  /** The table's metadata, or undefined when it does not exist. */
  get(ref: TableRef): Promise<TableMetadata | undefined>;
  /** Rows in the table at `snapshotMillis`. */
  rowsAt(ref: TableRef, snapshotMillis: number): Promise<number>;
}

export interface TaskPublisher {
  publishEvent(event: TaskEvent): Promise<void>;
  /** Re-publishes a task message (a continuation that keeps waiting for a long job). */
  publishTask(message: TaskMessage): Promise<void>;
}

export interface BackupStepSettings {
  /** How long one delivery waits for the job before handing over to a continuation message. */
  readonly jobWaitMs: number;
  readonly jobPollMs: number;
  /** Job attempts per table before the task fails (retryable job failures only). */
  readonly maxJobAttempts: number;
}

export interface BackupStepDeps {
  readonly state: StateStore;
  readonly tables: TableReader;
  readonly jobs: JobRunner;
  readonly files: BackupFiles;
  readonly publisher: TaskPublisher;
  readonly settings: BackupStepSettings;
  readonly now?: () => Date;
}

export interface StepContext {
  readonly logger: Logger;
  /** Aborted on shutdown: a task waiting for its job hands over to a continuation at once. */
  readonly signal: AbortSignal;
}

/** How a delivery ended; every outcome acks the message (retryable failures throw instead). */
export type StepOutcome =
  | { readonly kind: 'finished'; readonly status: TerminalTaskStatus }
  /** The task was already terminal: its event was published again. */
  | { readonly kind: 'alreadyFinished'; readonly status: TerminalTaskStatus }
  /** The job is still running: a continuation message carries on waiting. */
  | { readonly kind: 'continued'; readonly continuation: number }
  /** No task document: nothing to do (the operation is gone or the message is stray). */
  | { readonly kind: 'missing' };

/** Task documents keep at most this many file entries (Firestore's 1 MiB document limit); `_table.json` has all. */
const MAX_FILES_IN_TASK = 500;

const isTerminal = (status: TaskStatus): status is TerminalTaskStatus =>
  (TERMINAL_TASK_STATUSES as readonly string[]).includes(status);

/** BigQuery's extract configuration for a task: the table at the snapshot instant into the table folder. */
export function extractConfiguration(spec: BackupSpec): object {
  const { source } = spec;
  return {
    extract: {
      sourceTable: {
        projectId: source.projectId,
        datasetId: source.datasetId,
        tableId: `${source.tableId}@${spec.snapshotMillis}`,
      },
      destinationUris: [dataFilesPattern(spec.tableFolder, spec.format, spec.compression)],
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
  const { state } = deps;
  const { operationId, taskId } = message;
  const now = deps.now ?? (() => new Date());

  const publishEvent = (status: TerminalTaskStatus): Promise<void> =>
    deps.publisher.publishEvent({ operationId, taskId, status });

  const task = await state.getTask(operationId, taskId);
  if (task === undefined) {
    ctx.logger.warn('no task document for this message: dropped');
    return { kind: 'missing' };
  }
  if (isTerminal(task.status)) {
    // A lost event is recovered this way; the dispatcher's completion check is idempotent.
    await publishEvent(task.status);
    return { kind: 'alreadyFinished', status: task.status };
  }
  const started = await state.transitionTask(operationId, taskId, ['PENDING', 'RUNNING'], 'RUNNING', {
    deliveries: task.deliveries + 1,
    startedAt: task.startedAt ?? now().toISOString(),
  });
  if (!started) return afterRace(deps, message);

  /** Marks the task terminal (once) and publishes its event (every time). */
  const finish = async (status: TerminalTaskStatus, patch: Partial<TaskDoc>): Promise<StepOutcome> => {
    const moved = await state.transitionTask(operationId, taskId, ['PENDING', 'RUNNING'], status, {
      ...patch,
      finishedAt: now().toISOString(),
    });
    if (!moved) return afterRace(deps, message);
    ctx.logger.info(`task ${status}`, {
      status,
      ...(patch.error ? { error: patch.error } : {}),
      ...(patch.note ? { note: patch.note } : {}),
    });
    await publishEvent(status);
    return { kind: 'finished', status };
  };

  try {
    return await exportTable(message, { ...task, status: 'RUNNING' }, deps, ctx, finish);
  } catch (err) {
    const failure = classifyError(err);
    if (failure.kind === 'retryable') throw err;
    return finish('FAILED', { error: { reason: failure.reason, message: failure.message } });
  }
}

/** Another delivery moved the task first: publish its event if it is terminal, else retry later. */
async function afterRace(deps: BackupStepDeps, message: TaskMessage): Promise<StepOutcome> {
  const current = await deps.state.getTask(message.operationId, message.taskId);
  if (current === undefined) return { kind: 'missing' };
  if (!isTerminal(current.status)) throw new RetryableError('conflict', `task is ${current.status}`);
  await deps.publisher.publishEvent({
    operationId: message.operationId,
    taskId: message.taskId,
    status: current.status,
  });
  return { kind: 'alreadyFinished', status: current.status };
}

type Finish = (status: TerminalTaskStatus, patch: Partial<TaskDoc>) => Promise<StepOutcome>;

async function exportTable(
  message: TaskMessage,
  task: TaskDoc,
  deps: BackupStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  const { spec } = message;
  const { source } = spec;
  const name = `${source.projectId}:${source.datasetId}.${source.tableId}`;
  const now = deps.now ?? (() => new Date());
  const manifestUri = tableManifestUri(spec.tableFolder);

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
    await deps.files.writeJson(manifestUri, manifest);
    return finish('SKIPPED', { note, manifestUri, rows: 0, bytes: 0, fileCount: 0, files: [] });
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
  const logger = ctx.logger.child({ jobId, jobAttempt: task.jobAttempt });
  if (task.jobIds.length === 0 && spec.overwrite === false) {
    // Only before this task's first job: files written by our own earlier attempt are not "existing".
    const existing = await deps.files.listDataFiles(spec.tableFolder);
    if (existing.length > 0)
      throw new PermanentError(
        'duplicate',
        `${spec.tableFolder} already holds ${existing.length} data file(s) and exportOptions.overwrite is false`,
      );
  }
  // The id is recorded before the job starts, so a crash in between is seen as "our job" on redelivery.
  if (!task.jobIds.includes(jobId))
    await deps.state.updateTask(message.operationId, message.taskId, { jobIds: [...task.jobIds, jobId] });
  const started = await deps.jobs.startOrFind(jobId, table.location, extractConfiguration(spec));
  logger.debug('extract job started or found', { state: started.state });

  const job = await waitForJob(deps.jobs, started, table.location, {
    pollMs: deps.settings.jobPollMs,
    budgetMs: deps.settings.jobWaitMs,
    signal: ctx.signal,
  });

  if (job.state !== 'DONE') {
    // Hand over instead of holding the lease: the next delivery finds the same job by its id.
    const continuation = (message.continuation ?? 0) + 1;
    await deps.publisher.publishTask({ ...message, continuation });
    logger.info('extract job still running: continuation published', { continuation });
    return { kind: 'continued', continuation };
  }

  if (job.errorResult !== undefined) {
    const { reason, message: text } = job.errorResult;
    if (classifyError({ reason }).kind === 'permanent')
      return finish('FAILED', { error: { reason, message: text } });
    const nextAttempt = task.jobAttempt + 1;
    if (nextAttempt >= deps.settings.maxJobAttempts)
      return finish('FAILED', {
        error: { reason, message: `${text} (extract job failed ${nextAttempt} times)` },
      });
    // The next delivery starts job attempt+1; the subscription's retry policy spaces the attempts.
    await deps.state.updateTask(message.operationId, message.taskId, { jobAttempt: nextAttempt });
    logger.warn('extract job failed: retrying with the next job attempt', { reason, error: text });
    throw new RetryableError(reason, `extract job ${jobId} failed: ${text}`);
  }

  const files = await deps.files.listDataFiles(spec.tableFolder);
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
  await deps.files.writeJson(manifestUri, manifest);
  const bytes = files.reduce((sum: number, f: BackupFileEntry) => sum + f.bytes, 0);
  return finish('SUCCEEDED', {
    rows: numRows,
    bytes,
    fileCount: files.length,
    files: files.slice(0, MAX_FILES_IN_TASK),
    manifestUri,
  });
}
