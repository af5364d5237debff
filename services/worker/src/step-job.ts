// The one way a table step runs a BigQuery job: start or find it by its deterministic id, wait within the
// delivery's budget (a continuation carries on after it), and retry a failed one with the next job attempt.
import { RetryableError, classifyError } from '@bqbr/shared';
import { continueLater } from './continuation.js';
import { waitForJob, type JobSnapshot } from './job-runner.js';
import type { StepOutcome, StepRun } from './task-step.js';

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
  run: StepRun,
  job: { readonly jobId: string; readonly location: string | undefined; readonly configuration: object },
): Promise<JobResult> {
  const { message, task, deps, ctx } = run;
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
  return { kind: 'continued', outcome: await continueLater(run, 'job still running', logger) };
}

/**
 * A DONE job that failed: a permanent reason fails the task; a retryable one bumps the task's job
 * attempt (the next delivery starts a new job) and throws for a nack, until the attempts run out.
 */
export async function jobFailed(
  run: StepRun,
  what: string,
  error: { readonly reason: string; readonly message: string },
): Promise<StepOutcome> {
  const { message, task, deps, ctx, finish } = run;
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
