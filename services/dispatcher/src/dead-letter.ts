// Dead letters: a message its subscription gave up on. A task becomes FAILED so its operation still
// finishes; an event triggers the completion check it was meant to; a request fails its operation.
import { TaskEvent, TaskMessage, type StateStore } from '@bqbr/shared';
import type { Completion } from './completion.js';
import { parseJson, type MessageHandler } from './handler.js';
import { readRequest, recordFailed } from './intake.js';

export interface DeadLetterDeps {
  readonly store: StateStore;
  readonly completion: Pick<Completion, 'check' | 'schedule'>;
  readonly now?: () => Date;
}

// Pub/Sub's attribute on a dead-lettered message: how often the source subscription delivered it.
const SOURCE_DELIVERIES = 'CloudPubSubDeadLetterSourceDeliveryCount';

export function createDeadLetterHandler(deps: DeadLetterDeps): MessageHandler {
  const now = deps.now ?? (() => new Date());
  return async (message, ctx) => {
    const attempts = message.attributes[SOURCE_DELIVERIES] ?? 'several';
    const parsed = parseJson(message.data);
    const body = parsed.ok ? parsed.value : undefined;

    if (TaskMessage.is(body)) {
      const { operationId, taskId } = body;
      const logger = ctx.logger.child({ operationId, taskId });
      const moved = await deps.store.transitionTask(operationId, taskId, ['PENDING', 'RUNNING'], 'FAILED', {
        error: {
          reason: 'deadLettered',
          message: `task message dead-lettered after ${attempts} delivery attempts`,
        },
        finishedAt: now().toISOString(),
      });
      logger.error('task dead-lettered', { attempts, recorded: moved });
      await deps.completion.schedule(operationId);
      return;
    }
    if (TaskEvent.is(body)) {
      ctx.logger.warn('task event dead-lettered; checking its operation', {
        operationId: body.operationId,
        attempts,
      });
      await deps.completion.schedule(body.operationId);
      return;
    }

    // Anything else came from bqbr-requests. Its original message id is not carried over, so a request
    // without an operationId is recorded under the dead letter's own id.
    const envelope = readRequest(message);
    const logger = ctx.logger.child({ operationId: envelope.operationId });
    const operation = await deps.store.getOperation(envelope.operationId);
    if (operation && operation.status !== 'PLANNING') {
      logger.warn('request dead-lettered after its operation started; nothing to do', {
        status: operation.status,
        attempts,
      });
      return;
    }
    logger.error('request dead-lettered', { attempts });
    await recordFailed(
      envelope,
      {
        reason: 'deadLettered',
        message: `request could not be processed after ${attempts} delivery attempts`,
      },
      deps,
    );
  };
}
