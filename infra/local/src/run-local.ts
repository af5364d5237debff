// `npm start` (up): the local stack, the dispatcher and a worker, a demo dataset, and how to back it up
// and restore it. `npm run demo` (demo): the same on free ports, one full backup, verified, then its
// restore, verified against the source at the backup's instant, then exit.
import { ApiClient, consoleOutput, status } from '@bqbr/cli';
import {
  DEFAULT_STACK_PORTS,
  formatEnv,
  freePort,
  isPortInUse,
  startProcess,
  startStack,
  type ManagedProcess,
  type RunningStack,
} from '@bqbr/emulators';
import {
  BackupManifest,
  DEFAULT_TARGET_DATASET_PREFIX,
  TableManifest,
  backupFolderName,
  backupManifestUri,
  createClients,
  decode,
  parseGcsUri,
  tableFolder,
  tableManifestUri,
  type Clients,
} from '@bqbr/shared';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seedDemoData, type DemoTable } from './demo-data.js';
import { prepareLocalDestinations, writeDestinationRequests } from './destinations.js';
import { formatChecks, verifyRestore } from './verify-restore.js';

const PROJECT_ID = 'bqbr-local';
const BUCKET = 'bqbr-local-backups';
/** Where BigQuery's files wait on their way to or from S3, Azure or a directory (BQBR_STAGING_URI). */
const STAGING_BUCKET = 'bqbr-local-staging';
const DISPATCHER_PORT = 8080;
const WORKER_PORT = 8081;

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const serviceMain = (name: string): string => join(repoRoot, 'services', name, 'dist', 'main.js');

export interface RunLocalOptions {
  readonly mode: 'up' | 'demo';
}

interface Running {
  readonly stack: RunningStack;
  readonly services: ManagedProcess[];
  readonly apiUrl: string;
  readonly stateDir: string;
  readonly tables: DemoTable[];
}

const log = (line: string): void => console.log(`bqbr: ${line}`);

async function waitHealthy(url: string, service: ManagedProcess, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!service.isRunning())
      throw new Error(`${service.name} exited while starting:\n${service.recentOutput()}`);
    try {
      // Bounded: something that accepts connections but never answers must not hang the start-up.
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
    } catch {
      // not listening (or not answering) yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${service.name} did not answer ${url} within ${timeoutMs / 1000} s:\n${service.recentOutput()}`,
  );
}

async function start(mode: RunLocalOptions['mode']): Promise<Running> {
  const demo = mode === 'demo';
  // The services' fixed ports are checked before anything starts, not found taken after the whole stack is up.
  if (!demo)
    for (const [name, port] of [
      ['dispatcher', DISPATCHER_PORT],
      ['worker', WORKER_PORT],
    ] as const)
      if (await isPortInUse('127.0.0.1', port))
        throw new PortTaken(
          `${name}: 127.0.0.1:${port} is already in use (npm start still running?): stop that program, or use npm run demo, which runs on free ports`,
        );
  const stateDir = demo ? await mkdtemp(join(tmpdir(), 'bqbr-demo-')) : resolve(repoRoot, '.stack');
  try {
    return await startIn(stateDir, demo);
  } catch (err) {
    // A demo that could not start leaves no temporary folder behind; `npm start` keeps .stack's logs.
    if (demo) await rm(stateDir, { recursive: true, force: true });
    throw err;
  }
}

/** A fixed port of the local stack is taken: said in one line (main.ts). */
export class PortTaken extends Error {
  override readonly name = 'PortTaken';
}

async function startIn(stateDir: string, demo: boolean): Promise<Running> {
  await mkdir(stateDir, { recursive: true });
  const stack = await startStack({
    projectId: PROJECT_ID,
    // The demo runs beside anything else on free ports; `npm start` uses the default addresses (README.md, "Local stack").
    ports: demo ? { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 } : { ...DEFAULT_STACK_PORTS },
    // `npm start` also brings the stand-ins for S3 and Azure Blob Storage.
    s3: !demo,
    azure: !demo,
    dataDir: join(stateDir, 'data'),
    logDir: join(stateDir, 'logs'),
    log: (line) => log(line),
  });
  const services: ManagedProcess[] = [];
  try {
    const stackEnv = { ...stack.env, BQBR_STAGING_URI: `gs://${STAGING_BUCKET}/staging` };
    if (!demo) await writeFile(join(stateDir, 'env'), formatEnv(stackEnv));
    const clients = createClients({ ...process.env, ...stackEnv }, PROJECT_ID);
    for (const bucket of [BUCKET, STAGING_BUCKET]) {
      const [bucketExists] = await clients.storage.bucket(bucket).exists();
      if (!bucketExists) await clients.storage.createBucket(bucket);
    }
    await prepareLocalDestinations(stackEnv);
    const seeded = await seedDemoData(clients.bigquery);
    log(
      seeded.seeded
        ? `demo data created in project ${PROJECT_ID}: ${seeded.tables.length} tables in datasets sales and analytics`
        : `project ${PROJECT_ID} already has datasets: left as they are`,
    );

    const dispatcherPort = demo ? 0 : DISPATCHER_PORT;
    const workerPort = demo ? 0 : WORKER_PORT;
    const ports = {
      dispatcher: dispatcherPort === 0 ? await freePort('127.0.0.1') : dispatcherPort,
      worker: workerPort === 0 ? await freePort('127.0.0.1') : workerPort,
    };
    const env = {
      ...process.env,
      ...stackEnv,
      BQBR_INTAKE: 'pull',
      LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'info',
    };
    for (const [name, port] of [
      ['dispatcher', ports.dispatcher],
      ['worker', ports.worker],
    ] as const) {
      const service = startProcess({
        name,
        command: process.execPath,
        args: [serviceMain(name)],
        env: { ...env, PORT: String(port) },
        logFile: join(stateDir, 'logs', `${name}.log`),
      });
      services.push(service);
      await waitHealthy(`http://127.0.0.1:${port}/healthz`, service);
      log(`${name} ready on http://127.0.0.1:${port} (logs: ${join(stateDir, 'logs', `${name}.log`)})`);
    }
    const backupRequest = {
      bigQuery: { projectId: PROJECT_ID },
      backupStorage: {
        gcsOptions: { uri: `gs://${BUCKET}`, exportOptions: { format: 'AVRO', overwrite: true } },
      },
    };
    // Every dataset of the newest backup, into new datasets named restored_<dataset> in the same project.
    const restoreRequest = {
      bigQuery: { projectId: PROJECT_ID },
      restoreStorage: {
        gcsOptions: { uri: `gs://${BUCKET}`, backupTimestamp: 'latest', projectIdOfBackup: PROJECT_ID },
      },
    };
    await writeFile(join(stateDir, 'demo-backup.json'), `${JSON.stringify(backupRequest, null, 2)}\n`);
    await writeFile(join(stateDir, 'demo-restore.json'), `${JSON.stringify(restoreRequest, null, 2)}\n`);
    await writeDestinationRequests(stateDir, PROJECT_ID, stackEnv);
    return {
      stack,
      services,
      apiUrl: `http://127.0.0.1:${ports.dispatcher}`,
      stateDir,
      tables: seeded.tables,
    };
  } catch (err) {
    await Promise.all(services.map((s) => s.stop()));
    await stack.stop();
    throw err;
  }
}

async function stop(running: Running, removeState: boolean): Promise<void> {
  await Promise.all(running.services.map((s) => s.stop(10_000)));
  await running.stack.stop();
  if (removeState) await rm(running.stateDir, { recursive: true, force: true });
  else await rm(join(running.stateDir, 'env'), { force: true });
}

export async function runLocal(options: RunLocalOptions): Promise<number> {
  const running = await start(options.mode);
  if (options.mode === 'up') return up(running);
  try {
    return await demo(running);
  } finally {
    await stop(running, true);
  }
}

function up(running: Running): Promise<number> {
  const backup = join(running.stateDir, 'demo-backup.json');
  const restore = join(running.stateDir, 'demo-restore.json');
  const json = "-H 'content-type: application/json'";
  console.log(`
Everything is up. In another shell, load the settings:   set -a; . ${join(running.stateDir, 'env')}; set +a
Then back up the demo project ${PROJECT_ID} to gs://${BUCKET} in any of these ways:

  gcloud pubsub topics publish bqbr-requests --attribute=kind=backup --message="$(cat ${backup})"
  curl -sS -X POST ${running.apiUrl}/api/v1/backup ${json} -d @${backup}
  npm run bqbr -- backup ${backup} --watch

List the backups stored there:  npm run bqbr -- backups gs://${BUCKET}

Restore the newest one into new datasets ${DEFAULT_TARGET_DATASET_PREFIX}<dataset> of the same project. Existing tables are
left untouched: for a second restore set "targetDatasetPrefix" under bigQuery; "backupTimestamp"
(latest, or a TIMESTAMP that bqbr backups lists) picks the backup.

  gcloud pubsub topics publish bqbr-requests --attribute=kind=restore --message="$(cat ${restore})"
  curl -sS -X POST ${running.apiUrl}/api/v1/restore ${json} -d @${restore}
  npm run bqbr -- restore ${restore} --watch

Outside Google Cloud: the same through S3 (s3rver), Azure Blob Storage (Azurite) or a directory, with
${join(running.stateDir, 'demo-backup-{s3,azure,file}.json')} and the matching demo-restore-*.json
(restored into restored_<kind>_<dataset>), e.g.

  npm run bqbr -- backup ${join(running.stateDir, 'demo-backup-s3.json')} --watch
  npm run bqbr -- backups s3://bqbr-local-backups
  npm run bqbr -- restore ${join(running.stateDir, 'demo-restore-s3.json')} --watch

Follow operations with  npm run bqbr -- list  and  npm run bqbr -- status <operationId> --watch
(or curl ${running.apiUrl}/api/v1/operations). Ctrl-C stops everything.`);
  return new Promise((resolveExit) => {
    let signals = 0;
    const shutdown = (signal: NodeJS.Signals): void => {
      signals++;
      if (signals > 1) {
        for (const s of running.services) s.killNow();
        running.stack.killNow();
        resolveExit(130);
        return;
      }
      log(`${signal}: stopping (again to force)`);
      stop(running, false).then(
        () => resolveExit(0),
        (err: unknown) => {
          console.error(err);
          resolveExit(1);
        },
      );
    };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  });
}

/**
 * One backup of the demo project through the API and a check of everything it wrote; then a restore of
 * that backup into restored_<dataset> datasets, checked table by table against the source as it was at
 * the backup's instant.
 */
async function demo(running: Running): Promise<number> {
  const api = new ApiClient(running.apiUrl);
  const out = consoleOutput();
  const clients = createClients({ ...process.env, ...running.stack.env }, PROJECT_ID);
  const uri = `gs://${BUCKET}/demo`;
  const backupRequest = {
    bigQuery: { projectId: PROJECT_ID },
    backupStorage: { gcsOptions: { uri, exportOptions: { format: 'AVRO', overwrite: true } } },
  };
  const backup = await api.submit('backup', backupRequest);
  log(`backup ${backup.operationId} accepted`);
  const backupCode = await status(api, out, backup.operationId, {
    watch: true,
    json: false,
    intervalMs: 500,
  });
  const { operation } = await api.operation(backup.operationId);
  const snapshotMillis = operation.snapshotTime ? Date.parse(operation.snapshotTime) : NaN;
  const backupProblems = [
    ...(operation.status === 'SUCCEEDED' ? [] : [`the backup ended ${operation.status}`]),
    ...(Number.isNaN(snapshotMillis)
      ? ['the backup has no snapshot time']
      : await verifyBackup(clients, running.tables, uri, backup.operationId, snapshotMillis)),
  ];
  if (backupProblems.length > 0 || backupCode !== 0) {
    for (const p of backupProblems) console.error(`bqbr: demo check failed: ${p}`);
    return 1;
  }
  log('backup verified: every table exported with its manifest, row counts and file sizes match');

  // A row written after the backup's instant: the restore must not have it, and the check must not expect it.
  await clients.bigquery
    .dataset('analytics')
    .table('events')
    .insert([{ user_id: 99, event: 'after the backup' }]);
  log('added a row to analytics.events after the backup: the restore must not have it');

  const backupTimestamp = backupFolderName(new Date(snapshotMillis));
  const restoreRequest = {
    bigQuery: { projectId: PROJECT_ID },
    restoreStorage: { gcsOptions: { uri, backupTimestamp, projectIdOfBackup: PROJECT_ID } },
  };
  const restore = await api.submit('restore', restoreRequest);
  log(
    `restore ${restore.operationId} accepted: backup ${backupTimestamp} of ${PROJECT_ID} into datasets ${DEFAULT_TARGET_DATASET_PREFIX}<dataset>`,
  );
  const restoreCode = await status(api, out, restore.operationId, {
    watch: true,
    json: false,
    intervalMs: 500,
  });
  const checks = await verifyRestore(clients.bigquery, {
    projectId: PROJECT_ID,
    targetProjectId: PROJECT_ID,
    snapshotMillis,
    tables: running.tables,
    targetDataset: (datasetId) => `${DEFAULT_TARGET_DATASET_PREFIX}${datasetId}`,
  });
  log(
    `restore checked against the source at ${new Date(snapshotMillis).toISOString()} (views: as they are now):`,
  );
  for (const line of formatChecks(checks)) log(`  ${line}`);
  const differing = checks.filter((c) => c.problems.length > 0);
  if (differing.length > 0 || restoreCode !== 0) {
    if (restoreCode !== 0) console.error('bqbr: demo check failed: the restore did not succeed');
    for (const c of differing)
      for (const p of c.problems) console.error(`bqbr: demo check failed: ${c.target}: ${p}`);
    return 1;
  }
  log(
    `restore verified: ${checks.length} tables and views restored with the same schema, settings, row counts and content`,
  );
  return 0;
}

/**
 * The files of a backup: its `_backup.json`, and per table a manifest with the table's row count and
 * data files of the sizes it lists.
 */
async function verifyBackup(
  clients: Clients,
  tables: readonly DemoTable[],
  uri: string,
  operationId: string,
  snapshotMillis: number,
): Promise<string[]> {
  const problems: string[] = [];
  const readJson = async (object: string): Promise<unknown> => {
    const { bucket, name } = parseGcsUri(object);
    const [bytes] = await clients.storage.bucket(bucket).file(name).download();
    return JSON.parse(bytes.toString('utf8')) as unknown;
  };
  try {
    const manifest = decode(
      BackupManifest,
      await readJson(backupManifestUri(uri, snapshotMillis, PROJECT_ID, operationId)),
      '_backup.json',
    );
    if (manifest.operationId !== operationId)
      problems.push(`_backup.json names operation ${manifest.operationId}`);
  } catch (err) {
    problems.push(`_backup.json: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const table of tables.filter((t) => t.type === 'TABLE')) {
    const folder = tableFolder(uri, snapshotMillis, PROJECT_ID, table.datasetId, table.tableId, operationId);
    try {
      const manifest = decode(
        TableManifest,
        await readJson(tableManifestUri(folder)),
        `${table.tableId}/_table.json`,
      );
      if (manifest.numRows !== table.rows)
        problems.push(
          `${table.datasetId}.${table.tableId}: ${manifest.numRows} rows in the manifest, ${table.rows} in the table`,
        );
      for (const file of manifest.files) {
        const { bucket, name } = parseGcsUri(file.uri);
        const [metadata] = await clients.storage.bucket(bucket).file(name).getMetadata();
        if (Number(metadata.size) !== file.bytes)
          problems.push(`${file.uri}: ${String(metadata.size)} bytes stored, ${file.bytes} in the manifest`);
      }
      if (manifest.files.length === 0) problems.push(`${table.datasetId}.${table.tableId}: no data files`);
      log(
        `  ${table.datasetId}.${table.tableId}: ${manifest.numRows} rows in ${manifest.files.length} file(s), manifest ok`,
      );
    } catch (err) {
      problems.push(
        `${table.datasetId}.${table.tableId}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return problems;
}
