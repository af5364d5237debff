// Small hand-written fakes of the backup step's dependencies, for unit tests of its decisions.
import {
  createSilentLogger,
  taskIdFor,
  tableFolder,
  type BackupFileEntry,
  type BackupTaskSpec,
  type StateStore,
  type TableRef,
  type TaskDoc,
  type TaskEvent,
  type TaskMessage,
  type TaskStatus,
} from '@bqbr/shared';
import type { BackupStepDeps, TableReader, TaskPublisher } from '../src/backup-step.js';
import type { RestoreIO, RestoreStepDeps } from '../src/restore-step.js';
import type { JobRunner, JobSnapshot } from '../src/job-runner.js';
import type { BackupFiles, TableMetadata } from '../src/manifest-writer.js';

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
}

/** Jobs by id; `plan` says how each new job ends (DONE, failed, or still running for n polls). */
export class FakeJobs implements JobRunner {
  readonly created = new Map<string, { configuration: object; polls: number }>();
  /** Per job id: an error to end with, or polls before DONE (Infinity: never). */
  readonly plan = new Map<string, { error?: { reason: string; message: string }; runningPolls?: number }>();

  startOrFind(jobId: string, _location: string | undefined, configuration: object): Promise<JobSnapshot> {
    if (!this.created.has(jobId)) this.created.set(jobId, { configuration, polls: 0 });
    return this.get(jobId);
  }
  get(jobId: string): Promise<JobSnapshot> {
    const job = this.created.get(jobId);
    if (!job) return Promise.reject(Object.assign(new Error('Not found: Job'), { code: 404 }));
    const plan = this.plan.get(jobId) ?? {};
    const running = job.polls++ < (plan.runningPolls ?? 0);
    if (running) return Promise.resolve({ jobId, state: 'RUNNING' });
    return Promise.resolve({ jobId, state: 'DONE', ...(plan.error ? { errorResult: plan.error } : {}) });
  }
}

export class FakeFiles implements BackupFiles {
  readonly written = new Map<string, unknown>();
  readonly dataFiles: BackupFileEntry[] = [];
  listDataFiles(): Promise<BackupFileEntry[]> {
    return Promise.resolve([...this.dataFiles]);
  }
  writeJson(uri: string, value: unknown): Promise<string | undefined> {
    this.written.set(uri, structuredClone(value));
    return Promise.resolve(undefined);
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
  const jobs = new FakeJobs();
  const files = new FakeFiles();
  const publisher = new FakePublisher();
  const deps: BackupStepDeps & RestoreStepDeps = {
    // Backup tests never restore: any call is a bug in the test.
    restore: new Proxy({} as RestoreIO, {
      get: (_, name) => () => Promise.reject(new Error(`restore IO ${String(name)} not expected here`)),
    }),
    // Backups here go to Cloud Storage (through `files`): a store outside it is a bug in the test.
    stores: (where) => {
      throw new Error(`store ${where.kind} not expected here`);
    },
    // The step only calls the task methods; the rest of the interface is not needed here.
    state: store as unknown as StateStore,
    tables,
    jobs,
    files,
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
  const fullSpec: BackupTaskSpec = {
    kind: 'backup',
    source,
    snapshotMillis: SNAPSHOT,
    tableFolder: tableFolder(
      'gs://bucket/root',
      SNAPSHOT,
      source.projectId,
      source.datasetId,
      source.tableId,
    ),
    format: 'AVRO',
    compression: 'NONE',
    header: true,
    fieldDelimiter: ',',
    ...spec,
  };
  const now = new Date(SNAPSHOT).toISOString();
  return {
    message: { operationId, taskId, spec: fullSpec },
    doc: {
      operationId,
      taskId,
      table: source,
      spec: fullSpec,
      status: 'PENDING',
      deliveries: 0,
      jobAttempt: 0,
      jobIds: [],
      createdAt: now,
      updatedAt: now,
    },
  };
}
