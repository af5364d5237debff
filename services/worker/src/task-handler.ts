// One bqbr-tasks message, from streaming pull or push alike: decode it at the edge, run the table step,
// and say whether to ack (done, recorded, or undecodable) or nack (retryable: the subscription backs off).
import {
  TaskMessage,
  decode,
  dispositionOf,
  type Disposition,
  type Logger,
  type ReceivedMessage,
} from '@bqbr/shared';
import { runBackupStep, type BackupStepDeps } from './backup-step.js';
import { runPruneStep, type PruneStepDeps } from './prune-step.js';
import type { RestoreStepDeps } from './restore-deps.js';
import { runRestoreStep } from './restore-step.js';
import type { StepContext } from './step-deps.js';
import type { StepOutcome } from './task-step.js';
import { runVerifyStep, type VerifyStepDeps } from './verify-step.js';

export type { Disposition } from '@bqbr/shared';

export interface HandlerContext {
  readonly logger: Logger;
  readonly signal: AbortSignal;
  readonly deps: WorkerStepDeps;
}

/** Everything any step needs: the wiring (worker.ts) builds one of these. */
export type WorkerStepDeps = BackupStepDeps & RestoreStepDeps & PruneStepDeps & VerifyStepDeps;

/** The step of each kind of task. */
const STEPS: {
  readonly [K in TaskMessage['spec']['kind']]: (
    message: TaskMessage,
    deps: WorkerStepDeps,
    ctx: StepContext,
  ) => Promise<StepOutcome>;
} = {
  backup: runBackupStep,
  restore: runRestoreStep,
  prune: runPruneStep,
  verify: runVerifyStep,
};

function decodeTaskMessage(message: ReceivedMessage): TaskMessage {
  let body: unknown;
  try {
    body = JSON.parse(message.data.toString('utf8'));
  } catch {
    return decode(TaskMessage, undefined, 'task message (not JSON)');
  }
  return decode(TaskMessage, body, 'task message');
}

export async function handleTaskMessage(message: ReceivedMessage, ctx: HandlerContext): Promise<Disposition> {
  const base = ctx.logger.child({
    messageId: message.messageId,
    deliveryAttempt: message.deliveryAttempt,
    operationId: message.attributes['operationId'],
    taskId: message.attributes['taskId'],
  });
  let task: TaskMessage;
  try {
    task = decodeTaskMessage(message);
  } catch (err) {
    // Retrying cannot fix a malformed message; dropping it is the only way forward.
    base.error('undecodable task message: acked without processing', { error: err });
    return 'ack';
  }
  const logger = ctx.logger.child({
    operationId: task.operationId,
    taskId: task.taskId,
    messageId: message.messageId,
    deliveryAttempt: message.deliveryAttempt,
    ...(task.continuation === undefined ? {} : { continuation: task.continuation }),
  });
  try {
    const step = { logger, signal: ctx.signal };
    const outcome = await STEPS[task.spec.kind](task, ctx.deps, step);
    logger.debug('task message handled', { outcome });
    return 'ack';
  } catch (err) {
    // The services' one ack rule: a PermanentError is acked, everything else redelivered.
    const { disposition, reason } = dispositionOf(err);
    if (disposition === 'ack') logger.error('task message failed permanently: acked', { error: err, reason });
    else logger.warn('task message failed, will be retried', { error: err, reason });
    return disposition;
  }
}
