// Jobs: insert (client-chosen ids, 409 on reuse), get, list, cancel; PENDING → RUNNING → DONE with
// errorResult/errors and statistics, run in the background like BigQuery's.
import type { Logger } from '@bqbr/shared';
import { randomUUID } from 'node:crypto';
import { BigQueryError, duplicate, errorFor, invalid, notFound, type ErrorProto } from './api-error.js';
import type { Catalog } from './catalog.js';
import { JOB_TYPES, type Controls, type JobType } from './controls.js';
import type { Engine } from './engine.js';
import { DEFAULT_LOCATION, etagOf, type Json } from './resources.js';
import type { FieldSchema } from './schema.js';
import type { StorageClient } from './storage-client.js';

export interface EmulatorContext {
  readonly engine: Engine;
  readonly catalog: Catalog;
  readonly controls: Controls;
  readonly storage: StorageClient;
  /** Scratch space for files moving to and from Cloud Storage. */
  readonly workDir: string;
  readonly logger: Logger;
}

export type JobStateName = 'PENDING' | 'RUNNING' | 'DONE';

/** Where a query job's rows are kept for getQueryResults and paging. */
export interface QueryResult {
  readonly table: string;
  readonly fields: FieldSchema[];
  readonly totalRows: number;
}

export interface Job {
  readonly projectId: string;
  readonly jobId: string;
  readonly location: string;
  readonly type: JobType;
  /** The request's configuration, with BigQuery's defaults filled in. */
  readonly configuration: Json;
  state: JobStateName;
  errorResult?: ErrorProto;
  errors?: ErrorProto[];
  readonly creationTime: number;
  startTime?: number;
  endTime?: number;
  /** Type-specific statistics (`statistics.extract`, `.load`, `.query`, `.copy`). */
  statistics: Json;
  cancelRequested: boolean;
  readonly done: Promise<void>;
  result?: QueryResult;
  /** Table ids the job reads or writes, for fault targeting. */
  readonly tableIds: string[];
}

export interface JobRunner {
  /** Checks the configuration at insert (errors are the insert's 400) and returns table ids it touches. */
  prepare(configuration: Json, projectId: string): string[];
  /** Does the work; a thrown BigQueryError becomes the job's errorResult. */
  run(job: Job, ctx: EmulatorContext): Promise<void>;
}

const JOB_ID = /^[A-Za-z0-9_-]{1,1024}$/;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

const CONFIG_KEY: Record<JobType, string> = {
  QUERY: 'query',
  LOAD: 'load',
  EXTRACT: 'extract',
  COPY: 'copy',
};

export class JobManager {
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Set<Promise<void>>();

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly runners: Record<JobType, JobRunner>,
  ) {}

  /** jobs.insert: validates, registers and starts the job in the background. */
  insert(projectId: string, body: Json): Job {
    const reference = (body['jobReference'] ?? {}) as Json;
    const jobId =
      typeof reference['jobId'] === 'string' ? reference['jobId'] : `job_${randomUUID().replaceAll('-', '')}`;
    if (!JOB_ID.test(jobId))
      throw invalid(
        `Invalid job ID "${jobId}". Job IDs must be alphanumeric (plus underscores and dashes) and must be at most 1024 characters long.`,
      );
    const location = typeof reference['location'] === 'string' ? reference['location'] : DEFAULT_LOCATION;
    const key = jobKey(projectId, jobId);
    if (this.jobs.has(key)) throw duplicate(`Already Exists: Job ${projectId}:${location}.${jobId}`);
    const configuration = (body['configuration'] ?? {}) as Json;
    const type = jobTypeOf(configuration);
    const tableIds = this.runners[type].prepare(configuration, projectId);
    let resolveDone!: () => void;
    const job: Job = {
      projectId,
      jobId,
      location,
      type,
      configuration: { ...configuration, jobType: type },
      state: 'PENDING',
      creationTime: Date.now(),
      statistics: {},
      cancelRequested: false,
      done: new Promise<void>((resolve) => (resolveDone = resolve)),
      tableIds,
    };
    this.jobs.set(key, job);
    const run = this.execute(job).finally(() => {
      resolveDone();
      this.running.delete(run);
    });
    this.running.add(run);
    return job;
  }

  get(projectId: string, jobId: string): Job {
    const job = this.jobs.get(jobKey(projectId, jobId));
    if (!job) throw notFound(`Not found: Job ${projectId}:${jobId}`);
    return job;
  }

  /** Jobs of a project, newest first. */
  list(projectId: string): Job[] {
    return [...this.jobs.values()]
      .filter((j) => j.projectId === projectId)
      .sort((a, b) => b.creationTime - a.creationTime || b.jobId.localeCompare(a.jobId));
  }

  all(): Job[] {
    return [...this.jobs.values()];
  }

  cancel(projectId: string, jobId: string): Job {
    const job = this.get(projectId, jobId);
    if (job.state !== 'DONE') job.cancelRequested = true;
    return job;
  }

  async delete(projectId: string, jobId: string): Promise<void> {
    const job = this.get(projectId, jobId);
    if (job.state !== 'DONE') throw invalid(`Job ${projectId}:${jobId} is not done and cannot be deleted.`);
    this.jobs.delete(jobKey(projectId, jobId));
    if (job.result) await this.ctx.engine.run(`DROP TABLE IF EXISTS "${job.result.table}"`);
  }

  /** Waits until the job is DONE or `timeoutMs` passes; true when done. */
  async waitFor(job: Job, timeoutMs: number): Promise<boolean> {
    if (job.state === 'DONE') return true;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    await Promise.race([job.done, timeout]);
    clearTimeout(timer);
    // The state changed while we waited; TypeScript's narrowing from the first check does not know that.
    return (job.state as JobStateName) === 'DONE';
  }

  /** Lets running jobs finish (close). */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.running]);
  }

  private async execute(job: Job): Promise<void> {
    const { controls, logger } = this.ctx;
    try {
      // Leave PENDING on the next tick, as BigQuery schedules jobs a moment after insert.
      await sleep(0);
      job.state = 'RUNNING';
      job.startTime = Date.now();
      const latency = controls.latencyFor(job.type);
      const until = Date.now() + latency;
      while (Date.now() < until && !job.cancelRequested) await sleep(Math.min(50, until - Date.now()));
      if (job.cancelRequested)
        throw errorFor('stopped', 'Job execution was cancelled: User requested cancellation');
      const fault = controls.takeFault(job.type, job.tableIds);
      if (fault) throw errorFor(fault.reason, fault.message);
      await this.runners[job.type].run(job, this.ctx);
      if (job.cancelRequested && job.type === 'QUERY') {
        throw errorFor('stopped', 'Job execution was cancelled: User requested cancellation');
      }
    } catch (err) {
      const error =
        err instanceof BigQueryError
          ? err
          : errorFor('internalError', err instanceof Error ? err.message : String(err));
      if (!(err instanceof BigQueryError))
        logger.error('job failed unexpectedly', { jobId: job.jobId, error: String(err) });
      job.errorResult = error.toErrorProto();
      // A load's error already lists its summary first, then the bad rows.
      const details = (err as { errors?: ErrorProto[] }).errors;
      job.errors = Array.isArray(details) && details.length > 0 ? details : [job.errorResult];
    } finally {
      job.state = 'DONE';
      job.startTime ??= Date.now();
      job.endTime = Math.max(Date.now(), job.startTime);
      logger.debug('job done', { jobId: job.jobId, type: job.type, error: job.errorResult?.message });
    }
  }
}

const jobKey = (projectId: string, jobId: string): string => `${projectId}/${jobId}`;

export function jobTypeOf(configuration: Json): JobType {
  const present = JOB_TYPES.filter((t) => configuration[CONFIG_KEY[t]] !== undefined);
  if (present.length !== 1 || present[0] === undefined)
    throw invalid(
      'Required parameter is missing: exactly one of configuration.query, .load, .extract or .copy',
    );
  return present[0];
}

/** The REST `Job` resource. */
export function jobResource(job: Job, apiBase: string, projection: 'full' | 'minimal' = 'full'): Json {
  const id = `${job.projectId}:${job.location}.${job.jobId}`;
  const status: Json = { state: job.state };
  if (job.errorResult) status['errorResult'] = job.errorResult;
  if (job.errors) status['errors'] = job.errors;
  const statistics: Json = { creationTime: String(job.creationTime) };
  if (job.startTime !== undefined) statistics['startTime'] = String(job.startTime);
  if (job.endTime !== undefined) statistics['endTime'] = String(job.endTime);
  if (job.state === 'DONE') Object.assign(statistics, job.statistics);
  return {
    kind: 'bigquery#job',
    etag: etagOf(id, job.state, job.endTime ?? null),
    id,
    selfLink: `${apiBase}/projects/${job.projectId}/jobs/${job.jobId}?location=${job.location}`,
    user_email: 'emulator@bqbr.local',
    principal_subject: 'user:emulator@bqbr.local',
    jobReference: { projectId: job.projectId, jobId: job.jobId, location: job.location },
    ...(projection === 'full' ? { configuration: job.configuration } : {}),
    status,
    statistics,
  };
}
