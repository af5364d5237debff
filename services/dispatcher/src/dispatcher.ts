// The dispatcher assembled: clients, state store, handlers, HTTP server and pull subscribers.
import {
  FirestoreStateStore,
  closeClients,
  createClients,
  createStore,
  ensureTopology,
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
import { createCompletion, type JsonWriter } from './completion.js';
import type { DispatcherConfig } from './config.js';
import { createDeadLetterHandler } from './dead-letter.js';
import type { MessageHandler, Publisher } from './handler.js';
import { createHttpServer } from './http-server.js';
import { createRequestHandler } from './intake.js';
import { bigQueryTargetDatasets, storeBackupSource } from './restore-sources.js';
import { createOperationsApi } from './operations-api.js';
import { bigQueryCatalog } from './planner.js';
import { deliver } from './deliver.js';

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
  const catalog = bigQueryCatalog(clients.bigquery);
  const tasks = publisher(clients.pubsub, topology.topics.tasks, config.fanOutBatchSize);
  const completion = createCompletion({
    store,
    tasks,
    notifications: publisher(clients.pubsub, topology.topics.notifications, 100),
    writeJson: storeJsonWriter(clients.storage, env),
    logger,
    debounceMs: config.completionDebounceMs,
  });
  const handleRequest = createRequestHandler({
    store,
    catalog,
    tasks,
    completion,
    backups: storeBackupSource((where) => createStore(where, { storage: clients.storage, env })),
    datasets: bigQueryTargetDatasets(clients.bigquery),
    batchSize: config.fanOutBatchSize,
    ...(config.stagingUri === undefined ? {} : { stagingUri: config.stagingUri }),
    maxSnapshotAgeMs: config.maxSnapshotAgeMs,
  });
  const handleDeadLetter = createDeadLetterHandler({ store, completion });
  const api = createOperationsApi({
    store,
    catalog,
    requests: publisher(clients.pubsub, topology.topics.requests, 1),
    maxSnapshotAgeMs: config.maxSnapshotAgeMs,
  });

  let shuttingDown = false;
  const server = createHttpServer({
    api,
    logger,
    isHealthy: () => !shuttingDown,
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
  logger.info('dispatcher started', { port, intake: config.intake, projectId: config.projectId });
  return { port, stop: () => stop(), stopped };
}
