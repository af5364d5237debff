// The phases of an operation's tasks: fan-out publishes phase 1; a kind releases later phases from its
// `advance` step once the earlier ones finished.
import type { StateStore } from '@bqbr/shared';
import type { Publisher } from '../handler.js';
import type { Phases } from './operation-kind.js';
import { taskPages } from './task-pages.js';
import { publishTask } from './task-messages.js';

export function phasesOf(
  store: Pick<StateStore, 'hasUnfinishedTasks' | 'listTasks'>,
  tasks: Publisher,
  operationId: string,
): Phases {
  return {
    finished: async (phase) => !(await store.hasUnfinishedTasks(operationId, phase)),
    async release(phase) {
      let released = 0;
      for await (const page of taskPages(store, operationId, { status: 'PENDING', phase })) {
        await Promise.all(page.map((task) => publishTask(tasks, task)));
        released += page.length;
      }
      return released;
    },
  };
}
