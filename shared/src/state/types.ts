// Operation state (docs/contracts.md, "Operation state"): the shapes kept in Firestore and the store's contract.
import type { BackupFileEntry, OperationSummary } from '../contracts/manifests.js';
import type { TableRef, TaskSpec } from '../contracts/task.js';

export const OPERATION_STATUSES = ['PLANNING', 'RUNNING', 'SUCCEEDED', 'PARTIALLY_FAILED', 'FAILED'] as const;
export type OperationStatus = (typeof OPERATION_STATUSES)[number];
export const FINAL_OPERATION_STATUSES: readonly OperationStatus[] = [
  'SUCCEEDED',
  'PARTIALLY_FAILED',
  'FAILED',
];

export const TASK_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

export interface ErrorInfo {
  readonly reason: string;
  readonly message: string;
  /** Field paths and messages of a rejected request. */
  readonly issues?: readonly { readonly path: string; readonly message: string }[];
}

/** What a dry run (or planning) found: counts and sizes, and the first tables. */
export interface PlanSummary {
  readonly tables: number;
  readonly skipped: number;
  readonly bytes: number;
  readonly rows: number;
  /** Up to 1,000 entries, for the API's dry-run answer. */
  readonly sample: readonly {
    readonly table: string;
    readonly action: 'EXPORT' | 'RESTORE' | 'SKIP';
    readonly note?: string;
    readonly bytes?: number;
  }[];
}

/** `operations/{operationId}` */
export interface OperationDoc {
  readonly operationId: string;
  readonly kind: 'backup' | 'restore';
  status: OperationStatus;
  readonly projectId: string;
  /** The decoded request, as JSON. */
  readonly request: unknown;
  readonly dryRun: boolean;
  /** The Pub/Sub message (or HTTP request id) that carried the request. */
  readonly requestMessageId?: string;
  snapshotMillis?: number;
  snapshotTime?: string;
  /** `gs://.../backups/<yyyyMMdd_HHmmss>` */
  location?: string;
  /** Tasks planned so far; the total once fanOutComplete. */
  taskTotal: number;
  /** Set when every task document exists and every task message was published. */
  fanOutComplete: boolean;
  plan?: PlanSummary;
  summary?: OperationSummary;
  error?: ErrorInfo;
  /** Restores: the backup restored from (`gs://.../backups/<ts>/<project>`) and its layout. */
  backupFolder?: string;
  backupLayout?: 'bqbr' | 'original';
  /** Restores: the phase-2 tasks (views) were published. */
  phase2Released?: boolean;
  /** Things a user should know that did not fail the operation (e.g. schema detection on an original-layout backup). */
  warnings?: string[];
  /** The bqbr-notifications message was published (finalization's last step). */
  notified?: boolean;
  readonly createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** `operations/{operationId}/tasks/{taskId}` */
export interface TaskDoc {
  readonly operationId: string;
  readonly taskId: string;
  readonly table: TableRef;
  readonly spec: TaskSpec;
  status: TaskStatus;
  /** Restores: 1 tables, 2 views (published once every phase-1 task is terminal). Absent means 1. */
  readonly phase?: number;
  /** Deliveries of the task message seen by workers. */
  deliveries: number;
  /** bqbr's own retry count for the table: bumped only when a BigQuery job failed (part of the job id). */
  jobAttempt: number;
  jobIds: string[];
  rows?: number;
  bytes?: number;
  fileCount?: number;
  files?: BackupFileEntry[];
  manifestUri?: string;
  /** MD5 (base64) of the `_table.json` the task wrote, for restores to check it. */
  manifestMd5?: string;
  /** Restores: the task created its target table (so an existing target on redelivery is its own). */
  createdTarget?: boolean;
  /** Restores: the target table existed before the task's first job (decided once, then kept). */
  targetExisted?: boolean;
  /** Why a task was skipped (a view, a table created after the snapshot...). */
  note?: string;
  error?: ErrorInfo;
  readonly createdAt: string;
  updatedAt: string;
  startedAt?: string;
  finishedAt?: string;
}

/** `backups/{operationId}`: the catalogue of backups. */
export interface BackupCatalogEntry {
  readonly backupId: string;
  readonly operationId: string;
  readonly projectId: string;
  readonly snapshotMillis: number;
  readonly snapshotTime: string;
  readonly location: string;
  readonly format: string;
  readonly compression: string;
  readonly status: OperationStatus;
  readonly tables: number;
  readonly failedTables: number;
  readonly rows: number;
  readonly bytes: number;
  readonly files: number;
  readonly createdAt: string;
}

export type TaskCounts = Readonly<Record<TaskStatus, number>> & {
  readonly total: number;
  readonly terminal: number;
};

export interface ListOperationsQuery {
  readonly limit?: number;
  readonly status?: OperationStatus;
  readonly kind?: 'backup' | 'restore';
  readonly projectId?: string;
  /** ISO time: only operations created before it (paging, newest first). */
  readonly createdBefore?: string;
}

/** Every state read and write of both services goes through this; Firestore is the implementation. */
export interface StateStore {
  /** Creates the operation unless it exists; returns the stored one either way (a redelivered request continues it). */
  createOperation(
    doc: OperationDoc,
  ): Promise<{ readonly created: boolean; readonly operation: OperationDoc }>;
  getOperation(operationId: string): Promise<OperationDoc | undefined>;
  listOperations(query: ListOperationsQuery): Promise<OperationDoc[]>;
  updateOperation(operationId: string, patch: Partial<OperationDoc>): Promise<void>;
  /** Moves the operation to `to` only if its status is one of `from` (in a transaction); true if it moved. */
  transitionOperation(
    operationId: string,
    from: readonly OperationStatus[],
    to: OperationStatus,
    patch?: Partial<OperationDoc>,
  ): Promise<boolean>;

  /** Creates the tasks that do not exist yet (batched); returns how many were new. Existing tasks are left alone. */
  createTasks(operationId: string, tasks: readonly TaskDoc[]): Promise<number>;
  getTask(operationId: string, taskId: string): Promise<TaskDoc | undefined>;
  updateTask(operationId: string, taskId: string, patch: Partial<TaskDoc>): Promise<void>;
  /** Guarded task transition, as transitionOperation. */
  transitionTask(
    operationId: string,
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    patch?: Partial<TaskDoc>,
  ): Promise<boolean>;
  /** Counts by status with aggregation queries: no document is read or written per task. */
  countTasks(operationId: string): Promise<TaskCounts>;
  /** Whether any task (of `phase`, if given) is still PENDING or RUNNING: one indexed read, however many tasks there are. */
  hasUnfinishedTasks(operationId: string, phase?: number): Promise<boolean>;
  /** Sums of rows, bytes and files over SUCCEEDED tasks (aggregation queries). */
  sumTasks(
    operationId: string,
  ): Promise<{ readonly rows: number; readonly bytes: number; readonly files: number }>;
  /** Tasks in taskId order, a page at a time. */
  listTasks(
    operationId: string,
    options?: {
      readonly status?: TaskStatus;
      readonly phase?: number;
      readonly limit?: number;
      readonly startAfter?: string;
    },
  ): Promise<TaskDoc[]>;

  putBackup(entry: BackupCatalogEntry): Promise<void>;
  listBackups(options?: {
    readonly projectId?: string;
    readonly limit?: number;
  }): Promise<BackupCatalogEntry[]>;
}
