// Intake: a request message (pull, push or Eventarc) becomes an operation. A bad request is recorded as
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
      const error = errorInfo(envelope.error);
      logger.warn('invalid request rejected', { error: error.message, issues: error.issues });
      const { operationId, kind, projectId, body } = envelope;
      const refused = { operationId, kind, projectId, request: body, requestMessageId: message.messageId };
      await deps.engine.fail(refused, error);
      return;
    }
    await deps.engine.start(
      { ...envelope.decoded, operationId: envelope.operationId, requestMessageId: message.messageId },
      logger,
    );
  };
}
