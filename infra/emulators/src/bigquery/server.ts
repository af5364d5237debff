import { createSilentLogger, type Logger } from '@bqbr/shared';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BigQueryError, errorFor, invalid, notFound } from './api-error.js';
import { Catalog } from './catalog.js';
import { Controls } from './controls.js';
import { copyRunner } from './copy-job.js';
import { Engine } from './engine.js';
import { extractRunner } from './extract-job.js';
import { readJson, sendError, sendJson, sendNoContent, type Request } from './http.js';
import { insertAll } from './insert-all.js';
import { JobManager, type EmulatorContext } from './jobs.js';
import { loadRunner } from './load-job.js';
import { createQueryRunner, viewSchema } from './query-job.js';
import { checkProjectId } from './resources.js';
import * as datasets from './rest-datasets.js';
import * as jobsApi from './rest-jobs.js';
import * as routines from './rest-routines.js';
import * as tables from './rest-tables.js';
import { StorageClient } from './storage-client.js';

export interface BigQueryEmulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 9050; 0 picks a free port. */
  port?: number;
  /** Tables and metadata live in `<dataDir>/bigquery.duckdb` and survive restarts; default: in memory. */
  dataDir?: string;
  /** The Cloud Storage JSON API that extract and load jobs use; default STORAGE_EMULATOR_HOST or http://127.0.0.1:4443. */
  storageUrl?: string;
  /** Default: silent. */
  logger?: Logger;
}

export interface RunningBigQueryEmulator {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2000;

/** Starts a BigQuery REST v2 emulator on DuckDB. */
export async function startBigQueryEmulator(
  options: BigQueryEmulatorOptions = {},
): Promise<RunningBigQueryEmulator> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? createSilentLogger();
  const storageUrl = (
    options.storageUrl ??
    process.env['STORAGE_EMULATOR_HOST'] ??
    'http://127.0.0.1:4443'
  ).replace(/\/+$/, '');
  let dbPath = ':memory:';
  if (options.dataDir !== undefined) {
    await mkdir(options.dataDir, { recursive: true });
    dbPath = join(options.dataDir, 'bigquery.duckdb');
  }
  const workDir = await mkdtemp(join(tmpdir(), 'bq-emulator-'));
  const engine = await Engine.open(dbPath);
  const catalog = await Catalog.open(engine);
  const ctx: EmulatorContext = {
    engine,
    catalog,
    controls: new Controls(),
    storage: new StorageClient(/^https?:\/\//.test(storageUrl) ? storageUrl : `http://${storageUrl}`),
    workDir,
    logger,
  };
  const jobs = new JobManager(ctx, {
    EXTRACT: extractRunner,
    LOAD: loadRunner,
    COPY: copyRunner,
    QUERY: createQueryRunner(),
  });

  const inFlight = new Set<Promise<void>>();
  const server = createServer((req, res) => {
    const handled = handle(ctx, jobs, req, res).finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 9050, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info('bigquery emulator listening', { url, storage: storageUrl, database: dbPath });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.race([
      Promise.allSettled([...inFlight]),
      new Promise((r) => setTimeout(r, CLOSE_GRACE_MS)),
    ]);
    server.closeAllConnections();
    await closed;
    for (const job of jobs.all()) job.cancelRequested = true;
    await jobs.drain();
    await engine.close();
    await rm(workDir, { recursive: true, force: true });
    logger.info('bigquery emulator closed', { url });
  };
  return { url, port, close: () => (closing ??= close()) };
}

async function handle(
  ctx: EmulatorContext,
  jobs: JobManager,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q >= 0 ? rawUrl.slice(0, q) : rawUrl;
  const r: Request = {
    method: req.method ?? 'GET',
    query: new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : ''),
    req,
    res,
    apiBase: `http://${req.headers.host ?? 'localhost'}/bigquery/v2`,
    logger: ctx.logger,
  };
  try {
    let segments: string[];
    try {
      segments = path.split('/').filter(Boolean).map(decodeURIComponent);
    } catch {
      throw invalid(`Invalid path: ${path}`);
    }
    await route(ctx, jobs, r, segments);
  } catch (err) {
    const error =
      err instanceof BigQueryError
        ? err
        : errorFor('internalError', err instanceof Error ? err.message : String(err));
    if (!(err instanceof BigQueryError))
      ctx.logger.error('request failed', { url: rawUrl, error: String(err) });
    sendError(res, error);
  }
  ctx.logger.debug('request', { method: r.method, url: rawUrl, status: res.statusCode });
}

const noRoute = (r: Request): BigQueryError => notFound(`Not found: ${r.method} ${r.req.url ?? ''}`);

async function route(ctx: EmulatorContext, jobs: JobManager, r: Request, segments: string[]): Promise<void> {
  if (segments[0] === 'emulator' && segments[1] === 'v1')
    return routeControls(ctx, jobs, r, segments.slice(2));
  // Clients differ: some call /bigquery/v2/projects/..., others (BIGQUERY_EMULATOR_HOST) /projects/...
  if (segments[0] === 'bigquery' && segments[1] === 'v2') segments = segments.slice(2);
  const m = r.method;
  if (segments[0] !== 'projects') throw noRoute(r);
  const [, projectId, collection, id, sub, subId, action] = segments;
  if (projectId === undefined) {
    if (m === 'GET') return listProjects(ctx, r);
    throw noRoute(r);
  }
  checkProjectId(projectId);
  if (collection === 'datasets') {
    if (id === undefined) {
      if (m === 'GET') return datasets.listDatasets(ctx, r, projectId);
      if (m === 'POST') return datasets.insertDataset(ctx, r, projectId);
      throw noRoute(r);
    }
    const dataset = { projectId, datasetId: id };
    if (sub === undefined) {
      if (m === 'GET') return datasets.getDataset(ctx, r, dataset);
      if (m === 'PATCH') return datasets.updateDataset(ctx, r, dataset, 'patch');
      if (m === 'PUT') return datasets.updateDataset(ctx, r, dataset, 'update');
      if (m === 'DELETE') return datasets.deleteDataset(ctx, r, dataset);
      throw noRoute(r);
    }
    if (sub === 'tables') {
      if (subId === undefined) {
        if (m === 'GET') return tables.listTables(ctx, r, dataset);
        if (m === 'POST') return tables.insertTable(ctx, r, dataset, viewSchema(ctx));
        throw noRoute(r);
      }
      const table = { ...dataset, tableId: subId };
      if (action === undefined) {
        if (m === 'GET') return tables.getTable(ctx, r, table);
        if (m === 'PATCH') return tables.updateTable(ctx, r, table, 'patch', viewSchema(ctx));
        if (m === 'PUT') return tables.updateTable(ctx, r, table, 'update', viewSchema(ctx));
        if (m === 'DELETE') return tables.deleteTable(ctx, r, table);
      }
      if (action === 'data' && m === 'GET') return tables.listTableData(ctx, r, table);
      if (action === 'insertAll' && m === 'POST') return insertAll(ctx, r, table);
      throw noRoute(r);
    }
    if (sub === 'routines') {
      if (subId === undefined) {
        if (m === 'GET') return routines.listRoutines(ctx, r, dataset);
        if (m === 'POST') return routines.insertRoutine(ctx, r, dataset);
        throw noRoute(r);
      }
      const routine = { ...dataset, routineId: subId };
      if (m === 'GET') return routines.getRoutine(ctx, r, routine);
      if (m === 'PUT') return routines.updateRoutine(ctx, r, routine);
      if (m === 'DELETE') return routines.deleteRoutine(ctx, r, routine);
      throw noRoute(r);
    }
    throw noRoute(r);
  }
  if (collection === 'jobs') {
    if (id === undefined) {
      if (m === 'GET') return jobsApi.listJobs(jobs, r, projectId);
      if (m === 'POST') return jobsApi.insertJob(jobs, r, projectId);
      throw noRoute(r);
    }
    if (sub === undefined && m === 'GET') return jobsApi.getJob(jobs, r, projectId, id);
    if (sub === 'cancel' && m === 'POST') return jobsApi.cancelJob(jobs, r, projectId, id);
    if (sub === 'delete' && m === 'DELETE') return jobsApi.deleteJob(jobs, r, projectId, id);
    throw noRoute(r);
  }
  if (collection === 'queries') {
    if (id === undefined && m === 'POST') return jobsApi.runQuery(ctx, jobs, r, projectId);
    if (id !== undefined && m === 'GET') return jobsApi.getQueryResults(ctx, jobs, r, projectId, id);
    throw noRoute(r);
  }
  if (collection === 'serviceAccount' && m === 'GET') {
    return sendJson(r.res, 200, {
      kind: 'bigquery#getServiceAccountResponse',
      email: `bq-emulator@${projectId}.iam.gserviceaccount.com`,
    });
  }
  throw noRoute(r);
}

function listProjects(ctx: EmulatorContext, r: Request): void {
  const projects = ctx.catalog
    .allDatasetStates()
    .map((p) => p.projectId)
    .sort();
  sendJson(r.res, 200, {
    kind: 'bigquery#projectList',
    totalItems: projects.length,
    projects: projects.map((id) => ({
      kind: 'bigquery#project',
      id,
      numericId: '0',
      projectReference: { projectId: id },
      friendlyName: id,
    })),
  });
}

/** Emulator-only endpoints: /emulator/v1/controls (latency, faults, shard size) and /emulator/v1/jobs (counts). */
async function routeControls(
  ctx: EmulatorContext,
  jobs: JobManager,
  r: Request,
  segments: string[],
): Promise<void> {
  const [what] = segments;
  if (what === 'controls') {
    if (r.method === 'GET') return sendJson(r.res, 200, ctx.controls.view());
    if (r.method === 'PATCH' || r.method === 'PUT') {
      const body = await readJson(r.req);
      if (r.method === 'PUT') ctx.controls.reset();
      ctx.controls.update(body);
      return sendJson(r.res, 200, ctx.controls.view());
    }
    if (r.method === 'DELETE') {
      ctx.controls.reset();
      return sendNoContent(r.res);
    }
  }
  if (what === 'faults' && r.method === 'POST') {
    ctx.controls.addFault(await readJson(r.req));
    return sendJson(r.res, 200, ctx.controls.view());
  }
  if (what === 'jobs' && r.method === 'GET') {
    // Every job of every project, for tests that count jobs (e.g. "exported exactly once").
    return sendJson(r.res, 200, {
      jobs: jobs.all().map((j) => ({
        projectId: j.projectId,
        jobId: j.jobId,
        type: j.type,
        state: j.state,
        tableIds: j.tableIds,
        ...(j.errorResult ? { errorResult: j.errorResult } : {}),
        creationTime: j.creationTime,
      })),
    });
  }
  throw noRoute(r);
}
