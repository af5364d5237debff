/** Errors in BigQuery's REST shape, so clients surface `code`, `message` and `errors[].reason`. */
export class BigQueryError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly location?: string,
  ) {
    super(message);
    this.name = 'BigQueryError';
  }

  /** The `ErrorProto` BigQuery puts in job statuses and insert errors. */
  toErrorProto(): ErrorProto {
    return {
      reason: this.reason,
      message: this.message,
      ...(this.location !== undefined ? { location: this.location } : {}),
    };
  }

  toJSON(): object {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: 'global', reason: this.reason }],
        status: STATUS_BY_CODE[this.status] ?? 'UNKNOWN',
      },
    };
  }
}

export interface ErrorProto {
  reason: string;
  message: string;
  location?: string;
  debugInfo?: string;
}

const STATUS_BY_CODE: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ALREADY_EXISTS',
  412: 'FAILED_PRECONDITION',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
};

/** Status codes BigQuery answers for each reason (https://cloud.google.com/bigquery/docs/error-messages). */
export const STATUS_BY_REASON: Record<string, number> = {
  invalid: 400,
  invalidQuery: 400,
  badRequest: 400,
  notFound: 404,
  duplicate: 409,
  accessDenied: 403,
  quotaExceeded: 403,
  rateLimitExceeded: 403,
  resourcesExceeded: 400,
  responseTooLarge: 403,
  stopped: 200,
  timeout: 400,
  backendError: 500,
  internalError: 500,
  jobBackendError: 400,
  jobInternalError: 400,
  notImplemented: 501,
};

export const errorFor = (reason: string, message: string, location?: string): BigQueryError =>
  new BigQueryError(STATUS_BY_REASON[reason] ?? 400, reason, message, location);

export const notFound = (message: string): BigQueryError => errorFor('notFound', message);
export const duplicate = (message: string): BigQueryError => errorFor('duplicate', message);
export const invalid = (message: string, location?: string): BigQueryError =>
  errorFor('invalid', message, location);
export const invalidQuery = (message: string): BigQueryError => errorFor('invalidQuery', message);
export const backendError = (message: string): BigQueryError => errorFor('backendError', message);
export const preconditionFailed = (): BigQueryError =>
  new BigQueryError(412, 'conditionNotMet', 'Precondition check failed.');
