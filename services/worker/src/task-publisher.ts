// The worker's messages: task events to bqbr-events and continuations to bqbr-tasks.
import type { PubSub } from '@google-cloud/pubsub';
import type { Topology } from '@bqbr/shared';
import type { TaskPublisher } from './step-deps.js';

export function createTaskPublisher(pubsub: PubSub, topology: Topology): TaskPublisher {
  const events = pubsub.topic(topology.topics.events);
  const tasks = pubsub.topic(topology.topics.tasks);
  return {
    async publishEvent(event) {
      await events.publishMessage({
        json: event,
        attributes: { operationId: event.operationId, taskId: event.taskId, status: event.status },
      });
    },
    async publishTask(message) {
      await tasks.publishMessage({
        json: message,
        attributes: {
          operationId: message.operationId,
          taskId: message.taskId,
          kind: message.spec.kind,
          continuation: String(message.continuation ?? 0),
        },
      });
    },
  };
}
