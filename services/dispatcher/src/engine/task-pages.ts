// An operation's task documents read back a page at a time, for whoever needs all of them (a release
// of a later phase, a kind's record of a finished operation).
import type { StateStore, TaskDoc, TaskStatus } from '@bqbr/shared';

const TASK_PAGE = 500;

/** The operation's tasks in taskId order, a page at a time; `filter` as listTasks takes it. */
export async function* taskPages(
  store: Pick<StateStore, 'listTasks'>,
  operationId: string,
  filter: { readonly status?: TaskStatus; readonly phase?: number } = {},
): AsyncGenerator<TaskDoc[]> {
  let startAfter: string | undefined;
  for (;;) {
    const page = await store.listTasks(operationId, {
      ...filter,
      limit: TASK_PAGE,
      ...(startAfter ? { startAfter } : {}),
    });
    if (page.length > 0) yield page;
    if (page.length < TASK_PAGE) return;
    startAfter = page[page.length - 1]!.taskId;
  }
}
