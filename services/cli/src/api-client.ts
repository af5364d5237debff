// The dispatcher's HTTP API as the CLI sees it; every answer is decoded before use.
import { ValidationError, decode, formatIssues, type RequestKind } from '@bqbr/shared';
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
    warnings: t.array(t.string),
    backupFolder: t.string,
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

/** Where the CLI's ID token comes from, for a refusal that says what to do. */
const TOKEN_OPTION = '--id-token or BQBR_ID_TOKEN';

export class ApiClient {
  constructor(
    readonly baseUrl: string,
    /** The `Authorization` value of each call (an ID token, docs/security.md); undefined sends none. */
    private readonly authorization: () => Promise<string | undefined> = () => Promise.resolve(undefined),
  ) {}

  submit(kind: RequestKind, body: unknown): Promise<Accepted> {
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
    const authorization = await this.authorization();
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers: {
          'content-type': 'application/json',
          ...(authorization ? { authorization } : {}),
          ...(init.headers ?? {}),
        },
      });
      text = await res.text();
    } catch (err) {
      throw new ApiError(
        0,
        `cannot reach ${dispatcher} (${unreachableReason(err)}): is it running? Start it (npm start) or give its address with ${API_OPTION}`,
      );
    }
    // Before the body is read as bqbr's: Cloud Run refuses with a page of its own.
    if (res.status === 401 || res.status === 403)
      throw refusal(res.status, dispatcher, text, !!authorization);
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

/** A 401 or 403 in one line that says what to do; the dispatcher's reason when it gave one. */
function refusal(status: 401 | 403, dispatcher: string, text: string, sentToken: boolean): ApiError {
  const parsed = ApiErrorBody.decode(safeJson(text));
  const reason = parsed._tag === 'Right' ? `: ${parsed.right.error.message}` : '';
  if (status === 401)
    return new ApiError(
      401,
      sentToken
        ? `${dispatcher} did not accept the ID token (401${reason}): sign in again (gcloud auth login), check the audience (--audience or BQBR_API_AUDIENCE), or give a token with ${TOKEN_OPTION}`
        : `${dispatcher} asks for an ID token (401${reason}): give one with ${TOKEN_OPTION}`,
    );
  return new ApiError(
    403,
    `${dispatcher} refused your account (403${reason}): ask its operator to grant you roles/run.invoker and list your email in BQBR_API_PRINCIPALS`,
  );
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
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
