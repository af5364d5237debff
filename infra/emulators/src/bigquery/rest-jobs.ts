// jobs.insert/get/list/cancel/delete, jobs.query and jobs.getQueryResults
import { BigQueryError, errorFor, invalid } from './api-error.js';
import type { Request } from './http.js';
import { readJson, sendJson, sendNoContent } from './http.js';
import { jobResource, type EmulatorContext, type Job, type JobManager } from './jobs.js';
import { decodePageToken, encodePageToken, etagOf, page, type Json } from './resources.js';
import { quoteIdent } from './schema.js';
import { toFv } from './rest-tables.js';
import { selectListSql, toApiLeaf } from './value-sql.js';

/** jobs.query waits this long for results unless the request says otherwise (BigQuery's default is 10 s). */
const DEFAULT_QUERY_TIMEOUT_MS = 10_000;

export async function insertJob(jobs: JobManager, r: Request, projectId: string): Promise<void> {
  const body = await readJson(r.req);
  const job = jobs.insert(projectId, body);
  sendJson(r.res, 200, jobResource(job, r.apiBase));
}

export function getJob(jobs: JobManager, r: Request, projectId: string, jobId: string): void {
  sendJson(r.res, 200, jobResource(jobs.get(projectId, jobId), r.apiBase));
}

export function listJobs(jobs: JobManager, r: Request, projectId: string): void {
  const states = r.query.getAll('stateFilter').map((s) => s.toUpperCase());
  const min = Number(r.query.get('minCreationTime') ?? 0);
  const max = Number(r.query.get('maxCreationTime') ?? Number.MAX_SAFE_INTEGER);
  const projection = r.query.get('projection') === 'full' ? 'full' : 'minimal';
  const all = jobs
    .list(projectId)
    .filter(
      (j) =>
        (states.length === 0 || states.includes(j.state)) && j.creationTime >= min && j.creationTime <= max,
    );
  const { items, nextPageToken } = page(all, r.query, 1000);
  sendJson(r.res, 200, {
    kind: 'bigquery#jobList',
    etag: etagOf(projectId, all.length),
    jobs: items.map((j) => {
      const resource = jobResource(j, r.apiBase, projection);
      return { ...resource, state: j.state, ...(j.errorResult ? { errorResult: j.errorResult } : {}) };
    }),
    ...(nextPageToken ? { nextPageToken } : {}),
  });
}

export function cancelJob(jobs: JobManager, r: Request, projectId: string, jobId: string): void {
  const job = jobs.cancel(projectId, jobId);
  sendJson(r.res, 200, { kind: 'bigquery#jobCancelResponse', job: jobResource(job, r.apiBase) });
}

export async function deleteJob(
  jobs: JobManager,
  r: Request,
  projectId: string,
  jobId: string,
): Promise<void> {
  await jobs.delete(projectId, jobId);
  sendNoContent(r.res);
}

/** jobs.query: starts a query job and waits up to timeoutMs for its first page. */
export async function runQuery(
  ctx: EmulatorContext,
  jobs: JobManager,
  r: Request,
  projectId: string,
): Promise<void> {
  const body = await readJson(r.req);
  if (typeof body['query'] !== 'string') throw invalid('Required parameter is missing: query');
  const configuration: Json = {
    query: {
      query: body['query'],
      useLegacySql: body['useLegacySql'] ?? true,
      ...(body['defaultDataset'] !== undefined ? { defaultDataset: body['defaultDataset'] } : {}),
      ...(body['queryParameters'] !== undefined ? { queryParameters: body['queryParameters'] } : {}),
      ...(body['parameterMode'] !== undefined ? { parameterMode: body['parameterMode'] } : {}),
    },
    ...(body['dryRun'] === true ? { dryRun: true } : {}),
    ...(body['labels'] !== undefined ? { labels: body['labels'] } : {}),
  };
  const requestId = typeof body['requestId'] === 'string' ? body['requestId'] : undefined;
  const job = jobs.insert(projectId, {
    jobReference: {
      ...(requestId ? { jobId: `query_${requestId.replace(/[^A-Za-z0-9_-]/g, '_')}` } : {}),
      ...(typeof body['location'] === 'string' ? { location: body['location'] } : {}),
    },
    configuration,
  });
  const timeout = Number(body['timeoutMs'] ?? DEFAULT_QUERY_TIMEOUT_MS);
  const done = await jobs.waitFor(job, timeout);
  const int64 = (body['formatOptions'] as Json | undefined)?.['useInt64Timestamp'] === true;
  const maxResults = body['maxResults'] !== undefined ? Number(body['maxResults']) : undefined;
  sendJson(r.res, 200, {
    kind: 'bigquery#queryResponse',
    ...(await resultsBody(ctx, job, done, { start: 0, maxResults, int64 })),
  });
}

export async function getQueryResults(
  ctx: EmulatorContext,
  jobs: JobManager,
  r: Request,
  projectId: string,
  jobId: string,
): Promise<void> {
  const job = jobs.get(projectId, jobId);
  if (job.type !== 'QUERY') throw invalid(`Job ${projectId}:${jobId} is not a query job.`);
  const timeout = Number(r.query.get('timeoutMs') ?? DEFAULT_QUERY_TIMEOUT_MS);
  const done = await jobs.waitFor(job, timeout);
  const startText = r.query.get('startIndex');
  const start = startText !== null ? Number(startText) : decodePageToken(r.query.get('pageToken'));
  const maxText = r.query.get('maxResults');
  sendJson(r.res, 200, {
    kind: 'bigquery#getQueryResultsResponse',
    etag: etagOf(projectId, jobId, start),
    ...(await resultsBody(ctx, job, done, {
      start,
      maxResults: maxText !== null ? Number(maxText) : undefined,
      int64: r.query.get('formatOptions.useInt64Timestamp') === 'true',
    })),
  });
}

/** Rows per page when the client gives no maxResults (BigQuery caps pages at 10 MB). */
const DEFAULT_PAGE_ROWS = 100_000;

async function resultsBody(
  ctx: EmulatorContext,
  job: Job,
  done: boolean,
  page: { start: number; maxResults: number | undefined; int64: boolean },
): Promise<Json> {
  const jobReference = { projectId: job.projectId, jobId: job.jobId, location: job.location };
  if (!done) return { jobReference, jobComplete: false };
  if (job.errorResult) {
    const error = errorFor(job.errorResult.reason, job.errorResult.message);
    throw new BigQueryError(error.status === 200 ? 400 : error.status, error.reason, error.message);
  }
  const result = job.result;
  const statistics = (job.statistics['query'] ?? {}) as Json;
  const base: Json = {
    jobReference,
    jobComplete: true,
    cacheHit: false,
    totalBytesProcessed: statistics['totalBytesProcessed'] ?? '0',
    ...(statistics['numDmlAffectedRows'] !== undefined
      ? { numDmlAffectedRows: statistics['numDmlAffectedRows'] }
      : {}),
  };
  if (!result) return { ...base, totalRows: '0', schema: { fields: [] } };
  const limit = page.maxResults ?? DEFAULT_PAGE_ROWS;
  const rows =
    result.fields.length === 0 || limit === 0
      ? []
      : await ctx.engine.all(
          `SELECT ${selectListSql(result.fields, toApiLeaf)} FROM ${quoteIdent(result.table)} ORDER BY rowid LIMIT ${limit} OFFSET ${page.start}`,
        );
  const next = page.start + rows.length;
  return {
    ...base,
    schema: { fields: result.fields },
    totalRows: String(result.totalRows),
    ...(rows.length > 0 ? { rows: rows.map((row) => toFv(result.fields, row, page.int64)) } : {}),
    ...(next < result.totalRows && rows.length > 0 ? { pageToken: encodePageToken(next) } : {}),
  };
}
