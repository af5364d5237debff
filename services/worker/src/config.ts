// The worker's configuration: every tunable in one commented defaults object, read once at start-up.
import * as t from 'io-ts';
import {
  BooleanFromString,
  PushAuthEnv,
  pushAuthFromEnv,
  endpointAllowlist,
  decodeEnv,
  integerFromString,
  topologyFromEnv,
  withDefault,
  type Env,
  type OidcPolicy,
  type Topology,
} from '@bqbr/shared';

export const WORKER_DEFAULTS = {
  /** HTTP port: push endpoint and health check. */
  port: 8081,
  /** Tasks in flight per process (pull mode: the subscriber's flow control). */
  concurrency: 4,
  /**
   * How long one delivery waits for its BigQuery job before handing over to a continuation message.
   * Pull: the client extends the lease meanwhile (up to the 10-minute ack deadline ceiling of a push).
   * Push: the HTTP answer must come before the push subscription's ack deadline (60 s by default).
   */
  jobWaitSeconds: { pull: 540, push: 50 },
  /** Between two `jobs.get` calls while waiting. */
  jobPollMs: 1_000,
  /** bqbr's own attempts at one table's extract job (a failed job is retried with the next job id). */
  maxJobAttempts: 5,
  /**
   * Files one task copies at once between its Cloud Storage landing folder and a home outside it (S3,
   * Azure, files). Each file also moves in parallel parts or blocks (S3: up to 5 parts of 16 MiB held),
   * so a task holds about this × 80 MiB at most.
   */
  transferConcurrency: 4,
  /** On SIGTERM, how long in-flight tasks may take to hand over before the process exits. */
  shutdownGraceMs: 20_000,
} as const;

const Intake = t.keyof({ pull: null, push: null });

/** Every variable the worker reads (topology variables aside: see topologyFromEnv). */
export const WorkerEnv = t.type({
  GOOGLE_CLOUD_PROJECT: t.string,
  PORT: withDefault(integerFromString(0), WORKER_DEFAULTS.port),
  BQBR_INTAKE: withDefault(Intake, 'pull'),
  BQBR_WORKER_CONCURRENCY: withDefault(integerFromString(1), WORKER_DEFAULTS.concurrency),
  BQBR_JOB_WAIT_SECONDS: withDefault(t.union([integerFromString(1), t.undefined]), undefined),
  BQBR_JOB_POLL_MS: withDefault(integerFromString(10), WORKER_DEFAULTS.jobPollMs),
  BQBR_MAX_JOB_ATTEMPTS: withDefault(integerFromString(1), WORKER_DEFAULTS.maxJobAttempts),
  BQBR_TRANSFER_CONCURRENCY: withDefault(integerFromString(1), WORKER_DEFAULTS.transferConcurrency),
  BQBR_SHUTDOWN_GRACE_MS: withDefault(integerFromString(0), WORKER_DEFAULTS.shutdownGraceMs),
  // Pull mode only: a push subscription's endpoint is the deployment's business (Terraform, the CLI).
  BQBR_ENSURE_TOPOLOGY: withDefault(BooleanFromString, true),
  ...PushAuthEnv.props,
});

export interface WorkerConfig {
  readonly projectId: string;
  readonly port: number;
  readonly intake: 'pull' | 'push';
  readonly topology: Topology;
  readonly concurrency: number;
  readonly jobWaitSeconds: number;
  readonly jobPollMs: number;
  readonly maxJobAttempts: number;
  readonly shutdownGraceMs: number;
  readonly transferConcurrency: number;
  readonly ensureTopology: boolean;
  /** Who may push tasks (docs/security.md#authentication); undefined: off (local runs). */
  readonly pushAuth?: OidcPolicy;
}

/** Reads the worker's settings from `env`, or throws a ValidationError naming each bad variable. */
export function parseConfig(env: Env): WorkerConfig {
  const decoded = decodeEnv(WorkerEnv, env);
  const intake = decoded.BQBR_INTAKE;
  const pushAuth = pushAuthFromEnv(env);
  // createStore reads the endpoint allowlist from env for every store; a malformed one stops start-up here
  // instead of failing every task (docs/security.md#endpoints).
  endpointAllowlist(env);
  return Object.freeze({
    projectId: decoded.GOOGLE_CLOUD_PROJECT,
    port: decoded.PORT,
    intake,
    topology: topologyFromEnv(env),
    concurrency: decoded.BQBR_WORKER_CONCURRENCY,
    jobWaitSeconds: decoded.BQBR_JOB_WAIT_SECONDS ?? WORKER_DEFAULTS.jobWaitSeconds[intake],
    jobPollMs: decoded.BQBR_JOB_POLL_MS,
    maxJobAttempts: decoded.BQBR_MAX_JOB_ATTEMPTS,
    shutdownGraceMs: decoded.BQBR_SHUTDOWN_GRACE_MS,
    transferConcurrency: decoded.BQBR_TRANSFER_CONCURRENCY,
    ensureTopology: decoded.BQBR_ENSURE_TOPOLOGY,
    ...(pushAuth ? { pushAuth } : {}),
  });
}
