// The operation engine: every operation, whatever its kind, is created or resumed, refused by its
// preflight, planned and fanned out, or only dry-run, the same way; completion finishes it.
import { classifyError, type ErrorInfo, type Logger, type OperationDoc, type StateStore } from '@bqbr/shared';
import type { Publisher } from '../handler.js';
import { createCompletion, type Completion } from './completion.js';
import { errorInfo } from './error-info.js';
import { fanOut } from './fan-out.js';
import { newOperationDoc, type NewOperation } from './operation-doc.js';
import type { KindName, KindRequests, OperationKinds } from './operation-kind.js';

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
  });

  async function fail(refused: NewOperation, error: ErrorInfo): Promise<OperationDoc> {
    const at = now();
    const finishedAt = at.toISOString();
    const doc = newOperationDoc(refused, at, {
      status: 'FAILED',
      error,
      notified: false,
      finishedAt,
    });
    const { created, operation } = await store.createOperation(doc);
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

  /** A permanent failure fails the operation; anything else is thrown for the request to be retried. */
  async function failed(
    refused: NewOperation,
    err: unknown,
    logger: Logger,
    what: 'request refused' | 'failed while planning',
  ): Promise<OperationDoc> {
    if (classifyError(err).kind === 'retryable') throw err;
    const error = errorInfo(err);
    const fields = { reason: error.reason, error: error.message, issues: error.issues };
    if (what === 'request refused') logger.warn(what, fields);
    else logger.error(what, fields);
    return fail(refused, error);
  }

  async function start<K extends KindName>(start: OperationStart<R, K>, logger: Logger): Promise<void> {
    if (start.request.dryRun === true) {
      await dryRun(start, logger);
      return;
    }
    const kind = kinds[start.kind];
    const existing = await store.getOperation(start.operationId);
    if (existing !== undefined && existing.status !== 'PLANNING') {
      await seenAgain(existing, logger);
      return;
    }
    let fields: Partial<OperationDoc>;
    try {
      fields = kind.preflight(start.request, existing, now());
    } catch (err) {
      await failed(opening(start), err, logger, 'request refused');
      return;
    }
    const { created, operation } = await store.createOperation(
      newOperationDoc(opening(start), now(), fields),
    );
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
      await failed(opening(start), err, logger, 'failed while planning');
    }
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
    const existing = await store.getOperation(start.operationId);
    // Asked again, a dry run answers with what it found the first time.
    if (existing !== undefined && existing.status !== 'PLANNING') return existing;
    let operation: OperationDoc;
    try {
      operation = newOperationDoc(opening(start), now(), kind.preflight(start.request, existing, now()));
    } catch (err) {
      return failed(opening(start), err, logger, 'request refused');
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
      return failed(opening(start), err, logger, 'failed while planning');
    }
  }

  return { start, dryRun, fail, completion };
}
