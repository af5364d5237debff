// Task messages: what the engine sends on bqbr-tasks, at fan-out (phase 1) and when a kind releases a
// later phase alike.
import type { TaskDoc, TaskMessage } from '@bqbr/shared';
import { jsonData, type Publisher } from '../handler.js';

/** One bqbr-tasks message for a task document. */
export function publishTask(tasks: Publisher, task: TaskDoc): Promise<string> {
  const message: TaskMessage = { operationId: task.operationId, taskId: task.taskId, spec: task.spec };
  return tasks.publish(jsonData(message), {
    operationId: task.operationId,
    taskId: task.taskId,
    kind: task.spec.kind,
  });
}
