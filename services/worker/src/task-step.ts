// The frame every table step runs in (backup and restore alike): skip a task that is already terminal,
// move it to RUNNING, run the step's work, and mark it terminal exactly once, publishing its event.
import {
  RetryableError,
  TERMINAL_TASK_STATUSES,
  classifyError,
  type TaskDoc,
  type TaskMessage,
  type TaskSpec,
  type TaskStatus,
  type TerminalTaskStatus,
} from '@bqbr/shared';
import type { StepContext, StepDeps } from './step-deps.js';

/** How a delivery ended; every outcome acks the message (retryable failures throw instead). */
export type StepOutcome =
  | { readonly kind: 'finished'; readonly status: TerminalTaskStatus }
  /** The task was already terminal: its event was published again. */
  | { readonly kind: 'alreadyFinished'; readonly status: TerminalTaskStatus }
  /** The job is still running: a continuation message carries on waiting. */
  | { readonly kind: 'continued'; readonly continuation: number }
  /** No task document: nothing to do (the operation is gone or the message is stray). */
  | { readonly kind: 'missing' };

/** Marks the task terminal (once) and publishes its event (every time). */
export type Finish = (status: TerminalTaskStatus, patch: Partial<TaskDoc>) => Promise<StepOutcome>;

/** A step's work on a RUNNING task. Permanent errors it throws fail the task; retryable ones nack. */
export type StepWork = (task: TaskDoc, finish: Finish) => Promise<StepOutcome>;

/** One delivery's work on one RUNNING task: what every part of a step is handed. */
export interface StepRun<Deps extends StepDeps = StepDeps, Spec extends TaskSpec = TaskSpec> {
  readonly message: TaskMessage;
  readonly spec: Spec;
  /** The task as this delivery found it; job ids and flags are kept up to date as they are recorded. */
  readonly task: TaskDoc;
  readonly deps: Deps;
  readonly ctx: StepContext;
  readonly finish: Finish;
}

const isTerminal = (status: TaskStatus): status is TerminalTaskStatus =>
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
