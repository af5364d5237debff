// The local stack: Google's Pub/Sub and Firestore emulators as child processes, our emulators in process,
// and on demand s3rver (S3) and Azurite (Azure Blob Storage) as child processes too.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from '@bqbr/shared';
import { startBigQueryEmulator } from '../bigquery/server.js';
import { startGcsEmulator, type RunningGcsEmulator } from '../gcs/server.js';
import {
  S3RVER_ACCESS_KEY_ID,
  S3RVER_REGION,
  S3RVER_SECRET_ACCESS_KEY,
  azuriteAccountUrl,
  azuriteBlobCommand,
  azuriteConnectionString,
  s3rverCommand,
} from './aws-azure.js';
import {
  StackSetupError,
  findJava,
  findSdkRoot,
  firestoreEmulatorCommand,
  pubsubEmulatorCommand,
  type LaunchCommand,
} from './google-sdk.js';
import { startProcess, type ManagedProcess } from './managed-process.js';
import { freePort, isPortInUse, waitForHttp } from './readiness.js';

/** What a stack starts unless told otherwise. */
export const STACK_SERVICES = ['pubsub', 'firestore', 'storage', 'bigquery'] as const;
/** Started only on demand (`s3: true`, `azure: true`, or named in `services`): destinations outside Google Cloud. */
export const OPTIONAL_STACK_SERVICES = ['s3', 'azure'] as const;
export const ALL_STACK_SERVICES = [...STACK_SERVICES, ...OPTIONAL_STACK_SERVICES] as const;
export type StackService = (typeof ALL_STACK_SERVICES)[number];

/** The default addresses (README.md, "Local stack"; and s3rver's and Azurite's usual ones): what `npm run stack` uses unless told otherwise. */
export const DEFAULT_STACK_PORTS: Readonly<Record<StackService, number>> = {
  pubsub: 8085,
  firestore: 8086,
  storage: 4443,
  bigquery: 9050,
  s3: 4568,
  azure: 10000,
};

export const DEFAULT_PROJECT_ID = 'bqbr-local';

export interface StackOptions {
  readonly host?: string;
  /** Per service; 0 picks a free port (what tests use). Defaults to DEFAULT_STACK_PORTS. */
  readonly ports?: Partial<Record<StackService, number>>;
  /** Which services to start; STACK_SERVICES by default. */
  readonly services?: readonly StackService[];
  /** Also start s3rver, an S3 API on loopback (BQBR_S3_ENDPOINT and AWS_* in `env`). */
  readonly s3?: boolean;
  /** Also start Azurite's blob service (AZURE_STORAGE_CONNECTION_STRING and BQBR_AZURE_ACCOUNT_URL in `env`). */
  readonly azure?: boolean;
  /** The root for file destinations (BQBR_FILE_ROOTS), created if missing; default `<dataDir>/files`. */
  readonly filesDir?: string;
  readonly projectId?: string;
  /**
   * Where our emulators, s3rver and Azurite keep data across restarts (`gcs/`, `bigquery/`, `s3/`, `azurite/`);
   * a temporary folder (removed on stop) when absent.
   */
  readonly dataDir?: string;
  /** Where the Java emulators' output is written, one file each; kept in memory only when absent. */
  readonly logDir?: string;
  readonly startTimeoutMs?: number;
  readonly log?: (line: string) => void;
  /** The Cloud Storage emulator's logger (requests at debug level); silent when absent. */
  readonly storageLogger?: Logger;
  /** The BigQuery emulator's logger; silent when absent. */
  readonly bigqueryLogger?: Logger;
}

export interface StackEndpoint {
  readonly service: StackService;
  readonly host: string;
  readonly port: number;
  readonly pid: number;
}

export interface RunningStack {
  /** The connection settings the services and clients read (KEY=VALUE). */
  readonly env: Readonly<Record<string, string>>;
  readonly endpoints: readonly StackEndpoint[];
  readonly projectId: string;
  /** The root for file destinations (BQBR_FILE_ROOTS in `env`). */
  readonly filesDir: string;
  /** Stops every child (process groups included) and our servers; safe to call more than once. */
  stop(): Promise<void>;
  /** Synchronous SIGKILL of every child: for `process.on('exit')`. */
  killNow(): void;
}

interface StartedService {
  readonly endpoint: StackEndpoint;
  stop(): Promise<void>;
  killNow(): void;
}

interface ChildCommand extends LaunchCommand {
  /** Where the child keeps its data, for the log line. */
  readonly dataDir?: string;
}

const CHILD_START_TIMEOUT_MS = 60_000;

/** Our own emulators run inside the launcher's process and bind port 0 themselves. */
const IN_PROCESS: readonly StackService[] = ['storage', 'bigquery'];

export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  const host = options.host ?? '127.0.0.1';
  const projectId = options.projectId ?? DEFAULT_PROJECT_ID;
  const services = [
    ...new Set<StackService>([
      ...(options.services ?? STACK_SERVICES),
      ...(options.s3 ? (['s3'] as const) : []),
      ...(options.azure ? (['azure'] as const) : []),
    ]),
  ];
  const log = options.log ?? (() => undefined);
  const timeoutMs = options.startTimeoutMs ?? CHILD_START_TIMEOUT_MS;
  if (options.logDir) await mkdir(options.logDir, { recursive: true });

  const ports = Object.fromEntries(
    await Promise.all(
      services.map(async (service) => {
        const wanted = options.ports?.[service] ?? DEFAULT_STACK_PORTS[service];
        // Our emulators bind port 0 themselves; the child processes need a number on their command line.
        const port = wanted === 0 && !IN_PROCESS.includes(service) ? await freePort(host) : wanted;
        return [service, port] as const;
      }),
    ),
  ) as Partial<Record<StackService, number>>;

  // Every missing piece is found before anything starts, so a setup error is the only output.
  // A port taken by an older stack would answer our readiness check while our emulator failed to bind.
  for (const service of services) {
    const port = ports[service];
    if (port !== undefined && port !== 0 && (await isPortInUse(host, port))) {
      throw new StackSetupError(
        `${service}: ${host}:${port} is already in use (a stack still running?): stop it, or choose another port (--${service}-port)`,
      );
    }
  }
  const childCommands: Partial<Record<StackService, ChildCommand>> = {};
  if (services.includes('pubsub') || services.includes('firestore')) {
    const sdkRoot = findSdkRoot();
    const java = findJava();
    if (ports.pubsub !== undefined) childCommands.pubsub = pubsubEmulatorCommand(sdkRoot, host, ports.pubsub);
    if (ports.firestore !== undefined) {
      childCommands.firestore = firestoreEmulatorCommand(sdkRoot, java, host, ports.firestore, projectId);
    }
  }

  // Data of s3rver and Azurite, and the file destinations' root: under dataDir, else in a temporary folder.
  let scratchDir: string | undefined;
  const dataRoot = async (): Promise<string> =>
    options.dataDir ?? (scratchDir ??= await mkdtemp(join(tmpdir(), 'bqbr-stack-')));
  const removeScratch = async (): Promise<void> => {
    if (scratchDir) await rm(scratchDir, { recursive: true, force: true });
  };
  let filesDir: string;
  try {
    if (ports.s3 !== undefined) {
      const directory = join(await dataRoot(), 's3');
      childCommands.s3 = { ...s3rverCommand(host, ports.s3, directory), dataDir: directory };
      await mkdir(directory, { recursive: true });
    }
    if (ports.azure !== undefined) {
      const location = join(await dataRoot(), 'azurite');
      childCommands.azure = { ...azuriteBlobCommand(host, ports.azure, location), dataDir: location };
      await mkdir(location, { recursive: true });
    }
    filesDir = options.filesDir ?? join(await dataRoot(), 'files');
    await mkdir(filesDir, { recursive: true });
  } catch (err) {
    await removeScratch();
    throw err;
  }

  const startChild = async (
    service: StackService,
    { command, args, dataDir }: ChildCommand,
  ): Promise<StartedService> => {
    const port = ports[service] ?? 0;
    const child: ManagedProcess = startProcess({
      name: service,
      command,
      args,
      ...(options.logDir ? { logFile: join(options.logDir, `${service}.log`) } : {}),
    });
    try {
      await waitForHttp(`http://${host}:${port}/`, { timeoutMs, isAlive: () => child.isRunning() });
    } catch (err) {
      await child.stop();
      const reason = err instanceof Error ? err.message : String(err);
      throw new Error(`${service} emulator did not start (${reason}):\n${child.recentOutput()}`);
    }
    log(
      `${service} emulator ready on ${host}:${port} (pid ${child.pid})${dataDir ? ` (data in ${dataDir})` : ''}`,
    );
    return {
      endpoint: { service, host, port, pid: child.pid },
      stop: () => child.stop(),
      killNow: () => child.killNow(),
    };
  };

  const startStorage = async (): Promise<StartedService> => {
    const emulator: RunningGcsEmulator = await startGcsEmulator({
      host,
      port: ports.storage ?? 0,
      ...(options.storageLogger ? { logger: options.storageLogger } : {}),
      ...(options.dataDir ? { dataDir: join(options.dataDir, 'gcs') } : {}),
    });
    log(`storage emulator ready on ${emulator.url} (data in ${emulator.dataDir})`);
    return {
      endpoint: { service: 'storage', host, port: emulator.port, pid: process.pid },
      stop: () => emulator.close(),
      killNow: () => undefined,
    };
  };

  // BigQuery's extract and load jobs reach Cloud Storage: it starts once storage's address is known.
  const storage = services.includes('storage') ? startStorage() : undefined;
  const startBigQuery = async (): Promise<StartedService> => {
    const storageEndpoint = storage ? (await storage).endpoint : undefined;
    const emulator = await startBigQueryEmulator({
      host,
      port: ports.bigquery ?? 0,
      ...(storageEndpoint ? { storageUrl: `http://${host}:${storageEndpoint.port}` } : {}),
      ...(options.bigqueryLogger ? { logger: options.bigqueryLogger } : {}),
      ...(options.dataDir ? { dataDir: join(options.dataDir, 'bigquery') } : {}),
    });
    log(`bigquery emulator ready on ${emulator.url}`);
    return {
      endpoint: { service: 'bigquery', host, port: emulator.port, pid: process.pid },
      stop: () => emulator.close(),
      killNow: () => undefined,
    };
  };

  const start = (service: StackService): Promise<StartedService> => {
    const command = childCommands[service];
    if (command) return startChild(service, command);
    return service === 'storage' ? storage! : startBigQuery();
  };

  const results = await Promise.allSettled(services.map(start));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    await Promise.all(started.map((s) => s.stop()));
    await removeScratch();
    throw failures[0];
  }

  let stopping: Promise<void> | undefined;
  return {
    env: stackEnv(
      host,
      projectId,
      started.map((s) => s.endpoint),
      { filesDir },
    ),
    endpoints: started.map((s) => s.endpoint),
    projectId,
    filesDir,
    stop() {
      stopping ??= Promise.all(started.map((s) => s.stop())).then(removeScratch);
      return stopping;
    },
    killNow() {
      for (const s of started) s.killNow();
    },
  };
}

/** The variables of the local-stack table (README.md, "Local stack"), plus what gcloud needs to talk to the emulators. */
export function stackEnv(
  host: string,
  projectId: string,
  endpoints: readonly StackEndpoint[],
  { filesDir }: { readonly filesDir?: string } = {},
): Record<string, string> {
  const env: Record<string, string> = { GOOGLE_CLOUD_PROJECT: projectId, METADATA_SERVER_DETECTION: 'none' };
  for (const { service, port } of endpoints) {
    const address = `${host}:${port}`;
    if (service === 'pubsub') {
      env['PUBSUB_EMULATOR_HOST'] = address;
      env['CLOUDSDK_API_ENDPOINT_OVERRIDES_PUBSUB'] = `http://${address}/`;
    } else if (service === 'firestore') {
      env['FIRESTORE_EMULATOR_HOST'] = address;
    } else if (service === 'bigquery') {
      // The Node client uses this value as its base URL as is, so it carries the scheme.
      env['BIGQUERY_EMULATOR_HOST'] = `http://${address}`;
      env['CLOUDSDK_API_ENDPOINT_OVERRIDES_BIGQUERY'] = `http://${address}/bigquery/v2/`;
    } else if (service === 'storage') {
      env['STORAGE_EMULATOR_HOST'] = `http://${address}`;
      env['CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE'] = `http://${address}/storage/v1/`;
    } else if (service === 's3') {
      // The AWS SDK reads the credentials and region from the environment; the endpoint is bqbr's setting.
      env['BQBR_S3_ENDPOINT'] = `http://${address}`;
      env['AWS_ACCESS_KEY_ID'] = S3RVER_ACCESS_KEY_ID;
      env['AWS_SECRET_ACCESS_KEY'] = S3RVER_SECRET_ACCESS_KEY;
      env['AWS_REGION'] = S3RVER_REGION;
      // The stand-in is the one S3 endpoint requests may name (docs/security.md, "Endpoints").
      env['BQBR_S3_ENDPOINTS'] = `http://${address}`;
    } else {
      env['AZURE_STORAGE_CONNECTION_STRING'] = azuriteConnectionString(host, port);
      env['BQBR_AZURE_ACCOUNT_URL'] = azuriteAccountUrl(host, port);
      env['BQBR_AZURE_ACCOUNT_URLS'] = azuriteAccountUrl(host, port);
    }
  }
  if (filesDir !== undefined) env['BQBR_FILE_ROOTS'] = filesDir;
  // gcloud refuses to call any API without credentials; the emulators ignore them.
  env['CLOUDSDK_AUTH_ACCESS_TOKEN'] = 'local-emulator';
  env['CLOUDSDK_CORE_PROJECT'] = projectId;
  return env;
}

/** `KEY=value` lines a shell can source (`set -a; . .stack/env`): values with `;` and the like are quoted. */
export function formatEnv(env: Readonly<Record<string, string>>): string {
  const quoted = (value: string): string =>
    /^[\w./:@%+,=-]*$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
  return Object.entries(env)
    .map(([key, value]) => `${key}=${quoted(value)}`)
    .join('\n')
    .concat('\n');
}
