// The dispatcher assembled: clients, state store, handlers, HTTP server and pull subscribers.
import {
  FirestoreStateStore,
  closeClients,
  createAuthenticator,
  createClients,
  createStore,
  ensureTopology,
  keptStores,
  startPullSubscriber,
  type PullSubscriber,
  type Env,
  type Logger,
} from '@bqbr/shared';
import type { PubSub } from '@google-cloud/pubsub';
import type { Storage } from '@google-cloud/storage';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { DispatcherConfig } from './config.js';
import { createDeadLetterHandler } from './dead-letter.js';
import { deliver } from './deliver.js';
import { createOperationEngine } from './engine/operation-engine.js';
import type { MessageHandler, Publisher } from './handler.js';
import { createHttpServer } from './http-server.js';
import { createRequestHandler } from './intake.js';
import { createBackupKind } from './kinds/backup/backup-kind.js';
import type { JsonWriter } from './kinds/backup/backup-record.js';
import { bigQueryCatalog } from './kinds/backup/catalog.js';
import { bigQueryTargetDatasets } from './kinds/restore/bigquery-target-datasets.js';
import { createRestoreKind } from './kinds/restore/restore-kind.js';
import { storeBackupSource } from './kinds/restore/store-backup-source.js';
import { createPruneKind } from './kinds/prune/prune-kind.js';
import { createVerifyKind } from './kinds/verify/verify-kind.js';
import { createOperationsApi } from './operations-api.js';

function publisher(pubsub: PubSub, topic: string, maxMessages: number): Publisher {
  // Batches of up to maxMessages go out together; each publish resolves once its batch is stored.
  const handle = pubsub.topic(topic, { batching: { maxMessages, maxMilliseconds: 10 } });
  return { publish: (data, attributes) => handle.publishMessage({ data, attributes: { ...attributes } }) };
}

function storeJsonWriter(storage: Storage, env: Env): JsonWriter {
  return async (destination, path, value) => {
    const store = createStore(destination, { storage, env });
    await store.put(path, Readable.from([Buffer.from(`${JSON.stringify(value, null, 2)}\n`)]), {
      contentType: 'application/json',
    });
  };
}

export interface RunningDispatcher {
  /** The port the HTTP server listens on (useful with PORT=0). */
  readonly port: number;
  /** Stops pulling, drains handlers in flight, closes the server and the clients. Idempotent. */
  stop(): Promise<void>;
  /** Resolves when the dispatcher stopped, by stop() or because a subscriber failed for good (then with an error). */
  readonly stopped: Promise<Error | undefined>;
}

/** Builds every dependency from the configuration and starts intake; `env` points the clients at a stack. */
export async function startDispatcher(
  config: DispatcherConfig,
  env: Env,
  logger: Logger,
): Promise<RunningDispatcher> {
  const clients = createClients(env, config.projectId);
  const { topology } = config;
  if (config.ensureTopology) {
    const base = config.pushBaseUrl;
    await ensureTopology(clients.pubsub, topology, {
      ...(config.intake === 'push' && base
        ? {
            push: {
              requests: `${base}/pubsub/requests`,
              events: `${base}/pubsub/events`,
              deadLetter: `${base}/pubsub/dead-letter`,
            },
          }
        : {}),
    });
  }
  const store = new FirestoreStateStore(clients.firestore);
  const staging = config.stagingUri === undefined ? {} : { stagingUri: config.stagingUri };
  // The kinds of operation, each behind the engine's one interface: wired here and nowhere else.
  const kinds = {
    backup: createBackupKind({
      catalog: bigQueryCatalog(clients.bigquery),
      store,
      writeJson: storeJsonWriter(clients.storage, env),
      backups: storeBackupSource((where) => createStore(where, { storage: clients.storage, env })),
      maxSnapshotAgeMs: config.maxSnapshotAgeMs,
      endpoints: config.endpoints,
      ...staging,
    }),
    restore: createRestoreKind({
      store,
      backups: storeBackupSource((where) => createStore(where, { storage: clients.storage, env })),
      datasets: bigQueryTargetDatasets(clients.bigquery),
      endpoints: config.endpoints,
      ...staging,
    }),
    prune: createPruneKind({
      store,
      stores: keptStores((where) => createStore(where, { storage: clients.storage, env }), 16),
      endpoints: config.endpoints,
    }),
    verify: createVerifyKind({
      store,
      backups: storeBackupSource((where) => createStore(where, { storage: clients.storage, env })),
      datasets: bigQueryTargetDatasets(clients.bigquery),
      endpoints: config.endpoints,
      ...staging,
    }),
  };
  const engine = createOperationEngine({
    store,
    tasks: publisher(clients.pubsub, topology.topics.tasks, config.fanOutBatchSize),
    notifications: publisher(clients.pubsub, topology.topics.notifications, 100),
    kinds,
    batchSize: config.fanOutBatchSize,
    debounceMs: config.completionDebounceMs,
    logger,
  });
  const { completion } = engine;
  const handleRequest = createRequestHandler({ engine });
  const handleDeadLetter = createDeadLetterHandler({ store, engine });
  const api = createOperationsApi({
    store,
    engine,
    requests: publisher(clients.pubsub, topology.topics.requests, 1),
    logger: logger.child({ component: 'api' }),
  });

  let shuttingDown = false;
  const { push: pushAuth, api: apiAuth } = config.auth ?? {};
  const server = createHttpServer({
    api,
    logger,
    isHealthy: () => !shuttingDown,
    auth: {
      ...(pushAuth ? { push: createAuthenticator(pushAuth) } : {}),
      ...(apiAuth ? { api: createAuthenticator(apiAuth) } : {}),
    },
    push: {
      '/pubsub/requests': handleRequest,
      '/eventarc/requests': handleRequest,
      '/pubsub/events': completion.handleEvent,
      '/eventarc/events': completion.handleEvent,
      '/pubsub/dead-letter': handleDeadLetter,
      '/eventarc/dead-letter': handleDeadLetter,
    },
  });
  server.listen(config.port);
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;

  const subscribers: PullSubscriber[] = [];
  let stopping: Promise<void> | undefined;
  let markStopped: (err: Error | undefined) => void = () => undefined;
  const stopped = new Promise<Error | undefined>((resolve) => (markStopped = resolve));
  const stop = (failure?: Error): Promise<void> => {
    stopping ??= (async () => {
      shuttingDown = true;
      logger.info('stopping', failure ? { reason: failure.message } : {});
      // Stop taking work, let handlers in flight finish, then close the connections.
      await Promise.allSettled(subscribers.map((s) => s.close()));
      server.closeIdleConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await closeClients(clients);
      logger.info('stopped');
      markStopped(failure);
    })();
    return stopping;
  };

  if (config.intake === 'pull') {
    const pull = (subscription: string, handler: MessageHandler, maxMessages: number): void => {
      subscribers.push(
        startPullSubscriber({
          pubsub: clients.pubsub,
          subscription,
          handle: (message) => deliver(handler, message, logger),
          maxMessages,
          // The lease is extended while a handler runs: planning a large project can take minutes.
          maxExtensionMs: 60 * 60_000,
          logger,
          shutdownGraceMs: config.shutdownGraceMs,
          onError: (err) => void stop(err),
        }),
      );
    };
    pull(topology.subscriptions.requests, handleRequest, config.requestConcurrency);
    pull(topology.subscriptions.events, completion.handleEvent, config.eventConcurrency);
    pull(topology.subscriptions.deadLetter, handleDeadLetter, config.deadLetterConcurrency);
  }
  logger.info('dispatcher started', {
    port,
    intake: config.intake,
    projectId: config.projectId,
    pushAuth: pushAuth ? 'on' : 'off',
    apiAuth: apiAuth ? 'on' : 'off',
  });
  return { port, stop: () => stop(), stopped };
}
