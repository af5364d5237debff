// Runs a handler for one message and turns its outcome into ack or nack, the same way for pull and push.
import { classifyError, PermanentError, type Logger, type ReceivedMessage } from '@bqbr/shared';
import type { MessageHandler } from './handler.js';

export type Outcome = 'ack' | 'nack';

export async function deliver(
  handler: MessageHandler,
  message: ReceivedMessage,
  logger: Logger,
): Promise<Outcome> {
  const scoped = logger.child({
    messageId: message.messageId,
    deliveryAttempt: message.deliveryAttempt,
    ...(message.attributes.operationId ? { operationId: message.attributes.operationId } : {}),
    ...(message.attributes.taskId ? { taskId: message.attributes.taskId } : {}),
  });
  try {
    await handler(message, { logger: scoped });
    return 'ack';
  } catch (err) {
    const failure = classifyError(err);
    if (err instanceof PermanentError) {
      // Retrying cannot help; the handler had nothing to record it on.
      scoped.error('message dropped after a permanent failure', {
        reason: failure.reason,
        error: failure.message,
      });
      return 'ack';
    }
    scoped.warn('message will be redelivered', { reason: failure.reason, error: failure.message });
    return 'nack';
  }
}
