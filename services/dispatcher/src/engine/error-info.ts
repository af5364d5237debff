// What an operation that failed records of the error: a rejected request's bad fields with their paths.
import { ValidationError, classifyError, type ErrorInfo } from '@bqbr/shared';

export function errorInfo(err: unknown): ErrorInfo {
  if (err instanceof ValidationError) return { reason: 'invalid', message: err.message, issues: err.issues };
  const { reason, message } = classifyError(err);
  return { reason, message };
}
