// The StateStore on Firestore (docs/contracts.md, "Operation state"): `operations/{id}`, `operations/{id}/tasks/{taskId}`
// and `backups/{id}`. Status changes are guarded in transactions on the one document they change; the
// operation is never written per task (no hot document): progress is counted with aggregation queries.
// Every document read back is decoded with its codec (types.ts): Firestore is an edge like any other.
import {
  AggregateField,
  FieldPath,
  type CollectionReference,
  type DocumentSnapshot,
  type Firestore,
  type Query,
} from '@google-cloud/firestore';
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { decodeIssues, formatIssues, type ValidationIssue } from '../decode.js';
import {
  BackupCatalogEntry,
  OperationDoc,
  OperationStatus,
  TASK_STATUSES,
  TaskDoc,
  TaskStatus,
  type ListOperationsQuery,
  type StateStore,
  type TaskCounts,
} from './types.js';

// Tunables of the store, one place.
export const STATE_STORE_DEFAULTS = {
  listOperationsLimit: 50,
  listTasksLimit: 500,
  listBackupsLimit: 100,
  /** Upper bound on any page size a caller asks for. */
  maxPageSize: 1000,
  /** Attempts BulkWriter makes for a transiently failing task create. */
  maxWriteAttempts: 10,
} as const;

const ALREADY_EXISTS = 6;
const NOT_FOUND = 5;
// gRPC codes worth another write attempt: DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE.
const RETRYABLE_WRITE_CODES = new Set([4, 8, 10, 13, 14]);
const TERMINAL: readonly TaskStatus[] = ['SUCCEEDED', 'FAILED', 'SKIPPED'];

const codeOf = (err: unknown): unknown =>
  typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;

/** A stored document that does not decode: named by its path, each bad field by its own. */
export class StateDocumentError extends Error {
  override readonly name: string = 'StateDocumentError';
  // gRPC DATA_LOSS, not a PermanentError: classified permanent as a Firestore client error would be, yet
  // nacked (delivery.ts), so its message ends in the dead-letter handler instead of being dropped.
  readonly code = 15;

  constructor(
    readonly documentPath: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super(`corrupt state document ${documentPath}: ${formatIssues(issues)}`);
  }
}

/**
 * A document the Firestore client refuses before sending it (an empty field name, fields nested deeper
 * than 20 levels). The server refuses others (a reserved `__name__`, an array in an array, over 1 MiB)
 * with INVALID_ARGUMENT; this carries the same code, so both classify as permanent `invalid`.
 */
export class UnstorableDocumentError extends Error {
  override readonly name: string = 'UnstorableDocumentError';
  readonly code = 3;

  constructor(
    readonly documentPath: string,
    cause: unknown,
  ) {
    super(`Firestore cannot store ${documentPath}: ${(cause as Error).message}`, { cause });
  }
}

/** Runs a write whose data the client validates synchronously, turning its refusal into UnstorableDocumentError. */
function write<T>(documentPath: string, start: () => Promise<T>): Promise<T> {
  let pending: Promise<T>;
  try {
    pending = start();
  } catch (err) {
    return Promise.reject(new UnstorableDocumentError(documentPath, err));
  }
  return pending;
}

function decodeDocument<C extends t.Any>(codec: C, snapshot: DocumentSnapshot): t.TypeOf<C> {
  const result = decodeIssues(codec, snapshot.data());
  if (E.isRight(result)) return result.right;
  throw new StateDocumentError(snapshot.ref.path, result.left);
}

// Transactions read only the status they guard, so only it is decoded: a dead-lettered task whose
// document is corrupt elsewhere can still be failed.
const OperationStatusField = t.type({ status: OperationStatus });
const TaskStatusField = t.type({ status: TaskStatus });

export class FirestoreStateStore implements StateStore {
  constructor(private readonly firestore: Firestore) {}

  private operations(): CollectionReference {
    return this.firestore.collection('operations');
  }

  private tasks(operationId: string): CollectionReference {
    return this.operations().doc(operationId).collection('tasks');
  }

  private backups(): CollectionReference {
    return this.firestore.collection('backups');
  }

  async createOperation(doc: OperationDoc): Promise<{ created: boolean; operation: OperationDoc }> {
    const ref = this.operations().doc(doc.operationId);
    try {
      await write(ref.path, () => ref.create(firestoreData(doc)));
      return { created: true, operation: doc };
    } catch (err) {
      if (codeOf(err) !== ALREADY_EXISTS) throw err;
    }
    const existing = await this.getOperation(doc.operationId);
    // Only a delete between the two calls gets here; the operation is gone, not half-made.
    if (!existing) throw new Error(`operation ${doc.operationId} existed, then vanished`);
    return { created: false, operation: existing };
  }

  async getOperation(operationId: string): Promise<OperationDoc | undefined> {
    const snapshot = await this.operations().doc(operationId).get();
    return snapshot.exists ? decodeDocument(OperationDoc, snapshot) : undefined;
  }

  async listOperations(query: ListOperationsQuery): Promise<OperationDoc[]> {
    let q: Query = this.operations();
    if (query.status) q = q.where('status', '==', query.status);
    if (query.kind) q = q.where('kind', '==', query.kind);
    if (query.projectId) q = q.where('projectId', '==', query.projectId);
    if (query.createdBefore) q = q.where('createdAt', '<', query.createdBefore);
    q = q.orderBy('createdAt', 'desc').limit(pageSize(query.limit, STATE_STORE_DEFAULTS.listOperationsLimit));
    const snapshot = await q.get();
    return snapshot.docs.map((d) => decodeDocument(OperationDoc, d));
  }

  async updateOperation(operationId: string, patch: Partial<OperationDoc>): Promise<void> {
    const ref = this.operations().doc(operationId);
    await write(ref.path, () => ref.update(firestoreData({ ...patch, updatedAt: now() })));
  }

  async transitionOperation(
    operationId: string,
    from: readonly OperationStatus[],
    to: OperationStatus,
    patch: Partial<OperationDoc> = {},
  ): Promise<boolean> {
    const ref = this.operations().doc(operationId);
    return this.firestore.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists || !from.includes(decodeDocument(OperationStatusField, snapshot).status)) {
        return false;
      }
      tx.update(ref, firestoreData({ ...patch, status: to, updatedAt: now() }));
      return true;
    });
  }

  async createTasks(operationId: string, tasks: readonly TaskDoc[]): Promise<number> {
    if (tasks.length === 0) return 0;
    const collection = this.tasks(operationId);
    // BulkWriter sends independent writes in parallel batches; create() fails on an existing task, which
    // is what leaves it alone. The default ramp-up (500 writes/s) would make 10,000 tasks take 20 s.
    const writer = this.firestore.bulkWriter({ throttling: false });
    writer.onWriteError(
      // ALREADY_EXISTS is not among them: that task is left as it is.
      (err) =>
        RETRYABLE_WRITE_CODES.has(err.code) && err.failedAttempts < STATE_STORE_DEFAULTS.maxWriteAttempts,
    );
    let created = 0;
    let failure: Error | undefined;
    const writes = tasks.map((task) =>
      writer.create(collection.doc(task.taskId), firestoreData(task)).then(
        () => {
          created += 1;
        },
        (err: Error) => {
          if (codeOf(err) !== ALREADY_EXISTS) failure ??= err;
        },
      ),
    );
    await writer.close();
    await Promise.all(writes);
    if (failure !== undefined) throw failure;
    return created;
  }

  async getTask(operationId: string, taskId: string): Promise<TaskDoc | undefined> {
    const snapshot = await this.tasks(operationId).doc(taskId).get();
    return snapshot.exists ? decodeDocument(TaskDoc, snapshot) : undefined;
  }

  async updateTask(operationId: string, taskId: string, patch: Partial<TaskDoc>): Promise<void> {
    await this.tasks(operationId)
      .doc(taskId)
      .update(firestoreData({ ...patch, updatedAt: now() }));
  }

  async transitionTask(
    operationId: string,
    taskId: string,
    from: readonly TaskStatus[],
    to: TaskStatus,
    patch: Partial<TaskDoc> = {},
  ): Promise<boolean> {
    const ref = this.tasks(operationId).doc(taskId);
    return this.firestore.runTransaction(async (tx) => {
      const snapshot = await tx.get(ref);
      if (!snapshot.exists || !from.includes(decodeDocument(TaskStatusField, snapshot).status)) return false;
      tx.update(ref, firestoreData({ ...patch, status: to, updatedAt: now() }));
      return true;
    });
  }

  async countTasks(operationId: string): Promise<TaskCounts> {
    const collection = this.tasks(operationId);
    // One read-only transaction: every count sees the same instant, so a task moving between two
    // statuses is counted once.
    const counts = await this.firestore.runTransaction(
      (tx) =>
        Promise.all(
          TASK_STATUSES.map(async (status) => {
            const snapshot = await tx.get(collection.where('status', '==', status).count());
            return [status, snapshot.data().count] as const;
          }),
        ),
      { readOnly: true },
    );
    const byStatus = Object.fromEntries(counts) as Record<TaskStatus, number>;
    const total = counts.reduce((sum, [, n]) => sum + n, 0);
    const terminal = TERMINAL.reduce((sum, status) => sum + byStatus[status], 0);
    return { ...byStatus, total, terminal };
  }

  async hasUnfinishedTasks(operationId: string, phase?: number): Promise<boolean> {
    let q: Query = this.tasks(operationId).where('status', 'in', ['PENDING', 'RUNNING']);
    if (phase !== undefined) q = q.where('phase', '==', phase);
    const snapshot = await q.select().limit(1).get();
    return !snapshot.empty;
  }

  async sumTasks(operationId: string): Promise<{ rows: number; bytes: number; files: number }> {
    const snapshot = await this.tasks(operationId)
      .where('status', '==', 'SUCCEEDED')
      .aggregate({
        rows: AggregateField.sum('rows'),
        bytes: AggregateField.sum('bytes'),
        files: AggregateField.sum('fileCount'),
      })
      .get();
    const { rows, bytes, files } = snapshot.data();
    return { rows: rows ?? 0, bytes: bytes ?? 0, files: files ?? 0 };
  }

  async listTasks(
    operationId: string,
    options: {
      readonly status?: TaskStatus;
      readonly phase?: number;
      readonly limit?: number;
      readonly startAfter?: string;
    } = {},
  ): Promise<TaskDoc[]> {
    let q: Query = this.tasks(operationId);
    if (options.status) q = q.where('status', '==', options.status);
    if (options.phase !== undefined) q = q.where('phase', '==', options.phase);
    q = q.orderBy(FieldPath.documentId());
    if (options.startAfter !== undefined) q = q.startAfter(options.startAfter);
    q = q.limit(pageSize(options.limit, STATE_STORE_DEFAULTS.listTasksLimit));
    const snapshot = await q.get();
    return snapshot.docs.map((d) => decodeDocument(TaskDoc, d));
  }

  async putBackup(entry: BackupCatalogEntry): Promise<void> {
    await this.backups().doc(entry.backupId).set(firestoreData(entry));
  }

  async getBackup(backupId: string): Promise<BackupCatalogEntry | undefined> {
    const doc = await this.backups().doc(backupId).get();
    return doc.exists ? decodeDocument(BackupCatalogEntry, doc) : undefined;
  }

  async updateBackup(backupId: string, patch: Partial<BackupCatalogEntry>): Promise<boolean> {
    try {
      await this.backups()
        .doc(backupId)
        .update(firestoreData({ ...patch, updatedAt: now() }));
      return true;
    } catch (err) {
      if (codeOf(err) === NOT_FOUND) return false;
      throw err;
    }
  }

  async listBackups(
    options: { readonly projectId?: string; readonly limit?: number } = {},
  ): Promise<BackupCatalogEntry[]> {
    let q: Query = this.backups();
    if (options.projectId) q = q.where('projectId', '==', options.projectId);
    q = q
      .orderBy('snapshotMillis', 'desc')
      .limit(pageSize(options.limit, STATE_STORE_DEFAULTS.listBackupsLimit));
    const snapshot = await q.get();
    return snapshot.docs.map((d) => decodeDocument(BackupCatalogEntry, d));
  }
}

const now = (): string => new Date().toISOString();

function pageSize(limit: number | undefined, fallback: number): number {
  if (limit === undefined || !Number.isFinite(limit)) return fallback;
  return Math.min(Math.max(1, Math.floor(limit)), STATE_STORE_DEFAULTS.maxPageSize);
}

/**
 * The document without `undefined` (Firestore rejects it unless the client ignores it), in plain objects
 * and arrays. Anything else (FieldValue.increment/arrayUnion sentinels, Timestamps) passes through.
 */
export function firestoreData<T extends object>(value: T): Record<string, unknown> {
  return stripUndefined(value) as Record<string, unknown>;
}

function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.filter((v) => v !== undefined).map(stripUndefined);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) if (v !== undefined) out[key] = stripUndefined(v);
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
