// The frame every table step runs in (backup and restore alike): skip a task that is already terminal,
// move it to RUNNING, run the step's work, and mark it terminal exactly once, publishing its event.
// Also the one way a step runs a BigQuery job: start or find it by its deterministic id, wait within a
// budget, and hand over to a continuation message instead of holding a Pub/Sub lease.
import {
  RetryableError,
  TERMINAL_TASK_STATUSES,
  classifyError,
  type Logger,
  type StateStore,
  type TaskDoc,
  type TaskEvent,
  type TaskMessage,
  type TaskStatus,
  type TerminalTaskStatus,
} from '@bqbr/shared';
import { waitForJob, type JobRunner, type JobSnapshot } from './job-runner.js';

export interface TaskPublisher {
  publishEvent(event: TaskEvent): Promise<void>;
  /** Re-publishes a task message (a continuation that keeps waiting for a long job). */
  publishTask(message: TaskMessage): Promise<void>;
}

export interface StepSettings {
  /** How long one delivery waits for a job before handing over to a continuation message. */
  readonly jobWaitMs: number;
  readonly jobPollMs: number;
  /** Job attempts per table before the task fails (retryable job failures only). */
  readonly maxJobAttempts: number;
  /** Files one task copies at once to or from a destination outside Cloud Storage. */
  readonly transferConcurrency?: number;
}

/** What every step needs: the state store, BigQuery jobs and the task/event publisher. */
export interface StepDeps {
  readonly state: StateStore;
  readonly jobs: JobRunner;
  readonly publisher: TaskPublisher;
  readonly settings: StepSettings;
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
export const MAX_FILES_IN_TASK = 500;

/** Marks the task terminal (once) and publishes its event (every time). */
export type Finish = (status: TerminalTaskStatus, patch: Partial<TaskDoc>) => Promise<StepOutcome>;

/** A step's work on a RUNNING task. Permanent errors it throws fail the task; retryable ones nack. */
export type StepWork = (task: TaskDoc, finish: Finish) => Promise<StepOutcome>;

export const isTerminal = (status: TaskStatus): status is TerminalTaskStatus =>
  (TERMINAL_TASK_STATUSES as readonly string[]).includes(status);

export async function runTaskStep(
  message: TaskMessage,
  deps: StepDeps,
  ctx: StepContext,
  work: StepWork,
): Promise<StepOutcome> {
  const { state } = deps;
  const { operationId, taskId } = message;
  const now = deps.now ?? (() => new Date());

  const task = await state.getTask(operationId, taskId);
  if (task === undefined) {
    ctx.logger.warn('no task document for this message: dropped');
    return { kind: 'missing' };
  }
  if (isTerminal(task.status)) {
    // A lost event is recovered this way; the dispatcher's completion check is idempotent.
    await deps.publisher.publishEvent({ operationId, taskId, status: task.status });
    return { kind: 'alreadyFinished', status: task.status };
  }
  const started = await state.transitionTask(operationId, taskId, ['PENDING', 'RUNNING'], 'RUNNING', {
    deliveries: task.deliveries + 1,
    startedAt: task.startedAt ?? now().toISOString(),
  });
  if (!started) return afterRace(deps, message);

  const finish: Finish = async (status, patch) => {
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
    await deps.publisher.publishEvent({ operationId, taskId, status });
    return { kind: 'finished', status };
  };

  try {
    return await work({ ...task, status: 'RUNNING' }, finish);
  } catch (err) {
    const failure = classifyError(err);
    if (failure.kind === 'retryable') throw err;
    return finish('FAILED', { error: { reason: failure.reason, message: failure.message } });
  }
}

/** Another delivery moved the task first: publish its event if it is terminal, else retry later. */
async function afterRace(deps: StepDeps, message: TaskMessage): Promise<StepOutcome> {
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

/** A job run to its end: DONE (maybe failed), or handed over to a continuation message. */
export type JobResult =
  | { readonly kind: 'done'; readonly job: JobSnapshot }
  | { readonly kind: 'continued'; readonly outcome: StepOutcome };

/**
 * Starts the job `jobId` (or finds it: a redelivery) and waits for it within the delivery's budget.
 * The id is recorded on the task before the job starts, so a crash in between is seen as "our job".
 * Still running at the end of the budget: a continuation message is published to carry on waiting.
 */
export async function runJob(
  message: TaskMessage,
  task: TaskDoc,
  deps: StepDeps,
  ctx: StepContext,
  job: { readonly jobId: string; readonly location: string | undefined; readonly configuration: object },
): Promise<JobResult> {
  const logger = ctx.logger.child({ jobId: job.jobId, jobAttempt: task.jobAttempt });
  if (!task.jobIds.includes(job.jobId)) {
    task.jobIds = [...task.jobIds, job.jobId];
    await deps.state.updateTask(message.operationId, message.taskId, { jobIds: task.jobIds });
  }
  const started = await deps.jobs.startOrFind(job.jobId, job.location, job.configuration);
  logger.debug('job started or found', { state: started.state });
  const done = await waitForJob(deps.jobs, started, job.location, {
    pollMs: deps.settings.jobPollMs,
    budgetMs: deps.settings.jobWaitMs,
    signal: ctx.signal,
  });
  if (done.state === 'DONE') return { kind: 'done', job: done };
  // Hand over instead of holding the lease: the next delivery finds the same job by its id.
  return { kind: 'continued', outcome: await continueLater(message, deps, logger, 'job still running') };
}

/** Publishes a continuation message: the next delivery carries on where this one stops. */
export async function continueLater(
  message: TaskMessage,
  deps: StepDeps,
  logger: Logger,
  why: string,
): Promise<StepOutcome> {
  const continuation = (message.continuation ?? 0) + 1;
  await deps.publisher.publishTask({ ...message, continuation });
  logger.info(`${why}: continuation published`, { continuation });
  return { kind: 'continued', continuation };
}

/**
 * A DONE job that failed: a permanent reason fails the task; a retryable one bumps the task's job
 * attempt (the next delivery starts a new job) and throws for a nack, until the attempts run out.
 */
export async function jobFailed(
  message: TaskMessage,
  task: TaskDoc,
  deps: StepDeps,
  ctx: StepContext,
  finish: Finish,
  what: string,
  error: { readonly reason: string; readonly message: string },
): Promise<StepOutcome> {
  const { reason, message: text } = error;
  if (classifyError({ reason }).kind === 'permanent')
    return finish('FAILED', { error: { reason, message: text } });
  const nextAttempt = task.jobAttempt + 1;
  if (nextAttempt >= deps.settings.maxJobAttempts)
    return finish('FAILED', {
      error: { reason, message: `${text} (${what} job failed ${nextAttempt} times)` },
    });
  await deps.state.updateTask(message.operationId, message.taskId, { jobAttempt: nextAttempt });
  ctx.logger.warn(`${what} job failed: retrying with the next job attempt`, { reason, error: text });
  throw new RetryableError(reason, `${what} job failed: ${text}`);
}
