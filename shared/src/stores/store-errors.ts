// Every store failure leaves as a PermanentError or a RetryableError with a reason. The SDKs' own errors
// are not attached as causes: some carry the request that failed (headers, signed URLs), and a logger that
// prints causes must never see a credential.
import { classifyError, PermanentError, RetryableError, type ErrorKind } from '../errors.js';

export interface ErrorShape {
  readonly kind: ErrorKind;
  readonly reason: string;
}

export type StoreError = PermanentError | RetryableError;

export const permanent = (reason: string): ErrorShape => ({ kind: 'permanent', reason });
export const retryable = (reason: string): ErrorShape => ({ kind: 'retryable', reason });

/** The HTTP status an SDK error carries, if any (AWS `$metadata`, Azure `statusCode`, Google `code`). */
export function httpStatusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as Record<string, unknown>;
  const metadata = e.$metadata as Record<string, unknown> | undefined;
  const status = [metadata?.httpStatusCode, e.statusCode, e.status, e.code].find(
    (s): s is number => typeof s === 'number' && s >= 100 && s < 600,
  );
  return status;
}

/** The shape an HTTP status alone implies; undefined for statuses that say nothing about retrying. */
export function shapeOfStatus(status: number | undefined): ErrorShape | undefined {
  if (status === undefined) return undefined;
  if (status === 404) return permanent('notFound');
  if (status === 401) return permanent('unauthenticated');
  if (status === 403) return permanent('accessDenied');
  if (status === 408) return retryable('timeout');
  if (status === 429) return retryable('rateLimitExceeded');
  if (status >= 500) return retryable('backendError');
  return undefined;
}

/**
 * Wraps `err` for the caller: errors that are already classified pass through; others get the shape
 * `specific` finds (the SDK's own codes), else classifyError's.
 */
export function storeError(
  err: unknown,
  context: string,
  specific?: (err: unknown) => ErrorShape | undefined,
): StoreError {
  if (err instanceof PermanentError || err instanceof RetryableError) return err;
  const shape = specific?.(err) ?? classifyError(err);
  const message = `${context}: ${describe(err)}`;
  return shape.kind === 'permanent'
    ? new PermanentError(shape.reason, message)
    : new RetryableError(shape.reason, message);
}

/** The first line of the message, with the SDK's error name or code and the HTTP status. */
function describe(err: unknown): string {
  if (typeof err !== 'object' || err === null) return String(err);
  const e = err as Record<string, unknown>;
  // A GaxiosError's own message is only "Request failed with status code N"; the service's is in the body.
  const served = (e.response as { data?: { error?: { message?: unknown } } } | undefined)?.data?.error
    ?.message;
  const text = typeof served === 'string' ? served : e.message;
  const message = typeof text === 'string' ? (text.split('\n')[0] ?? '') : '';
  const code = typeof e.code === 'string' ? e.code : typeof e.name === 'string' ? e.name : undefined;
  const status = httpStatusOf(err);
  const tags = [code, status === undefined ? undefined : `HTTP ${status}`].filter(
    (t) => t !== undefined && t !== '' && !message.includes(t),
  );
  return [message || 'failed', ...(tags.length ? [`(${tags.join(', ')})`] : [])].join(' ');
}
