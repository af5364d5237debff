// Dead letters: a message its subscription gave up on. A task becomes FAILED so its operation still
// finishes; an event triggers the completion check it was meant to; a request fails its operation.
import { TaskEvent, TaskMessage, type StateStore } from '@bqbr/shared';
import type { OperationEngine } from './engine/operation-engine.js';
import type { KindRequests } from './engine/operation-kind.js';
import { parseJson, type MessageHandler } from './handler.js';
import { readRequest } from './request-envelope.js';

export interface DeadLetterDeps {
  readonly store: StateStore;
  readonly engine: Pick<OperationEngine<KindRequests>, 'fail' | 'completion'>;
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
      await deps.engine.completion.schedule(operationId);
      return;
    }
    if (TaskEvent.is(body)) {
      ctx.logger.warn('task event dead-lettered; checking its operation', {
        operationId: body.operationId,
        attempts,
      });
      await deps.engine.completion.schedule(body.operationId);
      return;
    }

    // Anything else came from bqbr-requests. Its original message id is not carried over, so a request
    // without an operationId is recorded under the dead letter's own id.
    const { operationId, kind, projectId, body: request, fingerprint } = readRequest(message);
    const logger = ctx.logger.child({ operationId });
    const operation = await deps.store.getOperation(operationId);
    if (operation && operation.status !== 'PLANNING') {
      logger.warn('request dead-lettered after its operation started; nothing to do', {
        status: operation.status,
        attempts,
      });
      return;
    }
    logger.error('request dead-lettered', { attempts });
    await deps.engine.fail(
      // With its fingerprint, a dead-lettered request of another body leaves the operation its id names alone.
      { operationId, kind, projectId, request, requestFingerprint: fingerprint },
      {
        reason: 'deadLettered',
        message: `request could not be processed after ${attempts} delivery attempts`,
      },
    );
  };
}
