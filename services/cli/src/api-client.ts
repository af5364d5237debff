// The dispatcher's HTTP API as the CLI sees it; every answer is decoded before use.
import { ValidationError, decode, formatIssues } from '@bqbr/shared';
import * as t from 'io-ts';

const Counts = t.type({
  PENDING: t.number,
  RUNNING: t.number,
  SUCCEEDED: t.number,
  FAILED: t.number,
  SKIPPED: t.number,
  total: t.number,
});

const ErrorInfo = t.intersection([
  t.type({ reason: t.string, message: t.string }),
  t.partial({ issues: t.array(t.type({ path: t.string, message: t.string })) }),
]);

const Operation = t.intersection([
  t.type({
    operationId: t.string,
    kind: t.string,
    status: t.string,
    projectId: t.string,
    taskTotal: t.number,
    fanOutComplete: t.boolean,
    createdAt: t.string,
  }),
  t.partial({
    dryRun: t.boolean,
    location: t.string,
    snapshotTime: t.string,
    startedAt: t.string,
    finishedAt: t.string,
    error: ErrorInfo,
    summary: t.record(t.string, t.number),
  }),
]);
export type OperationInfo = t.TypeOf<typeof Operation>;

const OperationViewCodec = t.type({
  operation: Operation,
  tasks: Counts,
  totals: t.type({ rows: t.number, bytes: t.number, files: t.number }),
});
export type OperationView = t.TypeOf<typeof OperationViewCodec>;

const OperationList = t.type({ operations: t.array(Operation) });

const Accepted = t.intersection([
  t.type({ operationId: t.string }),
  t.partial({ status: t.string, plan: t.unknown }),
]);
export type Accepted = t.TypeOf<typeof Accepted>;

const ApiErrorBody = t.type({
  error: t.intersection([
    t.type({ message: t.string }),
    t.partial({ issues: t.array(t.type({ path: t.string, message: t.string })) }),
  ]),
});

/**
 * The dispatcher unreachable, or an answer other than 2xx: the message says which dispatcher and what
 * to do; `issues` are the bad fields of a rejected request.
 */
export class ApiError extends Error {
  constructor(
    /** The dispatcher's HTTP status; 0 when no bqbr dispatcher answered (unreachable, or something else did). */
    readonly status: number,
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Where the dispatcher's address comes from, for every message that names it. */
const API_OPTION = '--api URL or BQBR_API_URL';

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  submit(kind: 'backup' | 'restore', body: unknown): Promise<Accepted> {
    return this.call(`/api/v1/${kind}`, Accepted, { method: 'POST', body: JSON.stringify(body) });
  }

  operation(operationId: string): Promise<OperationView> {
    return this.call(`/api/v1/operations/${encodeURIComponent(operationId)}`, OperationViewCodec);
  }

  async operations(filter: { status?: string; kind?: string; limit?: number }): Promise<OperationInfo[]> {
    const query = new URLSearchParams();
    if (filter.status) query.set('status', filter.status);
    if (filter.kind) query.set('kind', filter.kind);
    if (filter.limit) query.set('limit', String(filter.limit));
    const list = await this.call(`/api/v1/operations?${query.toString()}`, OperationList);
    return list.operations;
  }

  private async call<A>(
    path: string,
    codec: t.Type<A, unknown, unknown>,
    init: RequestInit = {},
  ): Promise<A> {
    const dispatcher = `the dispatcher at ${this.baseUrl}`;
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
      });
      text = await res.text();
    } catch (err) {
      throw new ApiError(
        0,
        `cannot reach ${dispatcher} (${unreachableReason(err)}): is it running? Start it (npm start) or give its address with ${API_OPTION}`,
      );
    }
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(
        0,
        `${this.baseUrl}${path} answered ${res.status} with a body that is not JSON ("${text.slice(0, 80)}"): is ${this.baseUrl} bqbr's dispatcher? (${API_OPTION})`,
      );
    }
    if (!res.ok) {
      const parsed = ApiErrorBody.decode(body);
      if (parsed._tag === 'Left')
        throw new ApiError(
          0,
          `${this.baseUrl}${path} answered ${res.status}: ${text.slice(0, 200)}: is ${this.baseUrl} bqbr's dispatcher? (${API_OPTION})`,
        );
      const { message, issues = [] } = parsed.right.error;
      throw issues.length > 0
        ? new ApiError(res.status, `${dispatcher} refused the request`, issues)
        : new ApiError(
            res.status,
            `${dispatcher} answered ${res.status}: ${message}${res.status >= 500 ? ' (its log says more)' : ''}`,
          );
    }
    try {
      return decode(codec, body, `answer to ${path}`);
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      throw new ApiError(
        res.status,
        `${dispatcher} answered ${path} with something this bqbr does not read (${formatIssues(err.issues)}): is it bqbr's dispatcher, of the same version? (${API_OPTION})`,
      );
    }
  }
}

/** A failed fetch's cause in words: `connection refused`, not `fetch failed`. */
function unreachableReason(err: unknown): string {
  const cause =
    err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const known: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'no such host',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'timed out',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
  };
  if (code && known[code]) return known[code];
  if (typeof cause?.message === 'string' && cause.message !== '') return cause.message;
  return err instanceof Error ? err.message : String(err);
}
