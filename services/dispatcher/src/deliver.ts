// Runs a handler for one message and turns its outcome into ack or nack, the same way for pull and
// push, by the services' one ack rule (dispositionOf in @bqbr/shared).
import { dispositionOf, type Disposition, type Logger, type ReceivedMessage } from '@bqbr/shared';
import type { MessageHandler } from './handler.js';

export type Outcome = Disposition;

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
    const { disposition, reason, message: error } = dispositionOf(err);
    if (disposition === 'ack') {
      // Retrying cannot help; the handler had nothing to record it on.
      scoped.error('message dropped after a permanent failure', { reason, error });
      return 'ack';
    }
    scoped.warn('message will be redelivered', { reason, error });
    return 'nack';
  }
}
