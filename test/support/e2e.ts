// End-to-end harness: the local stack, the dispatcher and workers as separate processes (built
// services/*/dist/main.js), and helpers to seed BigQuery, submit requests and watch Firestore.
import { BigQuery } from '@google-cloud/bigquery';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { freePort, startProcess, startStack, type ManagedProcess, type RunningStack } from '@bqbr/emulators';
import { DEFAULT_TOPOLOGY, ensureTopology, type OperationDoc, type TaskDoc } from '@bqbr/shared';
import { PassThroughClient } from 'google-auth-library';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const serviceMain = (name: 'dispatcher' | 'worker'): string => `${repoRoot}services/${name}/dist/main.js`;

export const unique = (prefix: string): string =>
  `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 10)}`;

export interface EnvironmentOptions {
  /** How workers receive tasks: streaming pull, or Pub/Sub push to their HTTP endpoint. */
  readonly workerMode?: 'pull' | 'push';
  /** How the dispatcher receives requests, events and dead letters: streaming pull, or push (Cloud Run). */
  readonly dispatcherMode?: 'pull' | 'push';
  /** The tasks subscription's ack deadline (seconds). */
  readonly ackDeadlineSeconds?: number;
  /** How long one delivery waits for a BigQuery job before handing over to a continuation message. */
  readonly jobWaitSeconds?: number;
  readonly workers?: number;
  /** Extra settings for every worker (e.g. BQBR_WORKER_CONCURRENCY). */
  readonly workerEnv?: Readonly<Record<string, string>>;
  /** Extra settings for the dispatcher (e.g. BQBR_FANOUT_BATCH_SIZE). */
  readonly dispatcherEnv?: Readonly<Record<string, string>>;
  /** Also start the destinations outside Google Cloud: s3rver (S3) and Azurite (Azure Blob Storage). */
  readonly destinations?: boolean;
}

/** The Cloud Storage folder the services stage files in for destinations outside it (BQBR_STAGING_URI). */
export const STAGING_BUCKET = 'e2e-staging';

export interface Environment {
  readonly stack: RunningStack;
  readonly env: Record<string, string>;
  readonly projectId: string;
  readonly bigquery: (projectId: string) => BigQuery;
  readonly storage: Storage;
  readonly pubsub: PubSub;
  readonly firestore: Firestore;
  readonly dispatcherUrl: string;
  dispatcher: ManagedProcess;
  /** Starts a new dispatcher on the same port (after the test stopped or killed the old one). */
  startDispatcher(): Promise<ManagedProcess>;
  workers: ManagedProcess[];
  /** Starts another worker; `port` reuses a port (a push endpoint) of a worker that was stopped or killed. */
  startWorker(port?: number): Promise<ManagedProcess>;
  /** The HTTP port of each worker started, in start order. */
  readonly workerPorts: number[];
  /** The BigQuery emulator's test controls. */
  controls(body: object): Promise<void>;
  fault(body: object): Promise<void>;
  /** Extract jobs the BigQuery emulator ran, per table id. */
  extractJobsByTable(): Promise<Map<string, number>>;
  stop(): Promise<void>;
}

async function waitHealthy(url: string, service: ManagedProcess): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (!service.isRunning()) throw new Error(`${service.name} exited:\n${service.recentOutput()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${service.name} never answered ${url}:\n${service.recentOutput()}`);
}

export async function startEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const projectId = unique('e2e').replaceAll('_', '-');
  const destinations = options.destinations === true;
  const stack = await startStack({
    ports: {
      pubsub: 0,
      firestore: 0,
      storage: 0,
      bigquery: 0,
      ...(destinations ? { s3: 0, azure: 0 } : {}),
    },
    s3: destinations,
    azure: destinations,
    projectId,
  });
  const env: Record<string, string> = { ...stack.env, BQBR_STAGING_URI: `gs://${STAGING_BUCKET}/staging` };
  const workerMode = options.workerMode ?? 'pull';
  const dispatcherMode = options.dispatcherMode ?? 'pull';
  const started: ManagedProcess[] = [];
  try {
    const pubsub = new PubSub({ projectId, apiEndpoint: env['PUBSUB_EMULATOR_HOST'] });
    const workerPorts: number[] = [];
    for (let i = 0; i < (options.workers ?? 1); i++) workerPorts.push(await freePort('127.0.0.1'));
    const dispatcherPort = await freePort('127.0.0.1');
    const dispatcherUrl = `http://127.0.0.1:${dispatcherPort}`;
    await ensureTopology(pubsub, DEFAULT_TOPOLOGY, {
      ackDeadlineSeconds: options.ackDeadlineSeconds ?? 60,
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 5,
      push: {
        ...(workerMode === 'push' ? { tasks: `http://127.0.0.1:${workerPorts[0]}/pubsub/tasks` } : {}),
        ...(dispatcherMode === 'push'
          ? {
              requests: `${dispatcherUrl}/pubsub/requests`,
              events: `${dispatcherUrl}/pubsub/events`,
              deadLetter: `${dispatcherUrl}/pubsub/dead-letter`,
            }
          : {}),
      },
    });
    const serviceEnv = {
      ...process.env,
      ...env,
      BQBR_ENSURE_TOPOLOGY: 'false',
      LOG_LEVEL: process.env['E2E_LOG_LEVEL'] ?? 'info',
    };
    const startDispatcher = async (): Promise<ManagedProcess> => {
      const dispatcher = startProcess({
        name: 'dispatcher',
        command: process.execPath,
        args: [serviceMain('dispatcher')],
        env: {
          ...serviceEnv,
          PORT: String(dispatcherPort),
          BQBR_INTAKE: dispatcherMode,
          ...options.dispatcherEnv,
        },
      });
      started.push(dispatcher);
      await waitHealthy(`http://127.0.0.1:${dispatcherPort}/healthz`, dispatcher);
      return dispatcher;
    };
    const dispatcher = await startDispatcher();

    const workers: ManagedProcess[] = [];
    let nextWorker = 0;
    const usedPorts: number[] = [];
    const startWorker = async (reuse?: number): Promise<ManagedProcess> => {
      const port = reuse ?? workerPorts[nextWorker] ?? (await freePort('127.0.0.1'));
      nextWorker++;
      usedPorts.push(port);
      const worker = startProcess({
        name: `worker-${nextWorker}`,
        command: process.execPath,
        args: [serviceMain('worker')],
        env: {
          ...serviceEnv,
          PORT: String(port),
          BQBR_INTAKE: workerMode,
          ...(options.jobWaitSeconds !== undefined
            ? { BQBR_JOB_WAIT_SECONDS: String(options.jobWaitSeconds) }
            : {}),
          BQBR_JOB_POLL_MS: '200',
          ...options.workerEnv,
        },
      });
      started.push(worker);
      workers.push(worker);
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, worker);
      return worker;
    };
    for (let i = 0; i < (options.workers ?? 1); i++) await startWorker();

    const bigqueryUrl = env['BIGQUERY_EMULATOR_HOST']!;
    const call = async (path: string, init: RequestInit): Promise<Response> => {
      const res = await fetch(`${bigqueryUrl}${path}`, init);
      if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
      return res;
    };
    const firestore = new Firestore({ projectId, host: env['FIRESTORE_EMULATOR_HOST'], ssl: false });
    const storage = new Storage({ apiEndpoint: env['STORAGE_EMULATOR_HOST'], projectId });
    const [stagingExists] = await storage.bucket(STAGING_BUCKET).exists();
    if (!stagingExists) await storage.createBucket(STAGING_BUCKET);
    const environment: Environment = {
      stack,
      env,
      projectId,
      bigquery: (project) =>
        new BigQuery({ apiEndpoint: bigqueryUrl, projectId: project, authClient: new PassThroughClient() }),
      storage,
      pubsub,
      firestore,
      dispatcherUrl,
      dispatcher,
      startDispatcher: async () => (environment.dispatcher = await startDispatcher()),
      workers,
      startWorker,
      workerPorts: usedPorts,
      controls: async (body) => {
        await call('/emulator/v1/controls', { method: 'PATCH', body: JSON.stringify(body) });
      },
      fault: async (body) => {
        await call('/emulator/v1/faults', { method: 'POST', body: JSON.stringify(body) });
      },
      extractJobsByTable: async () => {
        const res = await call('/emulator/v1/jobs', { method: 'GET' });
        const { jobs } = (await res.json()) as { jobs: { type: string; tableIds: string[] }[] };
        const counts = new Map<string, number>();
        for (const job of jobs.filter((j) => j.type === 'EXTRACT'))
          for (const id of job.tableIds) counts.set(id, (counts.get(id) ?? 0) + 1);
        return counts;
      },
      stop: async () => {
        await Promise.all(started.map((p) => p.stop(5_000)));
        await firestore.terminate();
        await pubsub.close();
        await stack.stop();
      },
    };
    return environment;
  } catch (err) {
    await Promise.all(started.map((p) => p.stop(2_000)));
    await stack.stop();
    throw err;
  }
}

/** Polls `operations/{id}` until its status is one of `statuses`. */
export async function waitForOperation(
  environment: Environment,
  operationId: string,
  statuses: readonly string[] = ['SUCCEEDED', 'PARTIALLY_FAILED', 'FAILED'],
  timeoutMs = 90_000,
): Promise<OperationDoc> {
  const deadline = Date.now() + timeoutMs;
  let last: OperationDoc | undefined;
  while (Date.now() < deadline) {
    const snapshot = await environment.firestore.collection('operations').doc(operationId).get();
    last = snapshot.data() as OperationDoc | undefined;
    if (last && statuses.includes(last.status)) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  const tasks = await environment.firestore
    .collection('operations')
    .doc(operationId)
    .collection('tasks')
    .get();
  throw new Error(
    `operation ${operationId} still ${last?.status ?? 'absent'} after ${timeoutMs} ms; tasks: ${tasks.docs
      .map((d) => `${d.id}=${String(d.get('status'))}`)
      .join(', ')}\ndispatcher:\n${environment.dispatcher.recentOutput()}\nworkers:\n${environment.workers
      .map((w) => w.recentOutput())
      .join('\n')}`,
  );
}

export async function tasksOf(environment: Environment, operationId: string): Promise<TaskDoc[]> {
  const snapshot = await environment.firestore
    .collection('operations')
    .doc(operationId)
    .collection('tasks')
    .get();
  return snapshot.docs.map((d) => d.data() as TaskDoc);
}

/** Publishes a request to bqbr-requests as `gcloud pubsub topics publish` would. */
export async function publishRequest(
  environment: Environment,
  body: object,
  attributes: Record<string, string> = { kind: 'backup' },
): Promise<string> {
  return environment.pubsub.topic(DEFAULT_TOPOLOGY.topics.requests).publishMessage({
    data: Buffer.from(JSON.stringify(body)),
    attributes,
  });
}

/** Object names (and sizes) under a gs:// prefix. */
export async function listObjects(
  environment: Environment,
  bucket: string,
  prefix: string,
): Promise<Map<string, number>> {
  const [files] = await environment.storage.bucket(bucket).getFiles({ prefix });
  return new Map(files.map((f) => [f.name, Number(f.metadata.size)]));
}

export async function readJsonObject(
  environment: Environment,
  bucket: string,
  name: string,
): Promise<unknown> {
  const [bytes] = await environment.storage.bucket(bucket).file(name).download();
  return JSON.parse(bytes.toString('utf8')) as unknown;
}

/** Publishes a request of `kind` under a new operation id and waits for its end: the operation and its tasks. */
export async function runRequest(
  environment: Environment,
  kind: 'backup' | 'restore' | 'prune' | 'verify',
  body: object,
  options: { readonly idPrefix?: string; readonly timeoutMs?: number } = {},
): Promise<{ operation: OperationDoc; tasks: TaskDoc[] }> {
  const operationId = unique(`${kind[0]}_${options.idPrefix ?? ''}`);
  await publishRequest(environment, { operationId, ...body }, { kind });
  const operation = await waitForOperation(environment, operationId, undefined, options.timeoutMs ?? 120_000);
  return { operation, tasks: await tasksOf(environment, operationId) };
}

/** An operation's tasks by table id. */
export const tasksByTable = (tasks: readonly TaskDoc[]): Map<string, TaskDoc> =>
  new Map(tasks.map((task) => [task.table.tableId, task]));
