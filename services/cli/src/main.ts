#!/usr/bin/env node
// bqbr: submit backups and restores to the dispatcher, watch them, list them; and run the local stack.
import { ValidationError } from '@bqbr/shared';
import { parseArgs } from 'node:util';
import { ApiClient, ApiError } from './api-client.js';
import { backups, StorageUriError, storageFromEnv } from './backups.js';
import { consoleOutput, formatValidation, list, status, submit } from './commands.js';

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
  up                                  the local stack, dispatcher and worker, with a demo dataset (npm start)
  demo                                a full backup on the local stack, verified (npm run demo)

Options:
  --api URL        the dispatcher's HTTP API    [BQBR_API_URL]   http://127.0.0.1:8080
  --json           machine-readable output
  --interval MS    polling interval of --watch  1000
  --help

Exit codes: 0 done (an operation SUCCEEDED), 1 error, 2 the operation ended FAILED or PARTIALLY_FAILED.`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      api: { type: 'string' },
      watch: { type: 'boolean', short: 'w' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
      status: { type: 'string' },
      kind: { type: 'string' },
      limit: { type: 'string' },
      project: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, argument] = positionals;
  if (values.help || command === undefined || command === 'help') {
    console.log(USAGE);
    return command === undefined && !values.help ? 1 : 0;
  }
  const api = new ApiClient(
    (values.api ?? process.env['BQBR_API_URL'] ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
  );
  const out = consoleOutput();
  const intervalMs = Number(values.interval ?? 1000);
  const watch = values.watch ?? false;
  const json = values.json ?? false;
  switch (command) {
    case 'backup':
    case 'restore':
      if (!argument) throw new UsageError(`${command} needs a request file: bqbr ${command} request.json`);
      return submit(api, out, command, argument, { watch, json, intervalMs });
    case 'status':
      if (!argument) throw new UsageError('status needs an operation id: bqbr status <operationId>');
      return status(api, out, argument, { watch, json, intervalMs });
    case 'list':
      return list(api, out, {
        ...(values.status ? { status: values.status.toUpperCase() } : {}),
        ...(values.kind ? { kind: values.kind } : {}),
        ...(values.limit ? { limit: Number(values.limit) } : {}),
        json,
      });
    case 'backups':
      if (!argument)
        throw new UsageError(
          'backups needs a location: bqbr backups gs://bucket/path (or s3://, https://, a directory)',
        );
      return backups(storageFromEnv(), out, argument, {
        ...(values.project ? { projectId: values.project } : {}),
        json,
      });
    case 'up': {
      const { runLocal } = await import('./local/run-local.js');
      return runLocal({ mode: 'up' });
    }
    case 'demo': {
      const { runLocal } = await import('./local/run-local.js');
      return runLocal({ mode: 'demo' });
    }
    default:
      throw new UsageError(`unknown command "${command}" (bqbr --help lists them)`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof ValidationError) console.error(`bqbr: ${formatValidation(err)}`);
    else if (err instanceof ApiError) {
      console.error(`bqbr: ${err.message}`);
      for (const issue of err.issues) console.error(`  ${issue.path || '(request)'}: ${issue.message}`);
    } else if (
      err instanceof UsageError ||
      err instanceof StorageUriError ||
      (err instanceof Error && err.name === 'TypeError' && /parseArgs|option/i.test(err.message))
    )
      console.error(`bqbr: ${err.message}`);
    else console.error(err);
    process.exit(1);
  },
);
