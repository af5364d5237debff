// What the verify step's tests share: a table's backup written to a real store (data files and
// `_table.json` as the backup step leaves them), its verify task, and deps around a fake task store.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  Crc32c,
  crc32cToBase64,
  createSilentLogger,
  tablePath,
  taskIdFor,
  type BackupFileEntry,
  type BackupStore,
  type DestinationSpec,
  type StateStore,
  type TaskDoc,
  type TaskMessage,
  type VerifyTaskSpec,
} from '@bqbr/shared';
import type { JobRunner } from '../src/job-runner.js';
import { buildTableManifest } from '../src/table-manifest.js';
import type { TargetTables } from '../src/target-tables.js';
import type { VerifyStepDeps } from '../src/verify-step.js';
import { runVerifyStep } from '../src/verify-step.js';
import { FakePublisher, FakeTaskStore, SNAPSHOT, pendingTask, taskFor } from './fakes.js';

export const SOURCE = { projectId: 'src-project', datasetId: 'sales', tableId: 'orders' };
export const TABLE_PATH = tablePath(SNAPSHOT, SOURCE.projectId, SOURCE.datasetId, SOURCE.tableId);

export const md5 = (data: Buffer): string => createHash('md5').update(data).digest('base64');
const crc32c = (data: Buffer): string => crc32cToBase64(new Crc32c().update(data).digest());

/** `data-<n, 12 digits>.avro` */
export const dataFile = (n: number): string => `data-${String(n).padStart(12, '0')}.avro`;

export const put = (store: BackupStore, path: string, data: Buffer): Promise<unknown> =>
  store.put(path, Readable.from([data]));

/**
 * Writes `files` as the table's data files and its `_table.json` under `root` in `store`; returns the verify
 * task's spec for it (the manifest's MD5 as `_backup.json` records it).
 */
export async function writeTableBackup(
  store: BackupStore,
  home: DestinationSpec,
  files: readonly Buffer[],
  options: { readonly view?: boolean } = {},
): Promise<VerifyTaskSpec> {
  const entries: BackupFileEntry[] = [];
  for (const [n, data] of files.entries()) {
    const name = dataFile(n);
    await put(store, `${TABLE_PATH}/${name}`, data);
    entries.push({
      name,
      uri: store.uri(`${TABLE_PATH}/${name}`),
      bytes: data.length,
      md5: md5(data),
      crc32c: crc32c(data),
    });
  }
  const manifest = buildTableManifest({
    operationId: 'backup-op',
    spec: taskFor('backup-op', SOURCE).message.spec,
    table: options.view
      ? { type: 'VIEW', view: { query: 'SELECT 1' } }
      : { type: 'TABLE', schema: { fields: [{ name: 'n', type: 'INTEGER' }] } },
    numRows: files.length,
    files: entries,
    createdAt: new Date(SNAPSHOT),
  });
  const bytes = Buffer.from(JSON.stringify(manifest));
  const manifestPath = `${TABLE_PATH}/_table.json`;
  await put(store, manifestPath, bytes);
  return {
    kind: 'verify',
    home,
    source: SOURCE,
    manifestPath,
    manifestUri: store.uri(manifestPath),
    manifestMd5: md5(bytes),
  };
}

export interface VerifyFixture {
  readonly tasks: FakeTaskStore;
  readonly publisher: FakePublisher;
  readonly deps: VerifyStepDeps;
  /** Runs the task's deliveries (the first, then every continuation) until it is terminal; the task document. */
  verify(spec: VerifyTaskSpec): Promise<{ task: TaskDoc; deliveries: number }>;
}

export function verifyFixture(
  stores: (where: DestinationSpec) => BackupStore,
  settings: Partial<VerifyStepDeps['settings']> = {},
): VerifyFixture {
  const tasks = new FakeTaskStore();
  const publisher = new FakePublisher();
  const deps: VerifyStepDeps = {
    // The step only calls the task methods of the state store.
    state: tasks as unknown as StateStore,
    // A verify runs no BigQuery job: any call is a bug.
    jobs: new Proxy({} as JobRunner, {
      get: (_, name) => () => Promise.reject(new Error(`jobs.${String(name)} not expected here`)),
    }),
    publisher,
    settings: { jobWaitMs: 60_000, jobPollMs: 1, maxJobAttempts: 5, ...settings },
    stores,
    // Without a restore drill a verify touches no table either.
    targets: new Proxy({} as TargetTables, {
      get: (_, name) => () => Promise.reject(new Error(`targets.${String(name)} not expected here`)),
    }),
  };
  const ctx = { logger: createSilentLogger(), signal: new AbortController().signal };
  return {
    tasks,
    publisher,
    deps,
    async verify(spec) {
      const operationId = `verify-${Math.random().toString(36).slice(2)}`;
      let message: TaskMessage = { operationId, taskId: taskIdFor(SOURCE), spec };
      tasks.put(pendingTask(message, SOURCE));
      let deliveries = 0;
      for (;;) {
        deliveries++;
        const outcome = await runVerifyStep(message, deps, ctx);
        if (outcome.kind !== 'continued') break;
        message = publisher.tasks.at(-1)!;
      }
      return { task: tasks.task(operationId, message.taskId), deliveries };
    },
  };
}
