// The HTTP API: submit a backup or restore, and read operations with live task counts.
import {
  OPERATION_STATUSES,
  PermanentError,
  ValidationError,
  decode,
  decodeRequest,
  type DecodedRequest,
  type RequestKind,
  type ListOperationsQuery,
  type Logger,
  type OperationDoc,
  type StateStore,
} from '@bqbr/shared';
import * as t from 'io-ts';
import { randomUUID } from 'node:crypto';
import { RequestConflict, type OperationEngine } from './engine/operation-engine.js';
import type { RequestsOf } from './engine/operation-kind.js';
import { jsonData, type Publisher } from './handler.js';
import { RequestTooLarge, tooLarge } from './request-limits.js';

export interface ApiResponse {
  readonly status: number;
  readonly body: unknown;
}

export interface OperationsApiDeps {
  readonly store: StateStore;
  /** Refusals are answered before publishing (admit), dry runs at once, on the engine's one path for them. */
  readonly engine: Pick<OperationEngine<RequestsOf<DecodedRequest>>, 'admit' | 'dryRun'>;
  readonly requests: Publisher;
  readonly logger: Logger;
}

export interface OperationsApi {
  submit(kind: RequestKind, body: unknown): Promise<ApiResponse>;
  getOperation(operationId: string): Promise<ApiResponse>;
  listOperations(query: URLSearchParams): Promise<ApiResponse>;
}

export const badRequest = (err: ValidationError): ApiResponse => ({
  status: 400,
  body: { error: { message: err.message, issues: err.issues } },
});

const notFound = (message: string): ApiResponse => ({ status: 404, body: { error: { message } } });

/**
 * What the dispatcher would refuse before touching BigQuery, answered at once: 409 for an id taken by
 * another request, 413 for a request over the size limit, 400 with the reason for the rest.
 */
function refusal(err: unknown): ApiResponse {
  if (err instanceof ValidationError) return badRequest(err);
  if (!(err instanceof PermanentError)) throw err;
  const status = err instanceof RequestConflict ? 409 : err instanceof RequestTooLarge ? 413 : 400;
  return { status, body: { error: { message: err.message, reason: err.reason } } };
}

const links = (operationId: string): { self: string } => ({
  self: `/api/v1/operations/${encodeURIComponent(operationId)}`,
});

/** A dry run's answer: its plan, or why it failed (400 for a bad field, as for any invalid request). */
function dryRunAnswer(operation: OperationDoc): ApiResponse {
  const { operationId, status, plan, error } = operation;
  if (plan !== undefined)
    return { status: 200, body: { operationId, status, dryRun: true, plan, links: links(operationId) } };
  if (error !== undefined)
    return {
      status: error.reason === 'invalid' ? 400 : 422,
      body: { operationId, status, dryRun: true, error, links: links(operationId) },
    };
  return {
    status: 409,
    body: { error: { message: `operation ${operationId} exists and is not a dry run (${status})` } },
  };
}

const LIST_LIMIT_MAX = 1000;

const ListQuery = t.partial({
  status: t.keyof(
    Object.fromEntries(OPERATION_STATUSES.map((s) => [s, null])) as Record<
      (typeof OPERATION_STATUSES)[number],
      null
    >,
  ),
  kind: t.keyof({ backup: null, restore: null, prune: null, verify: null }),
  projectId: t.string,
  limit: t.string,
  before: t.string,
});

export function createOperationsApi(deps: OperationsApiDeps): OperationsApi {
  return {
    async submit(kind, body) {
      let decoded;
      try {
        decoded = decodeRequest(body, { kind });
      } catch (err) {
        if (err instanceof ValidationError) return badRequest(err);
        throw err;
      }
      const operationId = decoded.request.operationId ?? randomUUID();
      const start = { ...decoded, operationId };
      // The request travels like any other, so every intake path plans it the same way.
      const data = jsonData({ ...decoded.request, operationId });
      try {
        const oversized = tooLarge(data);
        if (oversized) throw oversized;
        await deps.engine.admit(start);
        if (decoded.request.dryRun === true) {
          const logger = deps.logger.child({ operationId, kind });
          return dryRunAnswer(await deps.engine.dryRun(start, logger));
        }
      } catch (err) {
        return refusal(err);
      }
      await deps.requests.publish(data, { kind, operationId });
      return { status: 202, body: { operationId, status: 'ACCEPTED', links: links(operationId) } };
    },

    async getOperation(operationId) {
      const operation = await deps.store.getOperation(operationId);
      if (!operation) return notFound(`no operation ${operationId}`);
      const [tasks, totals] = await Promise.all([
        deps.store.countTasks(operationId),
        deps.store.sumTasks(operationId),
      ]);
      return { status: 200, body: { operation, tasks, totals, links: links(operationId) } };
    },

    async listOperations(params) {
      let query: t.TypeOf<typeof ListQuery>;
      try {
        query = decode(ListQuery, Object.fromEntries(params), 'query');
      } catch (err) {
        if (err instanceof ValidationError) return badRequest(err);
        throw err;
      }
      const limit = query.limit === undefined ? 50 : Number(query.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > LIST_LIMIT_MAX) {
        return badRequest(
          new ValidationError('query', [
            { path: 'limit', message: `expected an integer from 1 to ${LIST_LIMIT_MAX}` },
          ]),
        );
      }
      if (query.before !== undefined && Number.isNaN(Date.parse(query.before))) {
        return badRequest(
          new ValidationError('query', [{ path: 'before', message: 'expected an ISO time' }]),
        );
      }
      const filter: ListOperationsQuery = {
        limit,
        ...(query.status ? { status: query.status } : {}),
        ...(query.kind ? { kind: query.kind } : {}),
        ...(query.projectId ? { projectId: query.projectId } : {}),
        ...(query.before ? { createdBefore: query.before } : {}),
      };
      const operations = await deps.store.listOperations(filter);
      const last = operations[operations.length - 1];
      return {
        status: 200,
        body: {
          operations,
          ...(operations.length === limit && last ? { next: { before: last.createdAt } } : {}),
        },
      };
    },
  };
}
