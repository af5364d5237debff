// Operation state (docs/contracts.md, "Operation state"): the documents kept in Firestore, as io-ts codecs
// the store decodes every read with (the TypeScript types derived from them), and the store's contract.
import * as t from 'io-ts';
import { integerFrom, literalOf } from '../codecs.js';
import { BackupFileEntry, OperationSummary } from '../contracts/manifests.js';
import { TableRef, TaskSpec } from '../contracts/task.js';

export const OPERATION_STATUSES = ['PLANNING', 'RUNNING', 'SUCCEEDED', 'PARTIALLY_FAILED', 'FAILED'] as const;
export const OperationStatus = literalOf('OperationStatus', OPERATION_STATUSES);
export type OperationStatus = t.TypeOf<typeof OperationStatus>;
export const FINAL_OPERATION_STATUSES: readonly OperationStatus[] = [
  'SUCCEEDED',
  'PARTIALLY_FAILED',
  'FAILED',
];

export const TASK_STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
export const TaskStatus = literalOf('TaskStatus', TASK_STATUSES);
export type TaskStatus = t.TypeOf<typeof TaskStatus>;

const OperationKind = literalOf('OperationKind', ['backup', 'restore', 'prune', 'verify']);
/** Counters bqbr keeps itself (task totals, deliveries, job attempts). */
const Count = integerFrom(0);

export const ErrorInfo = t.readonly(
  t.intersection([
    t.type({ reason: t.string, message: t.string }),
    t.partial({
      /** Field paths and messages of a rejected request. */
      issues: t.readonlyArray(t.readonly(t.type({ path: t.string, message: t.string }))),
    }),
  ]),
  'ErrorInfo',
);
export type ErrorInfo = t.TypeOf<typeof ErrorInfo>;

/** What a dry run (or planning) found: counts and sizes, and the first tables. */
export const PlanSummary = t.readonly(
  t.intersection([
    t.type({
      tables: t.number,
      skipped: t.number,
      bytes: t.number,
      rows: t.number,
      /** Up to 1,000 entries, for the API's dry-run answer. */
      sample: t.readonlyArray(
        t.readonly(
          t.intersection([
            t.type({
              table: t.string,
              action: literalOf('PlanAction', ['EXPORT', 'RESTORE', 'SKIP', 'DELETE', 'KEEP', 'VERIFY']),
            }),
            t.partial({ note: t.string, bytes: t.number }),
          ]),
        ),
      ),
    }),
    t.partial({
      /** Exported tables whose size could not be read: when above 0, bytes and rows are lower bounds. */
      unsizedTables: t.number,
    }),
  ]),
  'PlanSummary',
);
export type PlanSummary = t.TypeOf<typeof PlanSummary>;

/** A document's fields in four parts: fixed at creation (readonly) or updated later, each required or optional. */
function stateDocument<F extends t.Props, FO extends t.Props, U extends t.Props, UO extends t.Props>(
  name: string,
  fields: {
    readonly fixed: F;
    readonly fixedOptional: FO;
    readonly updated: U;
    readonly updatedOptional: UO;
  },
) {
  return t.intersection(
    [
      t.readonly(t.type(fields.fixed)),
      t.readonly(t.partial(fields.fixedOptional)),
      t.type(fields.updated),
      t.partial(fields.updatedOptional),
    ],
    name,
  );
}

/** `operations/{operationId}` */
export const OperationDoc = stateDocument('OperationDoc', {
  fixed: {
    operationId: t.string,
    kind: OperationKind,
    projectId: t.string,
    /**
     * The decoded request, as JSON; a refused request's body as it came (anything, even null); for a body
     * that cannot be kept (too large, too deep, refused by Firestore) `{notStored, bytes}` instead.
     */
    request: t.unknown,
    dryRun: t.boolean,
    createdAt: t.string,
  },
  fixedOptional: {
    /** The Pub/Sub message (or HTTP request id) that carried the request. */
    requestMessageId: t.string,
    /** sha256 of the kind and the request as canonical JSON: the same id with another body is a conflict. */
    requestFingerprint: t.string,
  },
  updated: {
    status: OperationStatus,
    /** Tasks planned so far; the total once fanOutComplete. */
    taskTotal: Count,
    /** Set when every task document exists and every task message was published. */
    fanOutComplete: t.boolean,
    updatedAt: t.string,
  },
  updatedOptional: {
    snapshotMillis: t.number,
    snapshotTime: t.string,
    /** `gs://.../backups/<yyyyMMdd_HHmmss>_<operation hash>` (docs/contracts.md, "Storage layout") */
    location: t.string,
    plan: PlanSummary,
    summary: OperationSummary,
    error: ErrorInfo,
    /** Restores: the backup restored from (`gs://.../backups/<ts>/<project>`) and its layout. */
    backupFolder: t.string,
    backupLayout: literalOf('BackupLayout', ['bqbr', 'original']),
    /** Incremental-mode backups: the chain this one is part of (docs/contracts.md, "Incremental backups"). */
    incremental: t.intersection([
      t.type({
        /** Incrementals since the chain's full backup, this one included; 0 for the full backup itself. */
        chainLength: t.number,
        /** Folder names of the backups whose files this one may reference (the base and what it depends on). */
        dependsOn: t.array(t.string),
      }),
      t.partial({
        /** The base backup: its folder name, its project folder's path in the store, its snapshot. */
        base: t.string,
        baseFolderPath: t.string,
        baseSnapshotMillis: t.number,
      }),
    ]),
    /**
     * Restores with `restoreAccess`: the access entries (rewritten to the restored names) that finalization
     * gives each dataset the restore created, once its views exist.
     */
    datasetAccess: t.array(t.type({ datasetId: t.string, access: t.array(t.record(t.string, t.unknown)) })),
    /** Restores: the phase-2 tasks (views) were published. */
    phase2Released: t.boolean,
    /** Things a user should know that did not fail the operation (e.g. schema detection on an original-layout backup). */
    warnings: t.array(t.string),
    /** The bqbr-notifications message was published (finalization's last step). */
    notified: t.boolean,
    startedAt: t.string,
    finishedAt: t.string,
  },
});
export type OperationDoc = t.TypeOf<typeof OperationDoc>;

/** `operations/{operationId}/tasks/{taskId}` */
export const TaskDoc = stateDocument('TaskDoc', {
  fixed: {
    operationId: t.string,
    taskId: t.string,
    table: TableRef,
    spec: TaskSpec,
    createdAt: t.string,
  },
  fixedOptional: {
    /** Restores: 1 tables, 2 views (published once every phase-1 task is terminal). Absent means 1. */
    phase: integerFrom(1),
  },
  updated: {
    status: TaskStatus,
    /** Deliveries of the task message seen by workers. */
    deliveries: Count,
    /** bqbr's own retry count for the table: bumped only when a BigQuery job failed (part of the job id). */
    jobAttempt: Count,
    jobIds: t.array(t.string),
    updatedAt: t.string,
  },
  updatedOptional: {
    rows: t.number,
    bytes: t.number,
    fileCount: t.number,
    files: t.array(BackupFileEntry),
    manifestUri: t.string,
    /** MD5 (base64) of the `_table.json` the task wrote, for restores to check it. */
    manifestMd5: t.string,
    /** Restores: the task created its target table (so an existing target on redelivery is its own). */
    createdTarget: t.boolean,
    /** Restores: the target table existed before the task's first job (decided once, then kept). */
    targetExisted: t.boolean,
    /** Why a task was skipped (a view, a table created after the snapshot...). */
    note: t.string,
    error: ErrorInfo,
    startedAt: t.string,
    finishedAt: t.string,
  },
});
export type TaskDoc = t.TypeOf<typeof TaskDoc>;

/** The last verification of a backup, as its catalogue entry keeps it. */
export const BackupVerification = t.readonly(
  t.intersection([
    t.type({
      operationId: t.string,
      status: OperationStatus,
      verifiedAt: t.string,
      tables: t.number,
      /** Tables with a damaged, missing or unreadable file or manifest. */
      failedTables: t.number,
      filesRead: t.number,
      bytesRead: t.number,
    }),
    t.partial({
      subset: t.string,
      /** The verify also restored every table into a scratch dataset and compared its rows. */
      restoreDrill: t.boolean,
    }),
  ]),
  'BackupVerification',
);
export type BackupVerification = t.TypeOf<typeof BackupVerification>;

/** `backups/{operationId}`: the catalogue of backups. */
export const BackupCatalogEntry = t.readonly(
  t.intersection([
    t.type({
      backupId: t.string,
      operationId: t.string,
      projectId: t.string,
      snapshotMillis: t.number,
      snapshotTime: t.string,
      location: t.string,
      format: t.string,
      compression: t.string,
      status: OperationStatus,
      tables: t.number,
      failedTables: t.number,
      rows: t.number,
      bytes: t.number,
      files: t.number,
      createdAt: t.string,
    }),
    t.partial({
      /** `PRESENT` (absent means present), `DELETING` (a prune started on it), `DELETED` (its files are gone). */
      state: literalOf('BackupState', ['PRESENT', 'DELETING', 'DELETED']),
      /** The prune operation that deleted it, and when. */
      deletedBy: t.string,
      deletedAt: t.string,
      verification: BackupVerification,
      /** Write-once backups: no object of it can be deleted or overwritten before this instant (ISO). */
      retainUntil: t.string,
      /** Incremental backups: the backup folder names it reads unchanged data from. */
      dependsOn: t.array(t.string),
      updatedAt: t.string,
    }),
  ]),
  'BackupCatalogEntry',
);
export type BackupCatalogEntry = t.TypeOf<typeof BackupCatalogEntry>;

export type TaskCounts = Readonly<Record<TaskStatus, number>> & {
  readonly total: number;
  readonly terminal: number;
};

export interface ListOperationsQuery {
  readonly limit?: number;
  readonly status?: OperationStatus;
  readonly kind?: OperationDoc['kind'];
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
  getBackup(backupId: string): Promise<BackupCatalogEntry | undefined>;
  /** Merges `patch` into an existing entry; a missing entry is left missing (returns false). */
  updateBackup(backupId: string, patch: Partial<BackupCatalogEntry>): Promise<boolean>;
  listBackups(options?: {
    readonly projectId?: string;
    readonly limit?: number;
  }): Promise<BackupCatalogEntry[]>;
}
