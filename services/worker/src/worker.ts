// Wiring: clients, the state store and the backup step's dependencies, the pull subscriber or the push
// endpoint, and graceful shutdown (stop taking tasks, hand over waits, drain, close).
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  FirestoreStateStore,
  closeClients,
  createAuthenticator,
  createClients,
  createStore,
  keptStores,
  ensureTopology,
  startPullSubscriber,
  type Clients,
  type Env,
  type Logger,
  type ReceivedMessage,
} from '@bqbr/shared';
import type { BackupStepDeps } from './backup-step.js';
import type { WorkerConfig } from './config.js';
import { createWorkerHttpServer } from './http-server.js';
import { createBigQueryJobRunner } from './job-runner.js';
import type { RestoreStepDeps } from './restore-deps.js';
import { createBigQueryTableReader } from './table-reader.js';
import { createBigQueryTargetTables } from './target-tables.js';
import { handleTaskMessage, type Disposition } from './task-handler.js';
import { createTaskPublisher } from './task-publisher.js';

/** Beyond the job wait, the time a delivery may need to list files and write the manifest. */
const LEASE_MARGIN_SECONDS = 120;

/** Everything the table steps need, backup and restore. */
export type WorkerDeps = BackupStepDeps & RestoreStepDeps;

export function createBackupStepDeps(
  clients: Clients,
  config: WorkerConfig,
  env: Env = process.env,
): WorkerDeps {
  return {
    // Every backup is read and written through these, Cloud Storage included. Credentials for S3 and
    // Azure come from the environment (or the platform), never from a request. One store (and client)
    // per destination in use, not one per task.
    stores: keptStores((where) => createStore(where, { storage: clients.storage, env }), 32),
    targets: createBigQueryTargetTables(clients.bigquery),
    state: new FirestoreStateStore(clients.firestore),
    tables: createBigQueryTableReader(clients.bigquery),
    jobs: createBigQueryJobRunner(clients.bigquery),
    publisher: createTaskPublisher(clients.pubsub, config.topology),
    settings: {
      jobWaitMs: config.jobWaitSeconds * 1000,
      jobPollMs: config.jobPollMs,
      maxJobAttempts: config.maxJobAttempts,
      transferConcurrency: config.transferConcurrency,
    },
  };
}

export interface RunningWorker {
  /** The HTTP port actually bound (PORT=0 picks a free one). */
  readonly port: number;
  /** Graceful stop; safe to call more than once. */
  stop(): Promise<void>;
}

export async function startWorker(config: WorkerConfig, env: Env, logger: Logger): Promise<RunningWorker> {
  const clients = createClients(env, config.projectId);
  if (config.ensureTopology && config.intake === 'pull') {
    // Only when missing: ensureTopology also resets push configs, which are the deployment's to set.
    const [exists] = await clients.pubsub.subscription(config.topology.subscriptions.tasks).exists();
    if (!exists) await ensureTopology(clients.pubsub, config.topology);
  }
  const deps = createBackupStepDeps(clients, config, env);

  const shutdown = new AbortController();
  const inFlight = new Set<Promise<Disposition>>();
  const handle = (message: ReceivedMessage): Promise<Disposition> => {
    const handled = handleTaskMessage(message, { logger, signal: shutdown.signal, deps });
    inFlight.add(handled);
    handled.finally(() => inFlight.delete(handled)).catch(() => undefined);
    return handled;
  };

  const server = createWorkerHttpServer({
    logger,
    ...(config.intake === 'push' ? { handleTask: handle } : {}),
    isAccepting: () => !shutdown.signal.aborted,
    ...(config.pushAuth ? { auth: createAuthenticator(config.pushAuth) } : {}),
  });
  server.listen(config.port);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const subscriber =
    config.intake === 'pull'
      ? startPullSubscriber({
          pubsub: clients.pubsub,
          subscription: config.topology.subscriptions.tasks,
          handle,
          maxMessages: config.concurrency,
          // The client keeps extending the lease while a task waits for its job.
          maxExtensionMs: (config.jobWaitSeconds + LEASE_MARGIN_SECONDS) * 1000,
          shutdownGraceMs: Math.max(config.shutdownGraceMs, 1_000),
          logger,
        })
      : undefined;
  logger.info('worker started', {
    intake: config.intake,
    port,
    subscription: config.intake === 'pull' ? config.topology.subscriptions.tasks : undefined,
    concurrency: config.concurrency,
    jobWaitSeconds: config.jobWaitSeconds,
    pushAuth: config.pushAuth ? 'on' : 'off',
  });

  let stopping: Promise<void> | undefined;
  const stop = async (): Promise<void> => {
    // Tasks waiting for a job hand over to a continuation message at once.
    shutdown.abort();
    // Stops pulling, waits for in-flight tasks (up to the grace time), nacks what is left, flushes acks.
    await subscriber?.close();
    await Promise.race([Promise.allSettled([...inFlight]), sleep(config.shutdownGraceMs)]);
    server.close();
    server.closeAllConnections();
    await closeClients(clients);
    logger.info('worker stopped', { unfinished: inFlight.size });
  };
  return {
    port,
    stop: () => (stopping ??= stop()),
  };
}
