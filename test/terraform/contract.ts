// What infra/terraform must agree with, computed from the code: the topics, subscriptions and their
// settings, the Firestore indexes (written to modules/bqbr/contract.json, which the module reads), and the
// variables each service reads. Run as a script (`npm run terraform:contract`) it rewrites contract.json.
import {
  AZURE_ACCOUNT_KEY,
  AZURE_CONNECTION_STRING,
  DEFAULT_TOPOLOGY,
  ENDPOINT_VARIABLES,
  FIRESTORE_INDEXES,
  TOPOLOGY_DEFAULTS,
  TopologyEnv,
  type CompositeIndex,
  type Topology,
} from '@bqbr/shared';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
// The services export nothing by package name; their env codecs are read from source.
// eslint-disable-next-line no-restricted-imports
import { DispatcherEnv } from '../../services/dispatcher/src/config.js';
// eslint-disable-next-line no-restricted-imports
import { WorkerEnv } from '../../services/worker/src/config.js';

export const CONTRACT_PATH = fileURLToPath(
  new URL('../../infra/terraform/modules/bqbr/contract.json', import.meta.url),
);

type Role = keyof Topology['subscriptions'];
type Service = 'dispatcher' | 'worker';

/** Where each subscription pushes (the routes of services/dispatcher/src/dispatcher.ts and services/worker/src/http-server.ts). */
export const PUSH_ROUTES: Readonly<Record<Role, { readonly service: Service; readonly path: string }>> = {
  requests: { service: 'dispatcher', path: '/pubsub/requests' },
  tasks: { service: 'worker', path: '/pubsub/tasks' },
  events: { service: 'dispatcher', path: '/pubsub/events' },
  deadLetter: { service: 'dispatcher', path: '/pubsub/dead-letter' },
};

/** Credentials the stores read from the environment (Secret Manager on Cloud Run). */
export const CREDENTIAL_ENV = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_REGION',
  AZURE_CONNECTION_STRING,
  AZURE_ACCOUNT_KEY,
] as const;

const snake = (role: string): string => role.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

function topologyEnvName(kind: 'TOPIC' | 'SUBSCRIPTION', role: string): string {
  const name = `BQBR_${kind}_${snake(role)}`;
  if (!(name in TopologyEnv.props)) throw new Error(`${name} is not a variable of TopologyEnv`);
  return name;
}

/** contract.json's content: snake_case keys, as the HCL reads them. */
export function buildContract(
  topology: Topology = DEFAULT_TOPOLOGY,
  indexes: readonly CompositeIndex[] = FIRESTORE_INDEXES,
) {
  const roles = Object.keys(topology.subscriptions) as Role[];
  const topicOf: Record<Role, keyof Topology['topics']> = {
    requests: 'requests',
    tasks: 'tasks',
    events: 'events',
    deadLetter: 'deadLetter',
  };
  return {
    $comment:
      'Generated from the code by `npm run terraform:contract`: do not edit (infra/terraform/README.md).',
    topics: { ...topology.topics },
    subscriptions: Object.fromEntries(
      roles.map((role) => [
        role,
        {
          name: topology.subscriptions[role],
          topic: topicOf[role],
          service: PUSH_ROUTES[role].service,
          push_path: PUSH_ROUTES[role].path,
          // Dead letters are the last stop (shared/src/pubsub/topology.ts).
          dead_letter: role !== 'deadLetter',
        },
      ]),
    ),
    subscription_settings: {
      ack_deadline_seconds: TOPOLOGY_DEFAULTS.ackDeadlineSeconds as number,
      minimum_backoff: `${TOPOLOGY_DEFAULTS.minimumBackoffSeconds}s`,
      maximum_backoff: `${TOPOLOGY_DEFAULTS.maximumBackoffSeconds}s`,
      max_delivery_attempts: TOPOLOGY_DEFAULTS.maxDeliveryAttempts as number,
    },
    topic_env: Object.fromEntries(Object.keys(topology.topics).map((r) => [topologyEnvName('TOPIC', r), r])),
    subscription_env: Object.fromEntries(roles.map((r) => [topologyEnvName('SUBSCRIPTION', r), r])),
    credential_env: [...CREDENTIAL_ENV],
    firestore_indexes: Object.fromEntries(
      indexes.map((index) => [
        [
          index.collection,
          ...index.fields.map((f) => `${f.fieldPath}-${f.order === 'ASCENDING' ? 'asc' : 'desc'}`),
        ]
          .join('-')
          .toLowerCase(),
        {
          collection: index.collection,
          fields: index.fields.map((f) => ({ field_path: f.fieldPath, order: f.order })),
        },
      ]),
    ),
  };
}

export type Contract = ReturnType<typeof buildContract>;

export const contractText = (contract: Contract = buildContract()): string =>
  `${JSON.stringify(contract, null, 2)}\n`;

/** The variables each service reads: its codec (with the push/API auth), the topology, the stores' allowlists and credentials. */
export function serviceEnv(): Record<
  Service,
  { readonly reads: ReadonlySet<string>; readonly required: readonly string[] }
> {
  const topologyNames = Object.keys(TopologyEnv.props);
  const common = [...topologyNames, ...ENDPOINT_VARIABLES, ...CREDENTIAL_ENV];
  // On Cloud Run (Terraform owns the topics, Pub/Sub pushes with OIDC tokens): docs/architecture.md.
  const push = [
    'GOOGLE_CLOUD_PROJECT',
    'BQBR_INTAKE',
    'BQBR_ENSURE_TOPOLOGY',
    'BQBR_PUSH_AUDIENCE',
    'BQBR_PUSH_SERVICE_ACCOUNTS',
    ...topologyNames,
  ];
  return {
    dispatcher: {
      reads: new Set([...Object.keys(DispatcherEnv.props), ...common]),
      required: [...push, 'BQBR_STAGING_URI', 'BQBR_API_AUDIENCE', 'BQBR_API_PRINCIPALS'],
    },
    worker: {
      reads: new Set([...Object.keys(WorkerEnv.props), ...common]),
      required: push,
    },
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  await writeFile(CONTRACT_PATH, contractText());
  console.log(`wrote ${CONTRACT_PATH}`);
}
