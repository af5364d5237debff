// `npm start` (bqbr up): the local stack, the dispatcher and a worker, a demo dataset, and how to back
// it up. `npm run demo` (bqbr demo): the same on free ports, one full backup, verified, then exit.
import {
  DEFAULT_STACK_PORTS,
  formatEnv,
  freePort,
  startProcess,
  startStack,
  type ManagedProcess,
  type RunningStack,
} from '@bqbr/emulators';
import {
  BackupManifest,
  TableManifest,
  backupManifestUri,
  createClients,
  decode,
  parseGcsUri,
  tableFolder,
  tableManifestUri,
} from '@bqbr/shared';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiClient } from '../api-client.js';
import { consoleOutput, status } from '../commands.js';
import { seedDemoData, type DemoTable } from './demo-data.js';

const PROJECT_ID = 'bqbr-local';
const BUCKET = 'bqbr-local-backups';
const DISPATCHER_PORT = 8080;
const WORKER_PORT = 8081;

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
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
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(
    `${service.name} did not answer ${url} within ${timeoutMs / 1000} s:\n${service.recentOutput()}`,
  );
}

async function start(mode: RunLocalOptions['mode']): Promise<Running> {
  const demo = mode === 'demo';
  const stateDir = demo ? await mkdtemp(join(tmpdir(), 'bqbr-demo-')) : resolve(repoRoot, '.stack');
  await mkdir(stateDir, { recursive: true });
  const stack = await startStack({
    projectId: PROJECT_ID,
    // The demo runs beside anything else on free ports; `npm start` uses DESIGN.md's addresses.
    ports: demo ? { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 } : { ...DEFAULT_STACK_PORTS },
    dataDir: join(stateDir, 'data'),
    logDir: join(stateDir, 'logs'),
    log: (line) => log(line),
  });
  const services: ManagedProcess[] = [];
  try {
    if (!demo) await writeFile(join(stateDir, 'env'), formatEnv(stack.env));
    const clients = createClients({ ...process.env, ...stack.env }, PROJECT_ID);
    const [bucketExists] = await clients.storage.bucket(BUCKET).exists();
    if (!bucketExists) await clients.storage.createBucket(BUCKET);
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
      ...stack.env,
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
    const request = {
      bigQuery: { projectId: PROJECT_ID },
      backupStorage: {
        gcsOptions: { uri: `gs://${BUCKET}`, exportOptions: { format: 'AVRO', overwrite: true } },
      },
    };
    await writeFile(join(stateDir, 'demo-backup.json'), `${JSON.stringify(request, null, 2)}\n`);
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
  const request = join(running.stateDir, 'demo-backup.json');
  console.log(`
Everything is up. In another shell, load the settings:   set -a; . ${join(running.stateDir, 'env')}; set +a
Then back up the demo project (gs://${BUCKET}) in any of these ways:

  gcloud pubsub topics publish bqbr-requests --attribute=kind=backup --message="$(cat ${request})"
  curl -sS -X POST ${running.apiUrl}/api/v1/backup -H 'content-type: application/json' -d @${request}
  npm run bqbr -- backup ${request} --watch

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

/** One backup of the demo project through the API, then a check of everything it wrote. */
async function demo(running: Running): Promise<number> {
  const api = new ApiClient(running.apiUrl);
  const out = consoleOutput();
  const request = {
    bigQuery: { projectId: PROJECT_ID },
    backupStorage: {
      gcsOptions: { uri: `gs://${BUCKET}/demo`, exportOptions: { format: 'AVRO', overwrite: true } },
    },
  };
  const accepted = await api.submit('backup', request);
  log(`backup ${accepted.operationId} accepted`);
  const code = await status(api, out, accepted.operationId, { watch: true, json: false, intervalMs: 500 });
  const problems = await verify(running, accepted.operationId);
  if (problems.length > 0 || code !== 0) {
    for (const p of problems) console.error(`bqbr: demo check failed: ${p}`);
    return 1;
  }
  log('demo verified: every table exported with its manifest, row counts and file sizes match');
  return 0;
}

async function verify(running: Running, operationId: string): Promise<string[]> {
  const problems: string[] = [];
  const clients = createClients({ ...process.env, ...running.stack.env }, PROJECT_ID);
  const view = await new ApiClient(running.apiUrl).operation(operationId);
  const { operation } = view;
  if (operation.status !== 'SUCCEEDED') problems.push(`operation ended ${operation.status}`);
  const snapshotMillis = operation.snapshotTime ? Date.parse(operation.snapshotTime) : NaN;
  if (Number.isNaN(snapshotMillis)) return [...problems, 'the operation has no snapshot time'];
  const readJson = async (uri: string): Promise<unknown> => {
    const { bucket, name } = parseGcsUri(uri);
    const [bytes] = await clients.storage.bucket(bucket).file(name).download();
    return JSON.parse(bytes.toString('utf8')) as unknown;
  };
  const uri = `gs://${BUCKET}/demo`;
  try {
    const manifest = decode(
      BackupManifest,
      await readJson(backupManifestUri(uri, snapshotMillis, PROJECT_ID)),
      '_backup.json',
    );
    if (manifest.operationId !== operationId)
      problems.push(`_backup.json names operation ${manifest.operationId}`);
  } catch (err) {
    problems.push(`_backup.json: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const table of running.tables.filter((t) => t.type === 'TABLE')) {
    const folder = tableFolder(uri, snapshotMillis, PROJECT_ID, table.datasetId, table.tableId);
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
