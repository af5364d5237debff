// Intake: a request message (pull, push or Eventarc) becomes an operation. A bad request is recorded
// as a FAILED operation and acked, never retried; a good backup request is planned and fanned out.
import {
  OperationId,
  ValidationError,
  backupDestination,
  classifyError,
  decodeRequest,
  type DecodedRequest,
  type ErrorInfo,
  type Logger,
  type ReceivedMessage,
  type StateStore,
} from '@bqbr/shared';
import type { Completion } from './completion.js';
import { recordDryRun } from './dry-run.js';
import { newOperationDoc } from './operation-doc.js';
import { startBackup, type FanOutDeps } from './fan-out.js';
import { parseJson, type MessageHandler } from './handler.js';
import { resolveSnapshot } from './planner.js';
import { stagingProblem } from './staging.js';
import { restoreFailure, startRestore, type BackupSource, type TargetDatasets } from './restore.js';

export interface IntakeDeps extends FanOutDeps {
  readonly backups: BackupSource;
  readonly datasets: TargetDatasets;
  readonly completion: Pick<Completion, 'check'>;
  readonly maxSnapshotAgeMs: number;
}

/** What an incoming request message says, before anything is decided. */
export interface RequestEnvelope {
  /** The operation it starts or continues: attribute or body `operationId`, else the message id. */
  readonly operationId: string;
  readonly kind: 'backup' | 'restore';
  readonly projectId: string;
  readonly body: unknown;
  readonly decoded?: DecodedRequest;
  readonly error?: ValidationError;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a request message: JSON, kind, operation id and the decoded request (or why it is invalid). */
export function readRequest(
  message: Pick<ReceivedMessage, 'data' | 'attributes' | 'messageId'>,
): RequestEnvelope {
  const parsed = parseJson(message.data);
  const body = parsed.ok ? parsed.value : undefined;
  const fields = isRecord(body) ? body : {};
  const attributeId = message.attributes.operationId;
  const bodyId = typeof fields.operationId === 'string' ? fields.operationId : undefined;
  const candidate = attributeId ?? bodyId;
  const operationId = candidate !== undefined && isValidId(candidate) ? candidate : message.messageId;
  const kindHint = message.attributes.kind ?? fields.kind;
  const kind =
    kindHint === 'restore' || (kindHint === undefined && fields.restoreStorage !== undefined)
      ? 'restore'
      : 'backup';
  const bigQuery = isRecord(fields.bigQuery) ? fields.bigQuery : {};
  const projectId = typeof bigQuery.projectId === 'string' ? bigQuery.projectId : '';
  const base = { operationId, kind, projectId, body } as const;
  if (!parsed.ok) {
    return {
      ...base,
      error: new ValidationError('request', [{ path: '', message: `not JSON: ${parsed.error}` }]),
    };
  }
  if (attributeId !== undefined && !isValidId(attributeId)) {
    return {
      ...base,
      error: new ValidationError('request', [
        {
          path: 'attributes.operationId',
          message: 'expected an operation id (1-128 letters, digits, _, . or -)',
        },
      ]),
    };
  }
  try {
    return { ...base, decoded: decodeRequest(body, message.attributes) };
  } catch (err) {
    if (err instanceof ValidationError) return { ...base, error: err };
    throw err;
  }
}

function isValidId(id: string): boolean {
  return OperationId.decode(id)._tag === 'Right';
}

const errorInfo = (err: unknown): ErrorInfo => {
  if (err instanceof ValidationError) return { reason: 'invalid', message: err.message, issues: err.issues };
  const { reason, message } = classifyError(err);
  return { reason, message };
};

/**
 * Records an operation that ends before it starts (an invalid request, a backup that cannot be found). An operation
 * already recorded under this id is left as it is; still PLANNING, it fails with this error.
 */
export async function recordFailed(
  envelope: Pick<RequestEnvelope, 'operationId' | 'kind' | 'projectId' | 'body'> & {
    readonly requestMessageId?: string;
  },
  error: ErrorInfo,
  deps: {
    readonly store: StateStore;
    readonly completion: Pick<Completion, 'check'>;
    readonly now?: () => Date;
  },
): Promise<void> {
  const now = (deps.now ?? (() => new Date()))();
  const at = now.toISOString();
  const doc = newOperationDoc(
    {
      operationId: envelope.operationId,
      kind: envelope.kind,
      projectId: envelope.projectId,
      request: envelope.body,
      ...(envelope.requestMessageId !== undefined ? { requestMessageId: envelope.requestMessageId } : {}),
    },
    now,
    { status: 'FAILED', error, notified: false, finishedAt: at },
  );
  const { created, operation } = await deps.store.createOperation(doc);
  if (!created && operation.status === 'PLANNING') {
    await deps.store.transitionOperation(envelope.operationId, ['PLANNING'], 'FAILED', {
      error,
      finishedAt: at,
      notified: false,
    });
  }
  // Announce the failure on bqbr-notifications like any finished operation.
  await deps.completion.check(envelope.operationId);
}

export function createRequestHandler(deps: IntakeDeps): MessageHandler {
  const now = deps.now ?? (() => new Date());
  return async (message, ctx) => {
    const envelope = readRequest(message);
    const logger: Logger = ctx.logger.child({ operationId: envelope.operationId, kind: envelope.kind });
    const record = { ...envelope, requestMessageId: message.messageId };
    if (envelope.error || !envelope.decoded) {
      const error = errorInfo(envelope.error);
      logger.warn('invalid request rejected', { error: error.message, issues: error.issues });
      await recordFailed(record, error, deps);
      return;
    }
    const decoded = envelope.decoded;
    if (decoded.kind === 'restore') {
      logger.info('restore request accepted', { projectId: decoded.request.bigQuery.projectId });
      try {
        await startRestore(
          {
            operationId: envelope.operationId,
            request: decoded.request,
            requestMessageId: message.messageId,
          },
          deps,
          logger,
        );
      } catch (err) {
        const error = restoreFailure(err);
        if (error === undefined) throw err;
        logger.error('restore failed while planning', { reason: error.reason, error: error.message });
        await recordFailed(record, error, deps);
      }
      return;
    }
    const request = decoded.request;
    const destination = backupDestination(request).spec;
    const error = stagingProblem('backup', destination.kind, deps.stagingUri);
    if (error !== undefined) {
      // BigQuery extracts only to Cloud Storage: the files need somewhere to land before they move on.
      logger.warn('backup refused', { error: error.message });
      await recordFailed(record, error, deps);
      return;
    }
    let snapshotMillis: number;
    const existing = await deps.store.getOperation(envelope.operationId);
    if (existing?.snapshotMillis !== undefined) {
      snapshotMillis = existing.snapshotMillis;
    } else {
      try {
        snapshotMillis = resolveSnapshot(request, now(), deps.maxSnapshotAgeMs);
      } catch (err) {
        const error = errorInfo(err);
        logger.warn('invalid request rejected', { error: error.message, issues: error.issues });
        await recordFailed(record, error, deps);
        return;
      }
    }
    if (request.dryRun === true) {
      const plan = await recordDryRun(
        { operationId: envelope.operationId, request, snapshotMillis, requestMessageId: message.messageId },
        deps,
      );
      logger.info('dry run planned', { tables: plan.tables, skipped: plan.skipped, bytes: plan.bytes });
      return;
    }
    logger.info('backup request accepted', { projectId: request.bigQuery.projectId, snapshotMillis });
    try {
      await startBackup(
        { operationId: envelope.operationId, request, snapshotMillis, requestMessageId: message.messageId },
        deps,
        logger,
      );
    } catch (err) {
      const failure = classifyError(err);
      if (failure.kind === 'retryable') throw err;
      logger.error('backup failed while planning', { reason: failure.reason, error: failure.message });
      await recordFailed(record, { reason: failure.reason, message: failure.message }, deps);
    }
  };
}
