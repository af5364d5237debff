// The dispatcher's HTTP API as the CLI sees it; every answer is decoded before use.
import { decode } from '@bqbr/shared';
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

/** An answer other than 2xx, with the dispatcher's message and the bad fields of a rejected request. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly issues: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export class ApiClient {
  constructor(private readonly baseUrl: string) {}

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
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        ...init,
        headers: { 'content-type': 'application/json', ...(init.headers ?? {}) },
      });
    } catch (err) {
      throw new ApiError(
        0,
        `cannot reach the dispatcher at ${this.baseUrl} (${err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err)}): is it running? (npm start, or --api URL / BQBR_API_URL)`,
      );
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new ApiError(
        res.status,
        `the dispatcher answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    if (!res.ok) {
      const parsed = ApiErrorBody.decode(body);
      if (parsed._tag === 'Right')
        throw new ApiError(res.status, parsed.right.error.message, parsed.right.error.issues);
      throw new ApiError(res.status, `the dispatcher answered ${res.status}: ${text.slice(0, 200)}`);
    }
    return decode(codec, body, `answer to ${path}`);
  }
}
