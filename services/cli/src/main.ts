#!/usr/bin/env node
// bqbr: submit backups and restores to the dispatcher, watch them, list them and the stored backups.
import { decode } from '@bqbr/shared';
import * as t from 'io-ts';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiClient } from './api-client.js';
import { apiAuthorization } from './auth.js';
import { backups, storageFromEnv } from './backups.js';
import { consoleOutput, list, status, submit } from './commands.js';
import { EXIT, runCommandLine, UsageError } from './failure.js';

const USAGE = `Usage: bqbr <command> [options]

Commands:
  backup <request.json> [--watch]     submit a backup request (the original service's JSON, or bqbr's)
  restore <request.json> [--watch]    submit a restore request
  status <operationId> [--watch]      show an operation; --watch: a live progress line until it ends
  list [--status S] [--kind K] [--limit N]
                                      recent operations, newest first
  backups <uri> [--project P]         the backups stored at gs://bucket/path, s3://bucket/path,
                                      https://<account>.blob.core.windows.net/<container>/path or a
                                      directory, newest first (read from the store itself; locally
                                      [STORAGE_EMULATOR_HOST], [BQBR_S3_ENDPOINT], [AZURE_STORAGE_CONNECTION_STRING])

Options:
  --api URL        the dispatcher's HTTP API    [BQBR_API_URL]   http://127.0.0.1:8080
  --id-token T     the ID token sent to the API [BQBR_ID_TOKEN]; otherwise, for an API not on this
                   machine, one from Google's default credentials or gcloud auth print-identity-token
  --audience A     the audience of that token   [BQBR_API_AUDIENCE]   the API URL's origin
  --json           machine-readable output
  --interval MS    polling interval of --watch  1000
  --debug          on a failure, its stack trace; and warnings of Node and libraries  [BQBR_DEBUG=1]
  --version
  --help

Exit codes:
  0  done; for an operation: it SUCCEEDED (or, without --watch, has not ended yet)
  1  an error, one line each on stderr: a bad command line or request file, the dispatcher unreachable
     or refusing, an unknown operation, a backup location that cannot be read
  2  the operation ended FAILED or PARTIALLY_FAILED

Locally, outside bqbr (infra/local): npm start runs the stack, a dispatcher, a worker and a demo
dataset; npm run demo backs the demo dataset up and restores it, both verified.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      'id-token': { type: 'string' },
      audience: { type: 'string' },
      watch: { type: 'boolean', short: 'w' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
      status: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
      project: { type: 'string' },
      debug: { type: 'boolean' },
      version: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.version) {
    console.log(`bqbr ${await cliVersion()}`);
    return EXIT.ok;
  }
  const [command, ...args] = positionals;
  if (values.help || command === 'help') {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (command === undefined)
    throw new UsageError('no command given: backup, restore, status, list or backups');
  const apiUrl = (values.api ?? process.env['BQBR_API_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const api = new ApiClient(apiUrl, apiAuthorization(apiUrl, values, process.env));
  const out = consoleOutput();
  const intervalMs = positiveInteger('--interval', values.interval) ?? 1000;
  const watch = values.watch ?? false;
  const json = values.json ?? false;
  /** The command's one argument; `needs` says what it is when it is missing. */
  const single = (needs: string): string => {
    const [first, ...more] = args;
    if (first === undefined) throw new UsageError(`${command} needs ${needs}`);
    if (more.length > 0) throw new UsageError(`${command} takes one argument, not also ${more.join(' ')}`);
    return first;
  };
  switch (command) {
    case 'backup':
    case 'restore':
      return submit(api, out, command, single(`a request file: bqbr ${command} request.json`), {
        watch,
        json,
        intervalMs,
      });
    case 'status':
      return status(api, out, single('an operation id: bqbr status <operationId>'), {
        watch,
        json,
        intervalMs,
      });
    case 'list': {
      if (args.length > 0) throw new UsageError(`list takes no argument, not ${args.join(' ')}`);
      const limit = positiveInteger('--limit', values.limit);
      return list(api, out, {
        ...(values.status ? { status: values.status.toUpperCase() } : {}),
        ...(values.kind ? { kind: values.kind } : {}),
        ...(limit !== undefined ? { limit } : {}),
        json,
      });
    }
    case 'backups':
      return backups(
        storageFromEnv(),
        out,
        single('a location: bqbr backups gs://bucket/path (or s3://, https://, a directory)'),
        { ...(values.project ? { projectId: values.project } : {}), json },
      );
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function positiveInteger(option: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number <= 0)
    throw new UsageError(`${option} takes a whole number above 0, not "${value}"`);
  return number;
}

/** The CLI package's version, from its package.json (dist/../package.json). */
async function cliVersion(): Promise<string> {
  const text = await readFile(new URL('../package.json', import.meta.url), 'utf8');
  return decode(t.type({ version: t.string }), JSON.parse(text), "the CLI's package.json").version;
}

runCommandLine(main, { help: 'bqbr --help' });
