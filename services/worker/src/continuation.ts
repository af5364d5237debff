// Handing a task over to the next delivery instead of holding a Pub/Sub lease past its limits: the task
// message is re-published with `continuation: n + 1` and this delivery acks.
import type { Logger } from '@bqbr/shared';
import type { StepOutcome, StepRun } from './task-step.js';

/** Publishes a continuation message: the next delivery carries on where this one stops. */
export async function continueLater(
  run: Pick<StepRun, 'message' | 'deps' | 'ctx'>,
  why: string,
  logger: Logger = run.ctx.logger,
): Promise<StepOutcome> {
  const continuation = (run.message.continuation ?? 0) + 1;
  await run.deps.publisher.publishTask({ ...run.message, continuation });
  logger.info(`${why}: continuation published`, { continuation });
  return { kind: 'continued', continuation };
}
