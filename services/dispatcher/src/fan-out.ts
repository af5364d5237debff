// Fan-out: one task document and one bqbr-tasks message per table. The operation document comes first,
// tasks are created a page at a time (create-if-absent) and published after they exist, so a
// redelivered request resumes where the last attempt stopped and never re-sends work already under way.
import {
  backupDestination,
  backupRootPath,
  destinationUri,
  taskIdFor,
  type BackupRequest,
  type ErrorInfo,
  type TableRef,
  type TaskSpec,
  type Logger,
  type OperationDoc,
  type StateStore,
  type TaskDoc,
} from '@bqbr/shared';
import type { Publisher } from './handler.js';
import { newOperationDoc } from './operation-doc.js';
import { pages, planTables, taskSpec, type Catalog, type PlannedTable } from './planner.js';
import { publishTask } from './task-messages.js';

/** What fan-out needs of the completion check (completion.ts implements it; this module does not import it). */
export interface CompletionCheck {
  /** Finalizes the operation if every task is terminal, re-announces it if its notification was lost. */
  check(operationId: string): Promise<void>;
}

export interface FanOutDeps {
  readonly store: StateStore;
  readonly catalog: Catalog;
  readonly tasks: Publisher;
  readonly completion: CompletionCheck;
  readonly batchSize: number;
  /** gs:// folder BigQuery extracts to when a backup's destination is outside Cloud Storage (BQBR_STAGING_URI). */
  readonly stagingUri?: string;
  readonly now?: () => Date;
}

export interface BackupStart {
  readonly operationId: string;
  readonly request: BackupRequest;
  readonly snapshotMillis: number;
  readonly requestMessageId?: string;
}

/** The operation document a backup starts with. */
export function newBackupOperation(start: BackupStart, now: Date): OperationDoc {
  const { request, snapshotMillis } = start;
  return newOperationDoc(
    {
      operationId: start.operationId,
      kind: 'backup',
      projectId: request.bigQuery.projectId,
      request,
      ...(start.requestMessageId !== undefined ? { requestMessageId: start.requestMessageId } : {}),
    },
    now,
    {
      snapshotMillis,
      snapshotTime: new Date(snapshotMillis).toISOString(),
      location: destinationUri(backupDestination(request).spec, backupRootPath(snapshotMillis)),
    },
  );
}

/**
 * Starts (or resumes) a backup. An operation already past planning is left as it is, except that a
 * completion check runs: its last event may have been lost.
 */
export async function startBackup(start: BackupStart, deps: FanOutDeps, logger: Logger): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const { created, operation } = await deps.store.createOperation(newBackupOperation(start, now()));
  if (operation.status !== 'PLANNING') {
    logger.info('request seen again; operation already past planning', { status: operation.status });
    await deps.completion.check(operation.operationId);
    return;
  }
  if (!created) logger.info('resuming the planning of an operation');
  await fanOut(operation, !created, deps, logger);
}

async function fanOut(
  operation: OperationDoc,
  resuming: boolean,
  deps: FanOutDeps,
  logger: Logger,
): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const { operationId } = operation;
  const request = operation.request as BackupRequest;
  // A resumed operation keeps its first snapshot instant: every table is read at the same moment.
  const snapshotMillis = operation.snapshotMillis!;
  const docs = mapPages(pages(planTables(deps.catalog, request, snapshotMillis), deps.batchSize), (page) => {
    const at = now().toISOString();
    return page.map((entry) => taskDoc(operationId, request, snapshotMillis, entry, at, deps.stagingUri));
  });
  await publishTasks(operationId, resuming, docs, deps, logger);
}

async function* mapPages<T, U>(source: AsyncIterable<T[]>, map: (page: T[]) => U[]): AsyncGenerator<U[]> {
  for await (const page of source) yield map(page);
}

/**
 * Creates the task documents a page at a time (create-if-absent) and publishes the PENDING tasks of
 * phase 1 once they exist (later phases are released by the completion check); then moves the
 * operation to RUNNING. A resumed operation publishes only tasks still PENDING in the store.
 */
export async function publishTasks(
  operationId: string,
  resuming: boolean,
  docs: AsyncIterable<TaskDoc[]>,
  deps: Pick<FanOutDeps, 'store' | 'tasks' | 'completion'>,
  logger: Logger,
): Promise<void> {
  let planned = 0;
  let published = 0;
  for await (const page of docs) {
    const tasks = dedupe(page);
    await deps.store.createTasks(operationId, tasks);
    const toPublish = (await stillPending(deps.store, operationId, tasks, resuming)).filter(
      (task) => (task.phase ?? 1) === 1,
    );
    await Promise.all(toPublish.map((task) => publishTask(deps.tasks, task)));
    planned += tasks.length;
    published += toPublish.length;
    await deps.store.updateOperation(operationId, { taskTotal: planned });
    logger.debug('fan-out page', { planned, published });
  }
  // Tables named twice were planned twice but have one task: the documents are the count.
  const counts = await deps.store.countTasks(operationId);
  const moved = await deps.store.transitionOperation(operationId, ['PLANNING'], 'RUNNING', {
    taskTotal: counts.total,
    fanOutComplete: true,
  });
  logger.info('fan-out complete', {
    tasks: counts.total,
    published,
    skipped: counts.SKIPPED,
    failed: counts.FAILED,
    moved,
  });
  // Tasks decided at planning (skipped, not found) send no events; a zero-table operation none at all.
  await deps.completion.check(operationId);
}

function taskDoc(
  operationId: string,
  request: BackupRequest,
  snapshotMillis: number,
  entry: PlannedTable,
  at: string,
  stagingUri: string | undefined,
): TaskDoc {
  const status = entry.action === 'EXPORT' ? 'PENDING' : entry.action === 'SKIP' ? 'SKIPPED' : 'FAILED';
  return plannedTaskDoc(
    {
      operationId,
      table: entry.table,
      spec: taskSpec(
        request,
        entry.table,
        snapshotMillis,
        stagingUri === undefined ? undefined : { operationId, stagingUri },
      ),
      status,
      ...(entry.note !== undefined ? { note: entry.note } : {}),
      ...(entry.error !== undefined ? { error: entry.error } : {}),
    },
    at,
  );
}

/** A new task document: PENDING for a worker, or already SKIPPED / FAILED by planning (with its note or error). */
export function plannedTaskDoc(
  planned: {
    readonly operationId: string;
    readonly table: TableRef;
    readonly spec: TaskSpec;
    readonly status: 'PENDING' | 'SKIPPED' | 'FAILED';
    readonly phase?: number;
    readonly note?: string;
    readonly error?: ErrorInfo;
  },
  at: string,
): TaskDoc {
  const { operationId, table, spec, status, phase, note, error } = planned;
  return {
    operationId,
    taskId: taskIdFor(table),
    table,
    spec,
    ...(phase !== undefined ? { phase } : {}),
    status,
    deliveries: 0,
    jobAttempt: 0,
    jobIds: [],
    ...(note !== undefined ? { note } : {}),
    ...(error !== undefined ? { error } : {}),
    createdAt: at,
    updatedAt: at,
    ...(status !== 'PENDING' ? { finishedAt: at } : {}),
  };
}

function dedupe(tasks: TaskDoc[]): TaskDoc[] {
  const byId = new Map<string, TaskDoc>();
  for (const task of tasks) if (!byId.has(task.taskId)) byId.set(task.taskId, task);
  return [...byId.values()];
}

const LOOKUP_CONCURRENCY = 50;

/** The tasks of a page to publish: all new PENDING ones; when resuming, only those still PENDING in the store. */
async function stillPending(
  store: StateStore,
  operationId: string,
  tasks: TaskDoc[],
  resuming: boolean,
): Promise<TaskDoc[]> {
  const pending = tasks.filter((task) => task.status === 'PENDING');
  if (!resuming) return pending;
  const result: TaskDoc[] = [];
  for (let i = 0; i < pending.length; i += LOOKUP_CONCURRENCY) {
    const chunk = pending.slice(i, i + LOOKUP_CONCURRENCY);
    const stored = await Promise.all(chunk.map((task) => store.getTask(operationId, task.taskId)));
    chunk.forEach((task, j) => {
      if (stored[j]?.status === 'PENDING') result.push(task);
    });
  }
  return result;
}
