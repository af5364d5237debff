// The operation engine: every operation, whatever its kind, is created or resumed, refused by its
// preflight, planned and fanned out, or only dry-run, the same way; completion finishes it.
import {
  PermanentError,
  StateDocumentError,
  classifyError,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type StateStore,
} from '@bqbr/shared';
import type { Publisher } from '../handler.js';
import { createCompletion, type Completion } from './completion.js';
import { boundedError, errorInfo } from './error-info.js';
import { fanOut } from './fan-out.js';
import { newOperationDoc, notStoredRequest, type NewOperation } from './operation-doc.js';
import type { KindName, KindRequests, OperationKinds } from './operation-kind.js';
import { conflicts, requestFingerprint } from './request-fingerprint.js';

/** A request naming an operation that exists for another request: HTTP answers 409. */
export class RequestConflict extends PermanentError {
  override readonly name = 'RequestConflict';

  constructor(existing: Pick<OperationDoc, 'operationId' | 'kind' | 'status'>) {
    super(
      'conflict',
      `operation ${existing.operationId} already exists (a ${existing.kind}, ${existing.status}) for another request: send this one with another operationId`,
    );
  }
}

/** Where a conflicting request is recorded over Pub/Sub: `:` is outside the operation id alphabet, so no request names it. */
export const conflictRecordId = (operationId: string, messageId: string): string =>
  `${operationId}:conflict:${messageId}`;

/** A decoded request of one of the kinds, and the operation it starts or continues. */
export type OperationStart<R extends KindRequests, K extends KindName = KindName> = {
  readonly [P in K]: {
    readonly operationId: string;
    readonly kind: P;
    readonly request: R[P];
    /** The Pub/Sub message that carried it; none from the HTTP API. */
    readonly requestMessageId?: string;
  };
}[K];

export interface OperationEngine<R extends KindRequests> {
  /**
   * Starts, resumes or (past planning) re-checks the operation a request names; a dry run only plans.
   * A refused request or a permanent planning failure fails the operation; anything else throws (retry).
   */
  start<K extends KindName>(start: OperationStart<R, K>, logger: Logger): Promise<void>;
  /** A dry run: the plan kept on a SUCCEEDED operation (the same again for the same id), or the FAILED one. */
  dryRun<K extends KindName>(start: OperationStart<R, K>, logger: Logger): Promise<OperationDoc>;
  /**
   * Records an operation that ends before it starts (its request refused, its planning failed for good):
   * one still PLANNING fails with `error`, one past it stays as it is.
   */
  fail(operation: NewOperation, error: ErrorInfo): Promise<OperationDoc>;
  /**
   * What start would refuse before it creates anything, without touching BigQuery or a store: an id
   * taken by another request (RequestConflict) or the kind's preflight refusal, thrown. The HTTP API
   * asks before it publishes, so a refusal is its answer rather than a FAILED operation later.
   */
  admit<K extends KindName>(start: OperationStart<R, K>): Promise<void>;
  readonly completion: Completion;
}

export interface OperationEngineDeps<R extends KindRequests> {
  readonly store: StateStore;
  readonly tasks: Publisher;
  readonly notifications: Publisher;
  readonly kinds: OperationKinds<R>;
  readonly batchSize: number;
  readonly debounceMs: number;
  /** For completion checks, which run without a request's logger. */
  readonly logger: Logger;
  readonly now?: () => Date;
}

export function createOperationEngine<R extends KindRequests>(
  deps: OperationEngineDeps<R>,
): OperationEngine<R> {
  const now = deps.now ?? (() => new Date());
  const { store, kinds } = deps;
  const completion = createCompletion({ ...deps, now });
  const fanOutDeps = { ...deps, completion, now };

  const opening = <K extends KindName>(start: OperationStart<R, K>): NewOperation => ({
    operationId: start.operationId,
    kind: start.kind,
    projectId: start.request.bigQuery.projectId,
    request: start.request,
    dryRun: start.request.dryRun === true,
    ...(start.requestMessageId !== undefined ? { requestMessageId: start.requestMessageId } : {}),
    requestFingerprint: requestFingerprint(start.kind, start.request),
  });

  async function fail(refused: NewOperation, failure: ErrorInfo): Promise<OperationDoc> {
    const at = now();
    const finishedAt = at.toISOString();
    const error = boundedError(failure);
    const doc = newOperationDoc(refused, at, {
      status: 'FAILED',
      error,
      notified: false,
      finishedAt,
    });
    const { created, operation } = await createRecord(doc);
    if (!created && conflicts(operation, refused))
      return conflict(refused, operation, deps.logger.child({ operationId: refused.operationId }));
    let recorded = operation;
    if (!created && operation.status === 'PLANNING') {
      const patch = { error, finishedAt, notified: false };
      if (await store.transitionOperation(refused.operationId, ['PLANNING'], 'FAILED', patch))
        recorded = { ...operation, ...patch, status: 'FAILED' };
    }
    // Announce the failure on bqbr-notifications like any finished operation.
    await completion.check(refused.operationId);
    return recorded;
  }

  /**
   * Creates a FAILED record. One the state store refuses for good (a Firestore INVALID_ARGUMENT: too
   * large, a reserved field name) is kept without its request, so the request fails once, not in a loop.
   */
  async function createRecord(doc: OperationDoc): Promise<{ created: boolean; operation: OperationDoc }> {
    try {
      return await store.createOperation(doc);
    } catch (err) {
      const refusal = classifyError(err);
      if (refusal.kind === 'retryable' || err instanceof StateDocumentError || doc.request === null)
        throw err;
      const bytes = Buffer.byteLength(JSON.stringify(doc.request) ?? '');
      deps.logger.warn('operation record refused by the state store; kept without its request', {
        operationId: doc.operationId,
        reason: refusal.reason,
        error: refusal.message,
        bytes,
      });
      return store.createOperation({
        ...doc,
        request: notStoredRequest(`refused by the state store: ${refusal.reason}`, bytes),
      });
    }
  }

  /**
   * A request naming an operation of another request: recorded as a FAILED operation of its own under
   * conflictRecordId (the first one untouched), or thrown as a RequestConflict when no message carried it.
   */
  async function conflict(
    incoming: NewOperation,
    existing: OperationDoc,
    logger: Logger,
  ): Promise<OperationDoc> {
    const error = new RequestConflict(existing);
    if (incoming.requestMessageId === undefined) throw error;
    const operationId = conflictRecordId(incoming.operationId, incoming.requestMessageId);
    logger.warn('request conflicts with an existing operation; recorded apart', {
      conflictRecord: operationId,
      existingStatus: existing.status,
    });
    return fail({ ...incoming, operationId }, { reason: error.reason, message: error.message });
  }

  /** A permanent failure fails the operation; anything else is thrown for the request to be retried. */
  async function failed(
    refused: NewOperation,
    err: unknown,
    logger: Logger,
    what: 'request refused' | 'refused by the state store' | 'failed while planning',
  ): Promise<OperationDoc> {
    if (classifyError(err).kind === 'retryable' || err instanceof StateDocumentError) throw err;
    const error = errorInfo(err);
    const fields = { reason: error.reason, error: error.message, issues: error.issues };
    if (what !== 'failed while planning') logger.warn(what, fields);
    else logger.error(what, fields);
    return fail(refused, error);
  }

  async function start<K extends KindName>(start: OperationStart<R, K>, logger: Logger): Promise<void> {
    if (start.request.dryRun === true) {
      await dryRun(start, logger);
      return;
    }
    const kind = kinds[start.kind];
    const opened = opening(start);
    const existing = await store.getOperation(start.operationId);
    if (existing !== undefined && conflicts(existing, opened)) {
      await conflict(opened, existing, logger);
      return;
    }
    if (existing !== undefined && existing.status !== 'PLANNING') {
      await seenAgain(existing, logger);
      return;
    }
    let fields: Partial<OperationDoc>;
    try {
      fields = kind.preflight(start.request, existing, now());
    } catch (err) {
      await failed(opened, err, logger, 'request refused');
      return;
    }
    let created: boolean;
    let operation: OperationDoc;
    try {
      ({ created, operation } = await store.createOperation(newOperationDoc(opened, now(), fields)));
    } catch (err) {
      await failed(opened, err, logger, 'refused by the state store');
      return;
    }
    // Another request with the same id may have created it between the read and the create.
    if (!created && conflicts(operation, opened)) {
      await conflict(opened, operation, logger);
      return;
    }
    if (operation.status !== 'PLANNING') {
      await seenAgain(operation, logger);
      return;
    }
    logger.info(created ? 'request accepted' : 'resuming the planning of an operation', {
      projectId: operation.projectId,
    });
    try {
      const plan = await kind.plan(start.request, operation, logger);
      if (plan.fields !== undefined) await store.updateOperation(operation.operationId, plan.fields);
      await fanOut(operation.operationId, !created, plan.tasks, fanOutDeps, logger);
    } catch (err) {
      await failed(opened, err, logger, 'failed while planning');
    }
  }

  async function admit<K extends KindName>(start: OperationStart<R, K>): Promise<void> {
    const existing = await store.getOperation(start.operationId);
    if (existing !== undefined && conflicts(existing, opening(start))) throw new RequestConflict(existing);
    // Past planning, the same request again is only a completion check: nothing left to refuse.
    if (existing !== undefined && existing.status !== 'PLANNING') return;
    const kind = kinds[start.kind];
    kind.preflight(start.request, existing, now());
    // A dry run plans at once anyway, and records what its planning refuses.
    if (start.request.dryRun !== true) await kind.admit?.(start.request);
  }

  /** An operation past planning: only a completion check, in case its last event was lost. */
  async function seenAgain(operation: OperationDoc, logger: Logger): Promise<void> {
    logger.info('request seen again; operation already past planning', { status: operation.status });
    await completion.check(operation.operationId);
  }

  async function dryRun<K extends KindName>(
    start: OperationStart<R, K>,
    logger: Logger,
  ): Promise<OperationDoc> {
    const kind = kinds[start.kind];
    const opened = opening(start);
    const existing = await store.getOperation(start.operationId);
    if (existing !== undefined && conflicts(existing, opened)) return conflict(opened, existing, logger);
    // Asked again, a dry run answers with what it found the first time.
    if (existing !== undefined && existing.status !== 'PLANNING') return existing;
    let operation: OperationDoc;
    try {
      operation = newOperationDoc(opened, now(), kind.preflight(start.request, existing, now()));
    } catch (err) {
      return failed(opened, err, logger, 'request refused');
    }
    try {
      const found = await kind.dryRun(start.request, operation, logger);
      const { operation: recorded } = await store.createOperation({
        ...operation,
        ...found.fields,
        status: 'SUCCEEDED',
        plan: found.plan,
        fanOutComplete: true,
        finishedAt: now().toISOString(),
      });
      const { tables, skipped, bytes } = found.plan;
      logger.info('dry run planned', { tables, skipped, bytes });
      return recorded;
    } catch (err) {
      return failed(opened, err, logger, 'failed while planning');
    }
  }

  return { start, dryRun, fail, admit, completion };
}
