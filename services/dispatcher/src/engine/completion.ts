// Completion: when every task of an operation is terminal, let its kind record the result, finalize the
// operation exactly once (a guarded status transition) and announce it on bqbr-notifications.
import {
  TaskEvent,
  decode,
  type Logger,
  type OperationDoc,
  type OperationStatus,
  type OperationSummary,
  type StateStore,
  type TaskCounts,
} from '@bqbr/shared';
import { jsonData, parseJson, type MessageHandler, type Publisher } from '../handler.js';
import { notificationOf } from './notification.js';
import type { KindName, OperationKind, OperationRequest } from './operation-kind.js';
import { phasesOf } from './phases.js';

/** SUCCEEDED without failures; FAILED when every table that was not skipped failed; PARTIALLY_FAILED in between. */
export function finalStatus(counts: Pick<TaskCounts, 'SUCCEEDED' | 'FAILED'>): OperationStatus {
  if (counts.FAILED === 0) return 'SUCCEEDED';
  return counts.SUCCEEDED === 0 ? 'FAILED' : 'PARTIALLY_FAILED';
}

/** The steps of a kind that run after fan-out. */
export type LaterSteps = Pick<OperationKind<OperationRequest>, 'advance' | 'finalize' | 'finalStatus'>;

export interface CompletionDeps {
  readonly store: StateStore;
  /** bqbr-tasks: the tasks of later phases are published from here. */
  readonly tasks: Publisher;
  readonly notifications: Publisher;
  readonly kinds: { readonly [K in KindName]: LaterSteps };
  readonly logger: Logger;
  readonly debounceMs: number;
  readonly now: () => Date;
}

export interface Completion {
  /** Checks the operation now: finalizes it if every task is terminal, re-announces it if its notification was lost. */
  check(operationId: string): Promise<void>;
  /** The same, debounced per operation: every caller within the window waits for one check. */
  schedule(operationId: string): Promise<void>;
  /** The bqbr-events handler. */
  readonly handleEvent: MessageHandler;
}

export function createCompletion(deps: CompletionDeps): Completion {
  const pending = new Map<string, Promise<void>>();
  const running = new Map<string, Promise<void>>();

  async function check(operationId: string): Promise<void> {
    const logger = deps.logger.child({ operationId });
    const operation = await deps.store.getOperation(operationId);
    if (!operation) {
      logger.warn('completion check for an unknown operation');
      return;
    }
    if (operation.status !== 'RUNNING') {
      if (operation.notified === false) await announce(operation, logger);
      return;
    }
    if (!operation.fanOutComplete) return;
    const kind = deps.kinds[operation.kind];
    await kind.advance?.(operation, phasesOf(deps.store, deps.tasks, operationId), logger);
    // While any task is unfinished, one indexed read answers; the full counts run only at the end.
    if (await deps.store.hasUnfinishedTasks(operationId)) return;
    const counts = await deps.store.countTasks(operationId);
    if (counts.terminal < counts.total || counts.total < operation.taskTotal) {
      logger.debug('operation still running', { terminal: counts.terminal, total: counts.total });
      return;
    }
    await finalize(operation, kind, counts, logger);
  }

  async function finalize(
    operation: OperationDoc,
    kind: LaterSteps,
    counts: TaskCounts,
    logger: Logger,
  ): Promise<void> {
    const { operationId } = operation;
    const sums = await deps.store.sumTasks(operationId);
    const summary: OperationSummary = {
      tables: counts.total,
      succeeded: counts.SUCCEEDED,
      failed: counts.FAILED,
      skipped: counts.SKIPPED,
      ...sums,
    };
    const status = kind.finalStatus?.(counts) ?? finalStatus(counts);
    const finishedAt = deps.now().toISOString();
    // The kind's record is an idempotent overwrite, made before the transition decides who finalizes.
    const problem = await kind.finalize?.(operation, { status, summary, finishedAt }, logger);
    const patch: Partial<OperationDoc> = {
      summary,
      finishedAt,
      notified: false,
      ...(problem ? { error: problem } : {}),
    };
    const moved = await deps.store.transitionOperation(operationId, ['RUNNING'], status, patch);
    if (!moved) {
      // Another check finalized it first; make sure its notification went out.
      const current = await deps.store.getOperation(operationId);
      if (current && current.notified === false) await announce(current, logger);
      return;
    }
    logger.info('operation finished', { status, ...summary });
    await announce({ ...operation, ...patch, status }, logger);
  }

  async function announce(operation: OperationDoc, logger: Logger): Promise<void> {
    await deps.notifications.publish(jsonData(notificationOf(operation, deps.now())), {
      operationId: operation.operationId,
      kind: operation.kind,
      status: operation.status,
    });
    await deps.store.updateOperation(operation.operationId, { notified: true });
    logger.debug('notification published', { status: operation.status });
  }

  function schedule(operationId: string): Promise<void> {
    const existing = pending.get(operationId);
    if (existing) return existing;
    const scheduled = new Promise<void>((resolve) => setTimeout(resolve, deps.debounceMs)).then(async () => {
      // Events arriving from here on need a fresh read of the counts: they wait for the next check.
      pending.delete(operationId);
      // One check per operation at a time in this process; the next starts after it.
      const previous = running.get(operationId);
      if (previous) await previous.catch(() => undefined);
      const current = check(operationId);
      running.set(operationId, current);
      try {
        await current;
      } finally {
        if (running.get(operationId) === current) running.delete(operationId);
      }
    });
    pending.set(operationId, scheduled);
    return scheduled;
  }

  const handleEvent: MessageHandler = async (message, ctx) => {
    const parsed = parseJson(message.data);
    let event: TaskEvent;
    try {
      if (!parsed.ok) throw new Error(`not JSON: ${parsed.error}`);
      event = decode(TaskEvent, parsed.value, 'task event');
    } catch (err) {
      // Nothing can make this message readable: drop it (ack) and say why.
      ctx.logger.error('undecodable task event dropped', { error: (err as Error).message });
      return;
    }
    await schedule(event.operationId);
  };

  return { check, schedule, handleEvent };
}
