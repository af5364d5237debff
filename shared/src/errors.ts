// The two kinds of failure: a permanent error is recorded and acked, anything else is retried by the
// subscription's retry policy (bounded by its dead-letter policy).

export type ErrorKind = 'permanent' | 'retryable';

export interface ErrorClassification {
  readonly kind: ErrorKind;
  /** BigQuery-style reason (notFound, invalid, accessDenied, rateLimitExceeded, ...) or a network code. */
  readonly reason: string;
  readonly message: string;
}

/** A failure that retrying cannot fix: record it on the task and ack the message. */
export class PermanentError extends Error {
  override readonly name: string = 'PermanentError';

  constructor(
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** A failure worth retrying: nack and let the subscription's retry policy back off. */
export class RetryableError extends Error {
  override readonly name: string = 'RetryableError';

  constructor(
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// Reasons from BigQuery and Cloud Storage error bodies (`errors[].reason`) and gRPC ErrorInfo, keyed in
// a normalized spelling so `rateLimitExceeded` and `RATE_LIMIT_EXCEEDED` meet.
const RETRYABLE_REASONS = [
  'rateLimitExceeded',
  'userRateLimitExceeded',
  'jobRateLimitExceeded',
  'quotaExceeded',
  'backendError',
  'internalError',
  'jobBackendError',
  'jobInternalError',
  'tableUnavailable',
  'timeout',
];
const PERMANENT_REASONS = [
  'notFound',
  'invalid',
  'invalidQuery',
  'invalidUser',
  'required',
  'accessDenied',
  'forbidden',
  'insufficientPermissions',
  'authError',
  'billingNotEnabled',
  'billingTierLimitExceeded',
  'blocked',
  'policyViolation',
  'duplicate',
  'conflict',
  'conditionNotMet',
  'notImplemented',
  'resourceExceeded',
  'responseTooLarge',
];
const normalizeReason = (reason: string): string => reason.replace(/_/g, '').toLowerCase();
const reasonKinds = new Map<string, ErrorKind>([
  ...RETRYABLE_REASONS.map((r) => [normalizeReason(r), 'retryable'] as const),
  ...PERMANENT_REASONS.map((r) => [normalizeReason(r), 'permanent'] as const),
]);

// gRPC status codes as google-gax and @grpc/grpc-js report them in `err.code`.
const GRPC_CODES: Record<number, { kind: ErrorKind; reason: string }> = {
  1: { kind: 'retryable', reason: 'cancelled' },
  2: { kind: 'retryable', reason: 'unknown' },
  3: { kind: 'permanent', reason: 'invalid' },
  4: { kind: 'retryable', reason: 'timeout' },
  5: { kind: 'permanent', reason: 'notFound' },
  6: { kind: 'permanent', reason: 'duplicate' },
  7: { kind: 'permanent', reason: 'accessDenied' },
  8: { kind: 'retryable', reason: 'rateLimitExceeded' },
  9: { kind: 'permanent', reason: 'conditionNotMet' },
  10: { kind: 'retryable', reason: 'aborted' },
  11: { kind: 'permanent', reason: 'invalid' },
  12: { kind: 'permanent', reason: 'notImplemented' },
  13: { kind: 'retryable', reason: 'internalError' },
  14: { kind: 'retryable', reason: 'backendError' },
  15: { kind: 'permanent', reason: 'dataLoss' },
  16: { kind: 'permanent', reason: 'unauthenticated' },
};

const HTTP_STATUSES: Record<number, { kind: ErrorKind; reason: string }> = {
  400: { kind: 'permanent', reason: 'invalid' },
  401: { kind: 'permanent', reason: 'unauthenticated' },
  403: { kind: 'permanent', reason: 'accessDenied' },
  404: { kind: 'permanent', reason: 'notFound' },
  408: { kind: 'retryable', reason: 'timeout' },
  409: { kind: 'permanent', reason: 'duplicate' },
  412: { kind: 'permanent', reason: 'conditionNotMet' },
  429: { kind: 'retryable', reason: 'rateLimitExceeded' },
  500: { kind: 'retryable', reason: 'internalError' },
  501: { kind: 'permanent', reason: 'notImplemented' },
};

// Transport failures from Node's net/http/dns and undici (fetch): the request may never have arrived.
const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ESOCKETTIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

type Fields = Record<string, unknown>;
const isObject = (value: unknown): value is Fields => typeof value === 'object' && value !== null;
const fieldsOf = (value: unknown): Fields => (isObject(value) ? value : {});

/** Decides whether a failure is worth retrying, from any error the Google clients, Node or bqbr throw. */
export function classifyError(err: unknown): ErrorClassification {
  const message = messageOf(err);
  const found = classifyShape(err, 0);
  return found ? { ...found, message } : { kind: 'retryable', reason: 'unknown', message };
}

function classifyShape(err: unknown, depth: number): Omit<ErrorClassification, 'message'> | undefined {
  if (err instanceof PermanentError) return { kind: 'permanent', reason: err.reason };
  if (err instanceof RetryableError) return { kind: 'retryable', reason: err.reason };
  if (!isObject(err)) return undefined;
  const found = byReason(err) ?? byCode(err) ?? byHttpStatus(err);
  if (found) return found;
  // fetch() wraps the socket error: TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } }).
  return depth < 5 && err.cause !== undefined ? classifyShape(err.cause, depth + 1) : undefined;
}

// A retryable reason wins over a permanent one in the same body: retrying a permanent failure costs a
// few bounded attempts, acking a transient one loses the table.
function byReason(err: Fields): Omit<ErrorClassification, 'message'> | undefined {
  const reasons = reasonsOf(err);
  const retryable = reasons.find((r) => reasonKinds.get(normalizeReason(r)) === 'retryable');
  if (retryable) return { kind: 'retryable', reason: retryable };
  const permanent = reasons.find((r) => reasonKinds.get(normalizeReason(r)) === 'permanent');
  return permanent ? { kind: 'permanent', reason: permanent } : undefined;
}

function reasonsOf(err: Fields): string[] {
  // ApiError (@google-cloud/common, storage, bigquery) puts them in `errors`, GaxiosError in the
  // response body, GoogleError (google-gax) promotes ErrorInfo's reason to `reason`.
  const lists = [err.errors, fieldsOf(fieldsOf(fieldsOf(err.response).data).error).errors];
  const reasons = lists.flatMap((list) =>
    Array.isArray(list) ? list.map((e) => fieldsOf(e).reason).filter((r) => typeof r === 'string') : [],
  );
  return typeof err.reason === 'string' ? [err.reason, ...reasons] : reasons;
}

function byCode(err: Fields): Omit<ErrorClassification, 'message'> | undefined {
  const { code } = err;
  // gRPC codes are 0..16; HTTP statuses (which ApiError also puts in `code`) start at 100.
  if (typeof code === 'number' && code < 100) return GRPC_CODES[code];
  if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code))
    return { kind: 'retryable', reason: code };
  return undefined;
}

function byHttpStatus(err: Fields): Omit<ErrorClassification, 'message'> | undefined {
  const response = fieldsOf(err.response);
  const status = [err.code, err.status, err.statusCode, response.status, response.statusCode].find(
    (s): s is number => typeof s === 'number' && s >= 400 && s < 600,
  );
  if (status === undefined) return undefined;
  const known = HTTP_STATUSES[status];
  if (known) return known;
  return status >= 500
    ? { kind: 'retryable', reason: 'backendError' }
    : { kind: 'permanent', reason: 'invalid' };
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? err.cause.message : undefined;
    return cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message;
  }
  if (isObject(err) && typeof err.message === 'string') return err.message;
  return String(err);
}
