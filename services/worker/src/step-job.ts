// The one way a table step runs a BigQuery job: start or find it by its deterministic id, wait within the
// delivery's budget (a continuation carries on after it), and retry a failed one with the next job attempt.
import { RetryableError, classifyError, mapLimit } from '@bqbr/shared';
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

/** Several jobs of one task run to their ends (an incremental's partitions), or handed over together. */
export type JobsResult =
  | { readonly kind: 'done'; readonly jobs: readonly JobSnapshot[] }
  | { readonly kind: 'continued'; readonly outcome: StepOutcome };

/**
 * `runJob` for several jobs of one task: every id recorded on the task in one write before any starts,
 * `concurrency` started or found at once, all waited for within one delivery's budget. Any still running
 * then: a continuation carries on (the next delivery finds them all by their ids).
 */
export async function runJobs(
  run: StepRun,
  jobs: readonly {
    readonly jobId: string;
    readonly location: string | undefined;
    readonly configuration: object;
  }[],
  concurrency: number,
): Promise<JobsResult> {
  const { message, task, deps, ctx } = run;
  const fresh = jobs.map((job) => job.jobId).filter((id) => !task.jobIds.includes(id));
  if (fresh.length > 0) {
    task.jobIds = [...task.jobIds, ...fresh];
    await deps.state.updateTask(message.operationId, message.taskId, { jobIds: task.jobIds });
  }
  const deadline = Date.now() + deps.settings.jobWaitMs;
  const ended = await mapLimit(jobs, concurrency, async (job) => {
    const started = await deps.jobs.startOrFind(job.jobId, job.location, job.configuration);
    return waitForJob(deps.jobs, started, job.location, {
      pollMs: deps.settings.jobPollMs,
      budgetMs: Math.max(0, deadline - Date.now()),
      signal: ctx.signal,
    });
  });
  const running = ended.filter((job) => job.state !== 'DONE').length;
  if (running === 0) return { kind: 'done', jobs: ended };
  const logger = ctx.logger.child({ jobAttempt: task.jobAttempt });
  return {
    kind: 'continued',
    outcome: await continueLater(run, `${running} of ${jobs.length} jobs still running`, logger),
  };
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
