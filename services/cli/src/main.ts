#!/usr/bin/env node
// bqbr: submit backups, restores, prunes and verifications to the dispatcher, watch them, list them and
// the stored backups.
import { decode } from '@bqbr/shared';
import * as t from 'io-ts';
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApiClient } from './api-client.js';
import { apiAuthorization } from './auth.js';
import { backups, storageFromEnv } from './backups.js';
import { consoleOutput, list, status, submit } from './commands.js';
import { showBackup } from './backup-show.js';
import { EXIT, runCommandLine, UsageError } from './failure.js';
import { prune, pruneRequest, reconcile, verify, verifyRequest, type Where } from './lifecycle.js';
import { positiveInteger, RETENTION_OPTIONS, retentionOf } from './options.js';

const USAGE = `Usage: bqbr <command> [options]

Commands:
  backup <request.json> [--watch]     submit a backup request (the original service's JSON, or bqbr's)
  restore <request.json> [--watch]    submit a restore request
  prune <uri> --project P <rules> [--time-zone Z] [--dry-run] [--watch]
                                      delete the project's backups at <uri> that no rule keeps; the rules
                                      (restic's forget, at least one): --keep-last N, --keep-hourly N,
                                      --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N,
                                      --keep-within 30d (y m d h); days, weeks… count in --time-zone (UTC).
                                      The newest successful backup, backups a kept one depends on and
                                      write-once backups still locked always stay. --dry-run: each
                                      backup KEEP or DELETE, with the reasons, and nothing deleted
  verify <uri> <timestamp|latest> --project P [--read-data-subset 1/5|10%] [--restore-drill]
         [--drill-project P] [--dry-run] [--watch]
                                      re-read a backup's files and check them against its manifests
                                      (every file, or restic's subset: part n of t, or a share);
                                      --restore-drill: also load every table into a scratch dataset
                                      (in --drill-project, default --project), compare its rows with
                                      the manifest and drop it
  status <operationId> [--watch]      show an operation; --watch: a live progress line until it ends
  list [--status S] [--kind K] [--limit N]
                                      recent operations, newest first
  backups <uri> [--project P]         the backups stored at gs://bucket/path, s3://bucket/path,
                                      https://<account>.blob.core.windows.net/<container>/path or a
                                      directory, newest first (read from the store itself; locally
                                      [STORAGE_EMULATOR_HOST], [BQBR_S3_ENDPOINT], [AWS_REGION],
                                      [AZURE_STORAGE_CONNECTION_STRING]); a backup a prune began
                                      deleting shows as partially deleted
  backups show <uri> <timestamp|latest> [--project P]
                                      one backup: its tables, rows, bytes, format, files and checksums,
                                      status, what it depends on and its write-once retention
  backups <uri> --project P --reconcile
                                      rebuild the catalogue (Firestore backups) of the project's backups
                                      at <uri> from the store, deleting nothing, and show the outcome

Prune and verify name the location as bqbr backups reads it; the services must be able to reach it too
(an S3 endpoint listed in their BQBR_S3_ENDPOINTS, a directory under their BQBR_FILE_ROOTS).

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
  2  the operation ended FAILED or PARTIALLY_FAILED (a verify that found a damaged or missing file)

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
      ...RETENTION_OPTIONS,
      'time-zone': { type: 'string' },
      'dry-run': { type: 'boolean' },
      'read-data-subset': { type: 'string' },
      'restore-drill': { type: 'boolean' },
      'drill-project': { type: 'string' },
      reconcile: { type: 'boolean' },
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
    throw new UsageError('no command given: backup, restore, prune, verify, status, list or backups');
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
  /** Where a prune, verify or reconcile works: a location and the project (required) whose backups it takes. */
  const lifecycleWhere = (uri: string, what: string = command): Where => {
    if (values.project === undefined)
      throw new UsageError(
        `${what} needs --project P: the project whose backups it takes (a location may hold several)`,
      );
    return { uri, projectId: values.project, env: process.env };
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
    case 'prune': {
      const where = lifecycleWhere(
        single('a location: bqbr prune gs://bucket/path --project P --keep-daily 7'),
      );
      const retention = retentionOf(values, values['time-zone']);
      const body = pruneRequest(where, retention, values['dry-run'] ?? false);
      return prune(api, out, where, body, { watch, json, intervalMs });
    }
    case 'verify': {
      const [uri, timestamp, ...more] = args;
      if (uri === undefined || timestamp === undefined)
        throw new UsageError(
          'verify needs a location and a backup: bqbr verify gs://bucket/path latest --project P',
        );
      if (more.length > 0) throw new UsageError(`verify takes two arguments, not also ${more.join(' ')}`);
      const where = lifecycleWhere(uri);
      const body = verifyRequest(where, timestamp, {
        ...(values['read-data-subset'] !== undefined ? { readDataSubset: values['read-data-subset'] } : {}),
        restoreDrill: values['restore-drill'] ?? false,
        ...(values['drill-project'] !== undefined ? { drillProjectId: values['drill-project'] } : {}),
        dryRun: values['dry-run'] ?? false,
      });
      return verify(api, out, where, body, { watch, json, intervalMs });
    }
    case 'backups': {
      const projectId = values.project ? { projectId: values.project } : {};
      if (args[0] === 'show') {
        const [, uri, timestamp, ...more] = args;
        if (uri === undefined || timestamp === undefined)
          throw new UsageError(
            'backups show needs a location and a backup: bqbr backups show gs://bucket/path 20240601_083000',
          );
        if (more.length > 0)
          throw new UsageError(`backups show takes two arguments, not also ${more.join(' ')}`);
        return showBackup(storageFromEnv(), out, uri, timestamp, { ...projectId, json });
      }
      const uri = single('a location: bqbr backups gs://bucket/path (or s3://, https://, a directory)');
      if (values.reconcile)
        return reconcile(api, out, lifecycleWhere(uri, '--reconcile'), { json, intervalMs });
      return backups(storageFromEnv(), out, uri, { ...projectId, json });
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** The CLI package's version, from its package.json (dist/../package.json). */
async function cliVersion(): Promise<string> {
  const text = await readFile(new URL('../package.json', import.meta.url), 'utf8');
  return decode(t.type({ version: t.string }), JSON.parse(text), "the CLI's package.json").version;
}

runCommandLine(main, { help: 'bqbr --help' });
