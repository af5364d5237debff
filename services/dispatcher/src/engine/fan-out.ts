// Fan-out: one task document and one bqbr-tasks message per table. Tasks are created a page at a time
// (create-if-absent) and published after they exist, so a redelivered request resumes where the last
// attempt stopped and never re-sends work already under way.
import { taskIdFor, type Logger, type StateStore, type TaskDoc } from '@bqbr/shared';
import type { Publisher } from '../handler.js';
import type { Completion } from './completion.js';
import type { PlannedTask } from './operation-kind.js';
import { pages } from './pages.js';
import { publishTask } from './task-messages.js';

export interface FanOutDeps {
  readonly store: StateStore;
  readonly tasks: Publisher;
  readonly completion: Pick<Completion, 'check'>;
  /** Tasks created and published per step (one Firestore batch, one wait for publishes). */
  readonly batchSize: number;
  readonly now: () => Date;
}

/**
 * Creates the task documents a page at a time and publishes the PENDING tasks of phase 1 once they
 * exist (later phases wait for their kind); then moves the operation to RUNNING. A resumed operation
 * publishes only tasks still PENDING in the store.
 */
export async function fanOut(
  operationId: string,
  resuming: boolean,
  planned: AsyncIterable<PlannedTask> | Iterable<PlannedTask>,
  deps: FanOutDeps,
  logger: Logger,
): Promise<void> {
  let total = 0;
  let published = 0;
  for await (const page of pages(planned, deps.batchSize)) {
    const at = deps.now().toISOString();
    const tasks = dedupe(page.map((task) => taskDoc(operationId, task, at)));
    await deps.store.createTasks(operationId, tasks);
    const toPublish = (await stillPending(deps.store, operationId, tasks, resuming)).filter(
      (task) => (task.phase ?? 1) === 1,
    );
    await Promise.all(toPublish.map((task) => publishTask(deps.tasks, task)));
    total += tasks.length;
    published += toPublish.length;
    await deps.store.updateOperation(operationId, { taskTotal: total });
    logger.debug('fan-out page', { planned: total, published });
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

/** A new task document: PENDING for a worker, or already SKIPPED / FAILED by planning (with its note or error). */
function taskDoc(operationId: string, planned: PlannedTask, at: string): TaskDoc {
  const { table, spec, status, phase, note, error } = planned;
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
