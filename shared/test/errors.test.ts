import { expect } from 'chai';
import { classifyError, PermanentError, RetryableError } from '../src/index.js';

// Hand-built errors shaped like the Google clients' (ApiError from @google-cloud/common and storage,
// GaxiosError from gaxios, GoogleError from google-gax) and Node's.
function apiError(code: number, reasons: string[], message = 'api error'): Error {
  return Object.assign(new Error(message), {
    name: 'ApiError',
    code,
    errors: reasons.map((reason) => ({ reason, message, domain: 'global' })),
    response: { statusCode: code },
  });
}
function gaxiosError(status: number, reasons: string[] = []): Error {
  return Object.assign(new Error('gaxios error'), {
    name: 'GaxiosError',
    status,
    response: {
      status,
      data: { error: { code: status, message: 'x', errors: reasons.map((reason) => ({ reason })) } },
    },
    config: { headers: { Authorization: 'Bearer secret' } },
  });
}
function grpcError(code: number, reason?: string): Error {
  return Object.assign(new Error(`${code} grpc error`), {
    name: 'GoogleError',
    code,
    details: 'grpc error',
    ...(reason && { reason }),
  });
}
function systemError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:9050`), {
    code,
    errno: -111,
    syscall: 'connect',
  });
}

const table: [string, unknown, 'permanent' | 'retryable', string][] = [
  // bqbr's own
  ['PermanentError', new PermanentError('notFound', 'table gone'), 'permanent', 'notFound'],
  ['RetryableError', new RetryableError('jobRunning', 'later'), 'retryable', 'jobRunning'],
  // BigQuery / Cloud Storage reasons, which win over the HTTP status
  ['403 rateLimitExceeded', apiError(403, ['rateLimitExceeded']), 'retryable', 'rateLimitExceeded'],
  ['403 quotaExceeded', apiError(403, ['quotaExceeded']), 'retryable', 'quotaExceeded'],
  ['400 jobBackendError', apiError(400, ['jobBackendError']), 'retryable', 'jobBackendError'],
  ['500 backendError', apiError(500, ['backendError']), 'retryable', 'backendError'],
  ['500 internalError', apiError(500, ['internalError']), 'retryable', 'internalError'],
  ['404 notFound', apiError(404, ['notFound']), 'permanent', 'notFound'],
  ['400 invalid', apiError(400, ['invalid']), 'permanent', 'invalid'],
  ['400 invalidQuery', apiError(400, ['invalidQuery']), 'permanent', 'invalidQuery'],
  ['403 accessDenied', apiError(403, ['accessDenied']), 'permanent', 'accessDenied'],
  ['409 duplicate', apiError(409, ['duplicate']), 'permanent', 'duplicate'],
  ['412 conditionNotMet', apiError(412, ['conditionNotMet']), 'permanent', 'conditionNotMet'],
  [
    'job errors: invalid + backendError',
    apiError(400, ['invalid', 'backendError']),
    'retryable',
    'backendError',
  ],
  ['gaxios body reason', gaxiosError(403, ['userRateLimitExceeded']), 'retryable', 'userRateLimitExceeded'],
  ['gax ErrorInfo reason', grpcError(7, 'RATE_LIMIT_EXCEEDED'), 'retryable', 'RATE_LIMIT_EXCEEDED'],
  // HTTP status alone
  ['ApiError 503', apiError(503, []), 'retryable', 'backendError'],
  ['gaxios 429', gaxiosError(429), 'retryable', 'rateLimitExceeded'],
  ['gaxios 502', gaxiosError(502), 'retryable', 'backendError'],
  ['gaxios 408', gaxiosError(408), 'retryable', 'timeout'],
  ['gaxios 404', gaxiosError(404), 'permanent', 'notFound'],
  ['gaxios 401', gaxiosError(401), 'permanent', 'unauthenticated'],
  ['gaxios 422', gaxiosError(422), 'permanent', 'invalid'],
  ['response.status only', { message: 'x', response: { status: 500 } }, 'retryable', 'internalError'],
  // gRPC status codes
  ['UNAVAILABLE', grpcError(14), 'retryable', 'backendError'],
  ['DEADLINE_EXCEEDED', grpcError(4), 'retryable', 'timeout'],
  ['RESOURCE_EXHAUSTED', grpcError(8), 'retryable', 'rateLimitExceeded'],
  ['ABORTED', grpcError(10), 'retryable', 'aborted'],
  ['INTERNAL', grpcError(13), 'retryable', 'internalError'],
  ['NOT_FOUND', grpcError(5), 'permanent', 'notFound'],
  ['INVALID_ARGUMENT', grpcError(3), 'permanent', 'invalid'],
  ['PERMISSION_DENIED', grpcError(7), 'permanent', 'accessDenied'],
  ['ALREADY_EXISTS', grpcError(6), 'permanent', 'duplicate'],
  ['FAILED_PRECONDITION', grpcError(9), 'permanent', 'conditionNotMet'],
  ['UNAUTHENTICATED', grpcError(16), 'permanent', 'unauthenticated'],
  // Node and undici network errors
  ['ECONNRESET', systemError('ECONNRESET'), 'retryable', 'ECONNRESET'],
  ['ECONNREFUSED', systemError('ECONNREFUSED'), 'retryable', 'ECONNREFUSED'],
  ['ETIMEDOUT', systemError('ETIMEDOUT'), 'retryable', 'ETIMEDOUT'],
  ['EPIPE', systemError('EPIPE'), 'retryable', 'EPIPE'],
  [
    'fetch failed',
    new TypeError('fetch failed', { cause: systemError('ECONNREFUSED') }),
    'retryable',
    'ECONNREFUSED',
  ],
  // Unknown: bounded by the subscription's retry and dead-letter policy
  ['plain Error', new Error('surprise'), 'retryable', 'unknown'],
  ['a string', 'oops', 'retryable', 'unknown'],
  ['undefined', undefined, 'retryable', 'unknown'],
  ['unknown reason, no status', apiError(0, ['somethingNew']), 'retryable', 'unknown'],
];

describe('classifyError', () => {
  for (const [name, err, kind, reason] of table) {
    it(`${name} → ${kind} (${reason})`, () => {
      expect(classifyError(err)).to.deep.include({ kind, reason });
    });
  }

  it('keeps the message, with the cause a wrapper hides', () => {
    expect(classifyError(apiError(404, ['notFound'], 'Not found: Table p:d.t')).message).to.equal(
      'Not found: Table p:d.t',
    );
    expect(
      classifyError(new TypeError('fetch failed', { cause: systemError('ECONNREFUSED') })).message,
    ).to.equal('fetch failed: connect ECONNREFUSED 127.0.0.1:9050');
    expect(classifyError('oops').message).to.equal('oops');
  });
});
