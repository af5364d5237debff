// The dispatcher's configuration, decoded from the environment once at start-up.
import {
  AuthEnv,
  BooleanFromString,
  authFromEnv,
  endpointAllowlist,
  type EndpointAllowlist,
  GcsUri,
  decodeEnv,
  integerFromString,
  stringWith,
  topologyFromEnv,
  withDefault,
  type AuthConfig,
  type Env,
  type Topology,
} from '@bqbr/shared';
import * as t from 'io-ts';

/** Every tunable with its default, in one place. */
export const DEFAULTS = {
  port: 8080,
  /** `pull`: streaming pull subscribers plus the HTTP endpoints; `push`: HTTP endpoints only (Cloud Run). */
  intake: 'pull' as 'pull' | 'push',
  /** Create missing topics and subscriptions at start-up (off where Terraform owns them). */
  ensureTopology: true,
  /** Tasks created and published per step of the fan-out (one Firestore batch, one wait for publishes). */
  fanOutBatchSize: 500,
  /** Events of one operation arriving within this window are answered by one completion check. */
  completionDebounceMs: 250,
  /** How long SIGTERM waits for handlers in flight before closing the clients. */
  shutdownGraceMs: 10_000,
  /** Requests planned at once by one dispatcher (planning pages through BigQuery's table lists). */
  requestConcurrency: 4,
  /** Events handled at once (each waits for a debounced completion check). */
  eventConcurrency: 500,
  deadLetterConcurrency: 50,
  /** BigQuery time travel reaches 7 days back; keep a margin so the oldest tables are still readable when the jobs run. */
  maxSnapshotAgeMs: 7 * 24 * 3_600_000 - 5 * 60_000,
};

export interface DispatcherConfig {
  readonly projectId: string;
  readonly port: number;
  readonly intake: 'pull' | 'push';
  readonly topology: Topology;
  readonly ensureTopology: boolean;
  /** With ensureTopology in push mode: this service's public base URL, for push subscriptions to its endpoints. */
  readonly pushBaseUrl?: string;
  readonly fanOutBatchSize: number;
  readonly completionDebounceMs: number;
  readonly shutdownGraceMs: number;
  readonly requestConcurrency: number;
  readonly eventConcurrency: number;
  readonly deadLetterConcurrency: number;
  readonly maxSnapshotAgeMs: number;
  /** gs:// folder where backups to S3, Azure or files are extracted (and restores from them staged) first. */
  readonly stagingUri?: string;
  /** Who may call the push/Eventarc endpoints and the API; a policy left out is off (local runs). */
  readonly auth?: AuthConfig;
  /** The S3 endpoints and Azure account URLs requests may name (docs/security.md#endpoints). */
  readonly endpoints: EndpointAllowlist;
}

const ProjectName = stringWith('ProjectId', (value) =>
  value.trim() === '' ? "required: the project that holds bqbr's topics and state" : undefined,
);

const Intake = t.keyof({ pull: null, push: null }, 'pull | push');

/** Every variable the dispatcher reads (topology variables aside: see topologyFromEnv). */
export const DispatcherEnv = t.type({
  GOOGLE_CLOUD_PROJECT: ProjectName,
  PORT: withDefault(integerFromString(0), DEFAULTS.port),
  BQBR_INTAKE: withDefault(Intake, DEFAULTS.intake),
  BQBR_ENSURE_TOPOLOGY: withDefault(BooleanFromString, DEFAULTS.ensureTopology),
  BQBR_FANOUT_BATCH_SIZE: withDefault(integerFromString(1), DEFAULTS.fanOutBatchSize),
  BQBR_COMPLETION_DEBOUNCE_MS: withDefault(integerFromString(0), DEFAULTS.completionDebounceMs),
  BQBR_SHUTDOWN_GRACE_MS: withDefault(integerFromString(0), DEFAULTS.shutdownGraceMs),
  BQBR_REQUEST_CONCURRENCY: withDefault(integerFromString(1), DEFAULTS.requestConcurrency),
  BQBR_PUSH_BASE_URL: withDefault(t.string, ''),
  BQBR_STAGING_URI: withDefault(t.union([GcsUri, t.literal('')]), ''),
  ...AuthEnv.props,
});

/** Reads the configuration from `env`, or throws a ValidationError naming each bad variable. */
export function parseConfig(env: Env = process.env): DispatcherConfig {
  const vars = decodeEnv(DispatcherEnv, env);
  const auth = authFromEnv(env);
  const pushBaseUrl = vars.BQBR_PUSH_BASE_URL.replace(/\/+$/, '');
  return {
    projectId: vars.GOOGLE_CLOUD_PROJECT,
    port: vars.PORT,
    intake: vars.BQBR_INTAKE,
    topology: topologyFromEnv(env),
    ensureTopology: vars.BQBR_ENSURE_TOPOLOGY,
    ...(pushBaseUrl ? { pushBaseUrl } : {}),
    fanOutBatchSize: vars.BQBR_FANOUT_BATCH_SIZE,
    completionDebounceMs: vars.BQBR_COMPLETION_DEBOUNCE_MS,
    shutdownGraceMs: vars.BQBR_SHUTDOWN_GRACE_MS,
    requestConcurrency: vars.BQBR_REQUEST_CONCURRENCY,
    eventConcurrency: DEFAULTS.eventConcurrency,
    deadLetterConcurrency: DEFAULTS.deadLetterConcurrency,
    maxSnapshotAgeMs: DEFAULTS.maxSnapshotAgeMs,
    ...(vars.BQBR_STAGING_URI ? { stagingUri: vars.BQBR_STAGING_URI.replace(/\/+$/, '') } : {}),
    ...(auth.push || auth.api ? { auth } : {}),
    // A malformed list stops start-up here, not each request later.
    endpoints: endpointAllowlist(env),
  };
}
