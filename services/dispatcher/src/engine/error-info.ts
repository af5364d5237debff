// What an operation that failed records of the error: a rejected request's bad fields with their paths,
// bounded so that the record always fits its operation document.
import { ValidationError, classifyError, type ErrorInfo } from '@bqbr/shared';

/** A request with thousands of bad fields still fails with one small record. */
const MAX_ISSUES = 100;
const MAX_MESSAGE_CHARS = 2_000;

export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof ValidationError)
    return boundedError({ reason: 'invalid', message: err.message, issues: err.issues });
  const { reason, message } = classifyError(err);
  return boundedError({ reason, message });
}

/** The error with its message and issues cut to a size any operation document holds. */
export function boundedError(error: ErrorInfo): ErrorInfo {
  const { issues } = error;
  const message =
    error.message.length > MAX_MESSAGE_CHARS
      ? `${error.message.slice(0, MAX_MESSAGE_CHARS)}... (${error.message.length} characters in all)`
      : error.message;
  return {
    ...error,
    message,
    ...(issues !== undefined && issues.length > MAX_ISSUES ? { issues: issues.slice(0, MAX_ISSUES) } : {}),
  };
}
