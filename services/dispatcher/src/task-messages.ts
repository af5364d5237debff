// Task messages: what the dispatcher sends on bqbr-tasks, for fan-out (phase 1) and the completion
// check (a restore's phase 2) alike.
import type { TaskDoc, TaskMessage } from '@bqbr/shared';
import { jsonData, type Publisher } from './handler.js';

/** One bqbr-tasks message for a task document. */
export function publishTask(tasks: Publisher, task: TaskDoc): Promise<string> {
  const message: TaskMessage = { operationId: task.operationId, taskId: task.taskId, spec: task.spec };
  return tasks.publish(jsonData(message), {
    operationId: task.operationId,
    taskId: task.taskId,
    kind: task.spec.kind,
  });
}
