// BigQuery jobs with client-chosen ids: start one, or find the one a previous delivery started, and wait
// for it within a budget so no Pub/Sub lease is held past its limits.
import { setTimeout as sleep } from 'node:timers/promises';
import type { BigQuery } from '@google-cloud/bigquery';
import { PermanentError, classifyError } from '@bqbr/shared';
import { jobMismatch } from './job-match.js';

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
  /** Files a DONE extract job wrote, per destination URI in order (statistics.extract.destinationUriFileCounts). */
  readonly destinationUriFileCounts?: readonly number[];
}

export interface JobRunner {
  /**
   * Inserts the job under `jobId`; if that id exists (a redelivery), returns the existing job instead, but
   * only when it was started with this configuration (else a permanent `duplicate` failure).
   */
  startOrFind(jobId: string, location: string | undefined, configuration: object): Promise<JobSnapshot>;
  get(jobId: string, location: string | undefined): Promise<JobSnapshot>;
  /** The first page of a DONE query job's result rows (a fingerprint query's one row). */
  queryRows(jobId: string, location: string | undefined): Promise<readonly Record<string, unknown>[]>;
}

interface JobMetadataLike {
  configuration?: unknown;
  status?: { state?: string; errorResult?: { reason?: string; message?: string } };
  statistics?: {
    load?: { outputRows?: string | number };
    // int64 values, which BigQuery's JSON sends as strings.
    extract?: { destinationUriFileCounts?: readonly (string | number)[] };
  };
}

function toSnapshot(jobId: string, metadata: JobMetadataLike): JobSnapshot {
  const state = metadata.status?.state;
  const snapshot = { jobId, state: state === 'DONE' || state === 'PENDING' ? state : 'RUNNING' } as const;
  if (state !== 'DONE') return snapshot;
  const error = metadata.status?.errorResult;
  if (error !== undefined)
    return { ...snapshot, errorResult: { reason: error.reason ?? 'unknown', message: error.message ?? '' } };
  const outputRows = metadata.statistics?.load?.outputRows;
  const fileCounts = metadata.statistics?.extract?.destinationUriFileCounts;
  return {
    ...snapshot,
    ...(outputRows === undefined ? {} : { outputRows: Number(outputRows) }),
    ...(fileCounts === undefined ? {} : { destinationUriFileCounts: fileCounts.map(Number) }),
  };
}

export function createBigQueryJobRunner(bigquery: BigQuery): JobRunner {
  const metadata = async (jobId: string, location: string | undefined): Promise<JobMetadataLike> => {
    const response = await bigquery.job(jobId, location === undefined ? {} : { location }).getMetadata();
    return response[0] as JobMetadataLike;
  };
  const get = async (jobId: string, location: string | undefined): Promise<JobSnapshot> =>
    toSnapshot(jobId, await metadata(jobId, location));
  return {
    get,
    async queryRows(jobId, location) {
      const [rows] = await bigquery
        .job(jobId, location === undefined ? {} : { location })
        .getQueryResults({ maxResults: 1000, autoPaginate: false });
      return rows as Record<string, unknown>[];
    },
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
        if (classifyError(err).reason !== 'duplicate') throw err;
        const found = await metadata(jobId, location);
        const mismatch = jobMismatch(configuration, found.configuration);
        if (mismatch !== undefined)
          throw new PermanentError(
            'duplicate',
            `BigQuery job ${jobId} already exists but is not this task's job: ${mismatch}; it was not adopted`,
          );
        return toSnapshot(jobId, found);
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
