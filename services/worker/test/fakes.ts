// Small hand-written fakes of the backup step's dependencies, for unit tests of its decisions.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  PermanentError,
  createSilentLogger,
  taskIdFor,
  tableFolder,
  tablePath,
  type BackupFileEntry,
  type BackupStore,
  type BackupTaskSpec,
  type StateStore,
  type StoredEntry,
  type TableRef,
  type TaskDoc,
  type TaskEvent,
  type TaskMessage,
  type TaskStatus,
} from '@bqbr/shared';
import type { BackupStepDeps } from '../src/backup-step.js';
import type { TableReader } from '../src/table-reader.js';
import type { JobRunner, JobSnapshot } from '../src/job-runner.js';
import type { RestoreStepDeps } from '../src/restore-deps.js';
import type { TaskPublisher } from '../src/step-deps.js';
import type { TableMetadata } from '../src/table-manifest.js';
import type { TargetTables } from '../src/target-tables.js';

/** Only the task half of the store: the worker never touches operations. */
export class FakeTaskStore implements Pick<StateStore, 'getTask' | 'updateTask' | 'transitionTask'> {
  readonly tasks = new Map<string, TaskDoc>();

  put(task: TaskDoc): void {
    this.tasks.set(`${task.operationId}/${task.taskId}`, structuredClone(task));
  }
  task(operationId: string, taskId: string): TaskDoc {
    const task = this.tasks.get(`${operationId}/${taskId}`);
    if (!task) throw new Error(`no task ${taskId}`);
    return task;
  }
  getTask(operationId: string, taskId: string): Promise<TaskDoc | undefined> {
    const task = this.tasks.get(`${operationId}/${taskId}`);
    return Promise.resolve(task && structuredClone(task));
  }
  updateTask(operationId: string, taskId: string, patch: Partial<TaskDoc>): Promise<void> {
    Object.assign(this.task(operationId, taskId), structuredClone(patch));
    return Promise.resolve();
  }
  transitionTask(
    operationId: string,
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    patch: Partial<TaskDoc> = {},
  ): Promise<boolean> {
    const task = this.task(operationId, taskId);
    if (!from.includes(task.status)) return Promise.resolve(false);
    Object.assign(task, structuredClone(patch), { status: to });
    return Promise.resolve(true);
  }
}

export class FakeTables implements TableReader {
  readonly tables = new Map<string, TableMetadata>();
  rows = 0;
  set(ref: TableRef, metadata: TableMetadata): void {
    this.tables.set(`${ref.datasetId}.${ref.tableId}`, metadata);
  }
  get(ref: TableRef): Promise<TableMetadata | undefined> {
    return Promise.resolve(this.tables.get(`${ref.datasetId}.${ref.tableId}`));
  }
  rowsAt(): Promise<number> {
    return Promise.resolve(this.rows);
  }
  partitions(): Promise<{ id: string; rows: number; lastModifiedMillis: number }[]> {
    return Promise.resolve([]);
  }
}

/**
 * Jobs by id; `plan` says how each new job ends (DONE, failed, or still running for n polls). An extract
 * that ends well writes one file to its wildcard URI in `files` unless files are already there (a test
 * put them), and counts what is there, as BigQuery's statistics would, unless the plan gives counts.
 */
export class FakeJobs implements JobRunner {
  readonly created = new Map<string, { configuration: object; polls: number; done?: boolean }>();
  /** Per job id: an error to end with, polls before DONE (Infinity: never), what it does once DONE. */
  readonly plan = new Map<
    string,
    {
      error?: { reason: string; message: string };
      runningPolls?: number;
      effect?: () => void;
      fileCounts?: number[];
      /** A query job's result rows. */
      rows?: Record<string, unknown>[];
    }
  >();

  constructor(private readonly files?: FakeFiles) {}

  startOrFind(jobId: string, _location: string | undefined, configuration: object): Promise<JobSnapshot> {
    if (!this.created.has(jobId)) this.created.set(jobId, { configuration, polls: 0 });
    return this.get(jobId);
  }
  queryRows(jobId: string): Promise<readonly Record<string, unknown>[]> {
    return Promise.resolve(this.plan.get(jobId)?.rows ?? []);
  }
  get(jobId: string): Promise<JobSnapshot> {
    const job = this.created.get(jobId);
    if (!job) return Promise.reject(Object.assign(new Error('Not found: Job'), { code: 404 }));
    const plan = this.plan.get(jobId) ?? {};
    const running = job.polls++ < (plan.runningPolls ?? 0);
    if (running) return Promise.resolve({ jobId, state: 'RUNNING' });
    if (job.done !== true) plan.effect?.();
    job.done = true;
    if (plan.error) return Promise.resolve({ jobId, state: 'DONE', errorResult: plan.error });
    const uris = (job.configuration as { extract?: { destinationUris: string[] } }).extract?.destinationUris;
    if (uris === undefined || this.files === undefined) return Promise.resolve({ jobId, state: 'DONE' });
    const counts = plan.fileCounts ?? uris.map((uri) => this.files!.extract(uri));
    return Promise.resolve({ jobId, state: 'DONE', destinationUriFileCounts: counts });
  }
}

/** A restore's target tables, by `dataset.table`. */
export class FakeTargets implements TargetTables {
  readonly tables = new Map<string, { type: string; numRows: number }>();
  private key = (ref: TableRef): string => `${ref.datasetId}.${ref.tableId}`;
  set(ref: TableRef, table: { type: string; numRows: number }): void {
    this.tables.set(this.key(ref), table);
  }
  get(ref: TableRef): Promise<{ type: string; numRows: number } | undefined> {
    return Promise.resolve(this.tables.get(this.key(ref)));
  }
  create(ref: TableRef): Promise<boolean> {
    if (this.tables.has(this.key(ref))) return Promise.resolve(false);
    this.set(ref, { type: 'TABLE', numRows: 0 });
    return Promise.resolve(true);
  }
  patch(): Promise<void> {
    return Promise.resolve();
  }
  delete(ref: TableRef): Promise<void> {
    this.tables.delete(this.key(ref));
    return Promise.resolve();
  }
}

/**
 * Cloud Storage as the steps see it through their stores: the data files an extract wrote (`dataFiles`)
 * and the JSON objects written (`written`), both by gs:// URI. `store(uri)` is the store rooted there.
 */
export class FakeFiles {
  readonly written = new Map<string, unknown>();
  readonly dataFiles: BackupFileEntry[] = [];

  /** An extract to the wildcard `uri`: its first file unless files matching it are there; their count. */
  extract(uri: string): number {
    const [before, after] = uri.split('*') as [string, string];
    const matching = () =>
      this.dataFiles.filter((file) => file.uri.startsWith(before) && file.uri.endsWith(after)).length;
    if (matching() === 0) {
      const at = uri.replace('*', '000000000000');
      this.dataFiles.push({ name: at.slice(at.lastIndexOf('/') + 1), uri: at, bytes: 10 });
    }
    return matching();
  }

  store(root: string): BackupStore {
    const base = `${root.replace(/\/+$/, '')}/`;
    const uri = (path: string): string => `${base}${path}`;
    const objects = (): StoredEntry[] =>
      [
        ...this.dataFiles.map(({ uri: at, bytes, md5, crc32c }) => ({
          at,
          bytes,
          ...(md5 === undefined ? {} : { md5 }),
          ...(crc32c === undefined ? {} : { crc32c }),
        })),
        ...[...this.written].map(([at, value]) => ({ at, bytes: JSON.stringify(value).length })),
      ]
        .filter(({ at }) => at.startsWith(base))
        .map(({ at, ...entry }) => ({ path: at.slice(base.length), ...entry }))
        .sort((a, b) => a.path.localeCompare(b.path));
    return {
      kind: 'gcs',
      uri,
      put: async (path, body) => {
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(chunk as Buffer);
        const bytes = Buffer.concat(chunks);
        this.written.set(uri(path), JSON.parse(bytes.toString('utf8')));
        return { bytes: bytes.length, md5: createHash('md5').update(bytes).digest('base64') };
      },
      get: (path) => {
        const value = this.written.get(uri(path));
        if (value === undefined)
          return Promise.reject(new PermanentError('notFound', `${uri(path)} does not exist`));
        return Promise.resolve(Readable.from([Buffer.from(JSON.stringify(value))]));
      },
      stat: (path) => Promise.resolve(objects().find((entry) => entry.path === path)),
      list: (prefix) => Promise.resolve(objects().filter((entry) => entry.path.startsWith(prefix))),
      listFolders: () => Promise.reject(new Error('listing folders is not expected here')),
      delete: (path) => {
        this.written.delete(uri(path));
        const index = this.dataFiles.findIndex((file) => file.uri === uri(path));
        if (index >= 0) this.dataFiles.splice(index, 1);
        return Promise.resolve();
      },
      clearIncomplete: () => Promise.resolve(0),
    };
  }
}

export class FakePublisher implements TaskPublisher {
  readonly events: TaskEvent[] = [];
  readonly tasks: TaskMessage[] = [];
  publishEvent(event: TaskEvent): Promise<void> {
    this.events.push(event);
    return Promise.resolve();
  }
  publishTask(message: TaskMessage): Promise<void> {
    this.tasks.push(message);
    return Promise.resolve();
  }
}

export interface Fixture {
  readonly store: FakeTaskStore;
  readonly tables: FakeTables;
  readonly jobs: FakeJobs;
  readonly files: FakeFiles;
  readonly publisher: FakePublisher;
  readonly deps: BackupStepDeps & RestoreStepDeps;
  readonly ctx: { logger: ReturnType<typeof createSilentLogger>; signal: AbortSignal };
}

export function fixture(settings: Partial<BackupStepDeps['settings']> = {}): Fixture {
  const store = new FakeTaskStore();
  const tables = new FakeTables();
  const files = new FakeFiles();
  const jobs = new FakeJobs(files);
  const publisher = new FakePublisher();
  const deps: BackupStepDeps & RestoreStepDeps = {
    // Backup tests never restore: any call is a bug in the test.
    targets: new Proxy({} as TargetTables, {
      get: (_, name) => () => Promise.reject(new Error(`target tables ${String(name)} not expected here`)),
    }),
    // Backups here go to Cloud Storage (through `files`): a store outside it is a bug in the test.
    stores: (where) => {
      if (where.kind !== 'gcs') throw new Error(`store ${where.kind} not expected here`);
      return files.store(where.uri);
    },
    // The step only calls the task methods; the rest of the interface is not needed here.
    state: store as unknown as StateStore,
    tables,
    jobs,
    publisher,
    settings: { jobWaitMs: 1_000, jobPollMs: 1, maxJobAttempts: 5, ...settings },
    now: () => new Date('2026-11-20T12:00:00Z'),
  };
  return {
    store,
    tables,
    jobs,
    files,
    publisher,
    deps,
    ctx: { logger: createSilentLogger(), signal: new AbortController().signal },
  };
}

export const SNAPSHOT = Date.parse('2026-11-20T10:00:00Z');

export function taskFor(
  operationId: string,
  source: TableRef,
  spec: Partial<BackupTaskSpec> = {},
): { message: TaskMessage & { spec: BackupTaskSpec }; doc: TaskDoc & { spec: BackupTaskSpec } } {
  const taskId = taskIdFor(source);
  const home = 'gs://bucket/root';
  // A Cloud Storage home: the extract lands in the table folder itself.
  const folder = tableFolder(home, SNAPSHOT, source.projectId, source.datasetId, source.tableId);
  const fullSpec: BackupTaskSpec = {
    kind: 'backup',
    source,
    snapshotMillis: SNAPSHOT,
    home: { kind: 'gcs', uri: home },
    tablePath: tablePath(SNAPSHOT, source.projectId, source.datasetId, source.tableId),
    landingFolder: folder,
    tableFolder: folder,
    format: 'AVRO',
    compression: 'NONE',
    header: true,
    fieldDelimiter: ',',
    ...spec,
  };
  const message = { operationId, taskId, spec: fullSpec };
  return { message, doc: { ...pendingTask(message, source), spec: fullSpec } };
}

/** The PENDING task document a dispatcher leaves for `message`, whose table is `table`, created `now`. */
export function pendingTask(
  message: TaskMessage,
  table: TableRef,
  now = new Date(SNAPSHOT).toISOString(),
): TaskDoc {
  return {
    operationId: message.operationId,
    taskId: message.taskId,
    table,
    spec: message.spec,
    status: 'PENDING',
    deliveries: 0,
    jobAttempt: 0,
    jobIds: [],
    createdAt: now,
    updatedAt: now,
  };
}
