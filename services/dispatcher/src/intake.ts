// Intake: a request message (pull, push or Eventarc) becomes an operation. A refused request (bad
// fields, too large, nested too deep, conflicting with another under the same id) is recorded once as
// a FAILED operation and acked, never retried; a good one goes to the engine, whatever its kind.
import type { DecodedRequest } from '@bqbr/shared';
import { errorInfo } from './engine/error-info.js';
import type { OperationEngine } from './engine/operation-engine.js';
import type { RequestsOf } from './engine/operation-kind.js';
import type { MessageHandler } from './handler.js';
import { readRequest } from './request-envelope.js';

export interface IntakeDeps {
  readonly engine: Pick<OperationEngine<RequestsOf<DecodedRequest>>, 'start' | 'fail'>;
}

export function createRequestHandler(deps: IntakeDeps): MessageHandler {
  return async (message, ctx) => {
    const envelope = readRequest(message);
    const logger = ctx.logger.child({ operationId: envelope.operationId, kind: envelope.kind });
    if (envelope.decoded === undefined) {
      const error = errorInfo(envelope.tooLarge ?? envelope.error);
      logger.warn('invalid request rejected', {
        reason: error.reason,
        error: error.message,
        issues: error.issues,
        bytes: message.data.length,
      });
      const { operationId, kind, projectId, body, fingerprint } = envelope;
      await deps.engine.fail(
        {
          operationId,
          kind,
          projectId,
          request: body,
          requestMessageId: message.messageId,
          requestFingerprint: fingerprint,
        },
        error,
      );
      return;
    }
    await deps.engine.start(
      { ...envelope.decoded, operationId: envelope.operationId, requestMessageId: message.messageId },
      logger,
    );
  };
}
