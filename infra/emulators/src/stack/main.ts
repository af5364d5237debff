#!/usr/bin/env node
// `npm run stack`: the whole local stack (S3 and Azure stand-ins on demand) in the foreground until Ctrl-C,
// settings in .stack/env.
import { createLogger } from '@bqbr/shared';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { StackSetupError } from './google-sdk.js';
import {
  ALL_STACK_SERVICES,
  DEFAULT_PROJECT_ID,
  DEFAULT_STACK_PORTS,
  STACK_SERVICES,
  formatEnv,
  startStack,
  type RunningStack,
  type StackService,
} from './stack.js';

const USAGE = `Usage: npm run stack -- [options]

Starts Google's Pub/Sub and Firestore emulators and bqbr's Cloud Storage and BigQuery emulators (and, when
asked, s3rver for S3 and Azurite for Azure Blob Storage), writes their settings to <state-dir>/env as
KEY=VALUE lines, and runs until Ctrl-C (or SIGTERM).

Options (each also read from the environment variable in brackets):
  --host HOST            address to bind                    [BQBR_STACK_HOST]      127.0.0.1
  --pubsub-port N        Pub/Sub emulator port              [BQBR_PUBSUB_PORT]     ${DEFAULT_STACK_PORTS.pubsub}
  --firestore-port N     Firestore emulator port            [BQBR_FIRESTORE_PORT]  ${DEFAULT_STACK_PORTS.firestore}
  --storage-port N       Cloud Storage emulator port        [BQBR_STORAGE_PORT]    ${DEFAULT_STACK_PORTS.storage}
  --bigquery-port N      BigQuery emulator port             [BQBR_BIGQUERY_PORT]   ${DEFAULT_STACK_PORTS.bigquery}
  --s3                   also start s3rver (S3)             [BQBR_STACK_S3=1]
  --s3-port N            s3rver port                        [BQBR_S3_PORT]         ${DEFAULT_STACK_PORTS.s3}
  --azure                also start Azurite (Blob Storage)  [BQBR_STACK_AZURE=1]
  --azure-port N         Azurite blob port                  [BQBR_AZURE_PORT]      ${DEFAULT_STACK_PORTS.azure}
  --project ID           local project id                   [GOOGLE_CLOUD_PROJECT] ${DEFAULT_PROJECT_ID}
  --only a,b             start only these of: ${ALL_STACK_SERVICES.join(', ')}
  --state-dir DIR        env file, logs, emulator data and  [BQBR_STACK_DIR]       .stack
                         files/ (BQBR_FILE_ROOTS)
  --help                 this text
Use port 0 for any free port. LOG_LEVEL=debug logs every Cloud Storage and BigQuery request.`;

interface CliOptions {
  readonly host: string;
  readonly ports: Record<StackService, number>;
  readonly projectId: string;
  readonly services: readonly StackService[];
  readonly stateDir: string;
}

function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv): CliOptions | 'help' {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      host: { type: 'string' },
      'pubsub-port': { type: 'string' },
      'firestore-port': { type: 'string' },
      'storage-port': { type: 'string' },
      'bigquery-port': { type: 'string' },
      s3: { type: 'boolean' },
      's3-port': { type: 'string' },
      azure: { type: 'boolean' },
      'azure-port': { type: 'string' },
      project: { type: 'string' },
      only: { type: 'string' },
      'state-dir': { type: 'string' },
      help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const port = (flag: string, value: string | undefined, fallback: number): number => {
    if (value === undefined || value === '') return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0 || n > 65_535)
      throw new StackSetupError(`${flag}: not a port: ${value}`);
    return n;
  };
  const switchedOn = (flag: boolean | undefined, value: string | undefined): boolean =>
    flag ?? /^(1|true|yes|on)$/i.test(value ?? '');
  const services = (values.only ?? STACK_SERVICES.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const s of services) {
    if (!(ALL_STACK_SERVICES as readonly string[]).includes(s)) {
      throw new StackSetupError(`--only: unknown service "${s}" (known: ${ALL_STACK_SERVICES.join(', ')})`);
    }
  }
  if (switchedOn(values.s3, env['BQBR_STACK_S3']) && !services.includes('s3')) services.push('s3');
  if (switchedOn(values.azure, env['BQBR_STACK_AZURE']) && !services.includes('azure'))
    services.push('azure');
  return {
    host: values.host ?? env['BQBR_STACK_HOST'] ?? '127.0.0.1',
    ports: {
      pubsub: port(
        '--pubsub-port',
        values['pubsub-port'] ?? env['BQBR_PUBSUB_PORT'],
        DEFAULT_STACK_PORTS.pubsub,
      ),
      firestore: port(
        '--firestore-port',
        values['firestore-port'] ?? env['BQBR_FIRESTORE_PORT'],
        DEFAULT_STACK_PORTS.firestore,
      ),
      storage: port(
        '--storage-port',
        values['storage-port'] ?? env['BQBR_STORAGE_PORT'],
        DEFAULT_STACK_PORTS.storage,
      ),
      bigquery: port(
        '--bigquery-port',
        values['bigquery-port'] ?? env['BQBR_BIGQUERY_PORT'],
        DEFAULT_STACK_PORTS.bigquery,
      ),
      s3: port('--s3-port', values['s3-port'] ?? env['BQBR_S3_PORT'], DEFAULT_STACK_PORTS.s3),
      azure: port('--azure-port', values['azure-port'] ?? env['BQBR_AZURE_PORT'], DEFAULT_STACK_PORTS.azure),
    },
    projectId: values.project ?? env['GOOGLE_CLOUD_PROJECT'] ?? DEFAULT_PROJECT_ID,
    services: services as StackService[],
    stateDir: resolve(values['state-dir'] ?? env['BQBR_STACK_DIR'] ?? '.stack'),
  };
}

async function main(): Promise<void> {
  const options = parseCli(process.argv.slice(2), process.env);
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const envFile = resolve(options.stateDir, 'env');
  await mkdir(options.stateDir, { recursive: true });
  // A stale env file would point clients at a stack that is not running.
  await rm(envFile, { force: true });

  const started = Date.now();
  const stack: RunningStack = await startStack({
    host: options.host,
    ports: options.ports,
    services: options.services,
    projectId: options.projectId,
    dataDir: resolve(options.stateDir, 'data'),
    filesDir: resolve(options.stateDir, 'files'),
    logDir: resolve(options.stateDir, 'logs'),
    log: (line) => console.log(`stack: ${line}`),
    // Quiet unless asked: LOG_LEVEL=debug logs every Cloud Storage request.
    storageLogger: createLogger({
      service: 'storage-emulator',
      ...(process.env['LOG_LEVEL'] ? {} : { level: 'warn' }),
    }),
    bigqueryLogger: createLogger({
      service: 'bigquery-emulator',
      ...(process.env['LOG_LEVEL'] ? {} : { level: 'warn' }),
    }),
  });
  // Whatever happens to this process, no emulator may outlive it.
  process.on('exit', () => stack.killNow());

  await writeFile(envFile, formatEnv(stack.env));
  console.log(
    `stack: up in ${((Date.now() - started) / 1000).toFixed(1)} s; settings written to ${envFile}:\n`,
  );
  console.log(formatEnv(stack.env));
  console.log(`Load them in a shell with: set -a; . ${envFile}; set +a`);
  console.log('Ctrl-C stops every emulator.');

  let signals = 0;
  const shutdown = (signal: NodeJS.Signals): void => {
    signals += 1;
    if (signals > 1) {
      console.error(`stack: ${signal} again, killing everything now`);
      stack.killNow();
      process.exit(130);
    }
    console.log(`\nstack: ${signal}, stopping...`);
    void stack
      .stop()
      .then(() => rm(envFile, { force: true }))
      .then(() => {
        console.log('stack: stopped');
        process.exit(0);
      });
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  process.on('SIGHUP', shutdown);
}

main().catch((err: unknown) => {
  // Setup problems are one line that says what to do; anything else keeps its details.
  console.error(err instanceof StackSetupError ? `stack: ${err.message}` : err);
  process.exit(1);
});
