// A restore's second phase: views read restored tables, so they are published once every table finished.
import type { Logger, OperationDoc, StateStore } from '@bqbr/shared';
import type { Phases } from '../../engine/operation-kind.js';

export async function releaseViews(
  operation: OperationDoc,
  phases: Phases,
  store: Pick<StateStore, 'updateOperation'>,
  logger: Logger,
): Promise<void> {
  if (operation.phase2Released === true || !(await phases.finished(1))) return;
  const views = await phases.release(2);
  // Published at least once; a repeat (two checks at once) is harmless: the tasks are idempotent.
  await store.updateOperation(operation.operationId, { phase2Released: true });
  if (views > 0) logger.info('tables restored: views released', { views });
}
