// BigQuery jobs with client-chosen ids: start one, or find the one a previous delivery started, and wait
// for it within a budget so no Pub/Sub lease is held past its limits.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BigQuery } from '@google-cloud/bigquery';
import { classifyError } from '@bqbr/shared';

export interface JobError {
  readonly reason: string;
  readonly message: string;
}

/** What the worker needs to know about a job. */
export interface JobSnapshot {
  readonly jobId: string;
  readonly state: 'PENDING' | 'RUNNING' | 'DONE';
  /** Set when the job is DONE and failed. */
  readonly errorResult?: JobError;
  /** Rows a DONE load job wrote (statistics.load.outputRows). */
  readonly outputRows?: number;
}

export interface JobRunner {
  /** Inserts the job under `jobId`; if that id exists (a redelivery), returns the existing job instead. */
  startOrFind(jobId: string, location: string | undefined, configuration: object): Promise<JobSnapshot>;
  get(jobId: string, location: string | undefined): Promise<JobSnapshot>;
}

interface JobMetadataLike {
  status?: { state?: string; errorResult?: { reason?: string; message?: string } };
  statistics?: { load?: { outputRows?: string | number } };
}

function toSnapshot(jobId: string, metadata: JobMetadataLike): JobSnapshot {
  const state = metadata.status?.state;
  const snapshot = { jobId, state: state === 'DONE' || state === 'PENDING' ? state : 'RUNNING' } as const;
  const error = metadata.status?.errorResult;
  const outputRows = metadata.statistics?.load?.outputRows;
  if (state === 'DONE' && error === undefined && outputRows !== undefined)
    return { ...snapshot, outputRows: Number(outputRows) };
  if (state !== 'DONE' || error === undefined) return snapshot;
  return { ...snapshot, errorResult: { reason: error.reason ?? 'unknown', message: error.message ?? '' } };
}

export function createBigQueryJobRunner(bigquery: BigQuery): JobRunner {
  const get = async (jobId: string, location: string | undefined): Promise<JobSnapshot> => {
    const response = await bigquery.job(jobId, location === undefined ? {} : { location }).getMetadata();
    return toSnapshot(jobId, response[0] as JobMetadataLike);
  };
  return {
    get,
    async startOrFind(jobId, location, configuration) {
      try {
        const [, response] = await bigquery.createJob({
          jobId,
          ...(location === undefined ? {} : { location }),
          configuration,
        });
        return toSnapshot(jobId, response);
      } catch (err) {
        // 409 duplicate: this job id was inserted before (a redelivered message); never start a second job.
        if (classifyError(err).reason === 'duplicate') return get(jobId, location);
        throw err;
      }
    },
  };
}

export interface WaitOptions {
  readonly pollMs: number;
  /** How long to wait in all, from now. */
  readonly budgetMs: number;
  /** Shutdown: stop waiting at once (the caller hands the task over). */
  readonly signal?: AbortSignal;
}

/** Polls until the job is DONE or the budget is spent; returns the last snapshot either way. */
export async function waitForJob(
  runner: JobRunner,
  job: JobSnapshot,
  location: string | undefined,
  options: WaitOptions,
): Promise<JobSnapshot> {
  const deadline = Date.now() + options.budgetMs;
  let current = job;
  while (current.state !== 'DONE') {
    const remaining = deadline - Date.now();
    if (remaining <= 0 || options.signal?.aborted === true) return current;
    try {
      await sleep(Math.min(options.pollMs, remaining), undefined, { signal: options.signal });
    } catch {
      return current; // aborted
    }
    current = await runner.get(job.jobId, location);
  }
  return current;
}
