// The Pub/Sub topics and subscriptions (docs/contracts.md, "Topics"), their configurable names, and
// their idempotent creation (local stacks and first deployments; Terraform owns production).
import type { CreateSubscriptionOptions, PubSub } from '@google-cloud/pubsub';
import * as t from 'io-ts';
import { show } from '../decode.js';
import { decodeEnv, type Env, withDefault } from '../env.js';

export interface Topology {
  readonly topics: {
    readonly requests: string;
    readonly tasks: string;
    readonly events: string;
    readonly notifications: string;
    readonly deadLetter: string;
  };
  /** No subscription on `notifications`: its readers (alerting, chaining) make their own. */
  readonly subscriptions: {
    readonly requests: string;
    readonly tasks: string;
    readonly events: string;
    readonly deadLetter: string;
  };
}

export const DEFAULT_TOPOLOGY: Topology = {
  topics: {
    requests: 'bqbr-requests',
    tasks: 'bqbr-tasks',
    events: 'bqbr-events',
    notifications: 'bqbr-notifications',
    deadLetter: 'bqbr-dead-letter',
  },
  subscriptions: {
    requests: 'bqbr-requests-dispatcher',
    tasks: 'bqbr-tasks-worker',
    events: 'bqbr-events-dispatcher',
    deadLetter: 'bqbr-dead-letter-dispatcher',
  },
};

// Pub/Sub's rule for topic and subscription ids.
const RESOURCE_NAME = /^[A-Za-z][A-Za-z0-9\-_.~+%]{2,254}$/;
const ResourceName = new t.Type<string, string, unknown>(
  'ResourceName',
  (u): u is string => typeof u === 'string' && RESOURCE_NAME.test(u),
  (u, c) =>
    typeof u === 'string' && RESOURCE_NAME.test(u) && !u.startsWith('goog')
      ? t.success(u)
      : t.failure(
          u,
          c,
          `expected a Pub/Sub name (a letter, then 2-254 of A-Z a-z 0-9 - _ . ~ + %), got ${show(u)}`,
        ),
  t.identity,
);
const name = (fallback: string) => withDefault(ResourceName, fallback);

const { topics: T, subscriptions: S } = DEFAULT_TOPOLOGY;
/** The variables that name the topology (infra/terraform sets each of them). */
export const TopologyEnv = t.type({
  BQBR_TOPIC_REQUESTS: name(T.requests),
  BQBR_TOPIC_TASKS: name(T.tasks),
  BQBR_TOPIC_EVENTS: name(T.events),
  BQBR_TOPIC_NOTIFICATIONS: name(T.notifications),
  BQBR_TOPIC_DEAD_LETTER: name(T.deadLetter),
  BQBR_SUBSCRIPTION_REQUESTS: name(S.requests),
  BQBR_SUBSCRIPTION_TASKS: name(S.tasks),
  BQBR_SUBSCRIPTION_EVENTS: name(S.events),
  BQBR_SUBSCRIPTION_DEAD_LETTER: name(S.deadLetter),
});

/** The topology named by `BQBR_TOPIC_*` / `BQBR_SUBSCRIPTION_*`, defaults for the rest; throws a ValidationError. */
export function topologyFromEnv(env: Env = process.env): Topology {
  const e = decodeEnv(TopologyEnv, env);
  return {
    topics: {
      requests: e.BQBR_TOPIC_REQUESTS,
      tasks: e.BQBR_TOPIC_TASKS,
      events: e.BQBR_TOPIC_EVENTS,
      notifications: e.BQBR_TOPIC_NOTIFICATIONS,
      deadLetter: e.BQBR_TOPIC_DEAD_LETTER,
    },
    subscriptions: {
      requests: e.BQBR_SUBSCRIPTION_REQUESTS,
      tasks: e.BQBR_SUBSCRIPTION_TASKS,
      events: e.BQBR_SUBSCRIPTION_EVENTS,
      deadLetter: e.BQBR_SUBSCRIPTION_DEAD_LETTER,
    },
  };
}

type SubscriptionRole = keyof Topology['subscriptions'];

export interface EnsureTopologyOptions {
  /** Push endpoint URLs: those subscriptions push there instead of waiting to be pulled. */
  readonly push?: { readonly [R in SubscriptionRole]?: string };
  /** Service account whose OIDC token authenticates pushes (Cloud Run); none locally. */
  readonly pushServiceAccountEmail?: string;
  /** Deliveries before a message goes to the dead-letter topic (5..100). */
  readonly maxDeliveryAttempts?: number;
  readonly minimumBackoffSeconds?: number;
  readonly maximumBackoffSeconds?: number;
  readonly ackDeadlineSeconds?: number;
}

// Tunables of ensureTopology, one place.
export const TOPOLOGY_DEFAULTS = {
  /** Pub/Sub allows 5..100; 10 rides out a short outage of BigQuery without giving up on a table. */
  maxDeliveryAttempts: 10,
  /** The retry policy's exponential backoff between redeliveries of a nacked message. */
  minimumBackoffSeconds: 10,
  maximumBackoffSeconds: 600,
  /** A pull lease is extended by the client; for push it is how long an endpoint has to answer. */
  ackDeadlineSeconds: 60,
} as const;

export interface EnsureTopologyResult {
  /** Topics and subscriptions that did not exist and were created by this call. */
  readonly created: readonly string[];
}

const ALREADY_EXISTS = 6;
const isAlreadyExists = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && (err as { code?: unknown }).code === ALREADY_EXISTS;

/**
 * Creates the missing topics and subscriptions; existing ones are left as they are, except that a
 * subscription's push endpoint is set to what `options.push` asks (pull when absent). Safe to run
 * from several processes at once.
 */
export async function ensureTopology(
  pubsub: PubSub,
  topology: Topology = DEFAULT_TOPOLOGY,
  options: EnsureTopologyOptions = {},
): Promise<EnsureTopologyResult> {
  const settings = { ...TOPOLOGY_DEFAULTS, ...definedOnly(options) };
  const created: string[] = [];

  await Promise.all(
    Object.values(topology.topics).map(async (topic) => {
      try {
        await pubsub.createTopic(topic);
        created.push(topic);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
      }
    }),
  );

  const deadLetterTopic = pubsub.topic(topology.topics.deadLetter).name;
  const subscriptions: readonly { role: SubscriptionRole; topic: string; deadLetters: boolean }[] = [
    { role: 'requests', topic: topology.topics.requests, deadLetters: true },
    { role: 'tasks', topic: topology.topics.tasks, deadLetters: true },
    { role: 'events', topic: topology.topics.events, deadLetters: true },
    // Dead letters are the last stop: retried with backoff, never forwarded again.
    { role: 'deadLetter', topic: topology.topics.deadLetter, deadLetters: false },
  ];

  await Promise.all(
    subscriptions.map(async ({ role, topic, deadLetters }) => {
      const subscriptionName = topology.subscriptions[role];
      const pushEndpoint = options.push?.[role];
      const pushConfig = pushEndpoint
        ? {
            pushEndpoint,
            ...(settings.pushServiceAccountEmail
              ? { oidcToken: { serviceAccountEmail: settings.pushServiceAccountEmail } }
              : {}),
          }
        : {};
      const metadata: CreateSubscriptionOptions = {
        ackDeadlineSeconds: settings.ackDeadlineSeconds,
        retryPolicy: {
          minimumBackoff: { seconds: settings.minimumBackoffSeconds },
          maximumBackoff: { seconds: settings.maximumBackoffSeconds },
        },
        ...(deadLetters
          ? { deadLetterPolicy: { deadLetterTopic, maxDeliveryAttempts: settings.maxDeliveryAttempts } }
          : {}),
        pushConfig,
      };
      try {
        await pubsub.topic(topic).createSubscription(subscriptionName, metadata);
        created.push(subscriptionName);
      } catch (err) {
        if (!isAlreadyExists(err)) throw err;
        const subscription = pubsub.subscription(subscriptionName);
        const [existing] = await subscription.getMetadata();
        if ((existing.pushConfig?.pushEndpoint ?? '') !== (pushEndpoint ?? '')) {
          await subscription.modifyPushConfig(pushConfig);
        }
      }
    }),
  );
  return { created };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
