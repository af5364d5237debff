// Completion: when every task of an operation is terminal, write `_backup.json`, catalogue the backup,
// finalize the operation exactly once (a guarded status transition) and announce it on bqbr-notifications.
import {
  MANIFEST_VERSION,
  TaskEvent,
  backupDestination,
  backupManifestPath,
  destinationUri,
  type DestinationSpec,
  classifyError,
  decode,
  type BackupCatalogEntry,
  type BackupManifest,
  type BackupRequest,
  type BackupTableEntry,
  type Logger,
  type OperationDoc,
  type OperationNotification,
  type OperationStatus,
  type OperationSummary,
  type StateStore,
  type TaskCounts,
  type TaskDoc,
} from '@bqbr/shared';
import { jsonData, parseJson, type MessageHandler, type Publisher } from './handler.js';
import { exportSettings } from './planner.js';
import { publishTask } from './task-messages.js';

/** SUCCEEDED without failures; FAILED when every table that was not skipped failed; PARTIALLY_FAILED in between. */
export function finalStatus(counts: Pick<TaskCounts, 'SUCCEEDED' | 'FAILED'>): OperationStatus {
  if (counts.FAILED === 0) return 'SUCCEEDED';
  return counts.SUCCEEDED === 0 ? 'FAILED' : 'PARTIALLY_FAILED';
}

/** Writes a JSON object to a path under a destination, replacing it (finalization may run twice; the content is the same). */
export type JsonWriter = (destination: DestinationSpec, path: string, value: unknown) => Promise<void>;

export interface CompletionDeps {
  readonly store: StateStore;
  /** bqbr-tasks: restores' phase-2 tasks (views) are published from here. */
  readonly tasks?: Publisher;
  readonly notifications: Publisher;
  readonly writeJson: JsonWriter;
  readonly logger: Logger;
  readonly debounceMs: number;
  readonly now?: () => Date;
}

export interface Completion {
  /** Checks the operation now: finalizes it if every task is terminal, re-announces it if its notification was lost. */
  check(operationId: string): Promise<void>;
  /** The same, debounced per operation: every caller within the window waits for one check. */
  schedule(operationId: string): Promise<void>;
  /** The bqbr-events handler. */
  readonly handleEvent: MessageHandler;
}

const TASK_PAGE = 500;

export function createCompletion(deps: CompletionDeps): Completion {
  const now = deps.now ?? (() => new Date());
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
    if (operation.kind === 'restore' && operation.phase2Released !== true)
      await releasePhase2(operation, logger);
    // While any task is unfinished, one indexed read answers; the full counts run only at the end.
    if (await deps.store.hasUnfinishedTasks(operationId)) return;
    const counts = await deps.store.countTasks(operationId);
    if (counts.terminal < counts.total || counts.total < operation.taskTotal) {
      logger.debug('operation still running', { terminal: counts.terminal, total: counts.total });
      return;
    }
    await finalize(operation, counts, logger);
  }

  /** Once every phase-1 task (tables) is terminal, publishes the phase-2 tasks (views that read them). */
  async function releasePhase2(operation: OperationDoc, logger: Logger): Promise<void> {
    const { operationId } = operation;
    if (await deps.store.hasUnfinishedTasks(operationId, 1)) return;
    let released = 0;
    let startAfter: string | undefined;
    for (;;) {
      const page = await deps.store.listTasks(operationId, {
        status: 'PENDING',
        phase: 2,
        limit: TASK_PAGE,
        ...(startAfter ? { startAfter } : {}),
      });
      if (page.length > 0 && deps.tasks === undefined) throw new Error('completion has no tasks publisher');
      await Promise.all(page.map((task) => publishTask(deps.tasks!, task)));
      released += page.length;
      if (page.length < TASK_PAGE) break;
      startAfter = page[page.length - 1]!.taskId;
    }
    // Published at least once; a repeat (two checks at once) is harmless: the tasks are idempotent.
    await deps.store.updateOperation(operationId, { phase2Released: true });
    if (released > 0) logger.info('tables restored: views released', { views: released });
  }

  async function finalize(operation: OperationDoc, counts: TaskCounts, logger: Logger): Promise<void> {
    const { operationId } = operation;
    const sums = await deps.store.sumTasks(operationId);
    const summary: OperationSummary = {
      tables: counts.total,
      succeeded: counts.SUCCEEDED,
      failed: counts.FAILED,
      skipped: counts.SKIPPED,
      ...sums,
    };
    const status = finalStatus(counts);
    const finishedAt = now().toISOString();
    const patch: Partial<OperationDoc> = { summary, finishedAt, notified: false };
    if (operation.kind === 'backup') {
      const problem = await recordBackup(operation, status, summary, finishedAt, logger);
      if (problem) Object.assign(patch, { error: problem });
    }
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

  /** `_backup.json` and the catalogue entry: idempotent overwrites, done before the transition decides. */
  async function recordBackup(
    operation: OperationDoc,
    status: OperationStatus,
    summary: OperationSummary,
    finishedAt: string,
    logger: Logger,
  ): Promise<{ reason: string; message: string } | undefined> {
    const request = operation.request as BackupRequest;
    const snapshotMillis = operation.snapshotMillis!;
    const snapshotTime = operation.snapshotTime ?? new Date(snapshotMillis).toISOString();
    const settings = exportSettings(request);
    const destination = backupDestination(request).spec;
    const manifestPath = backupManifestPath(snapshotMillis, operation.projectId);
    const manifestUri = destinationUri(destination, manifestPath);
    const manifest: BackupManifest = {
      manifestVersion: MANIFEST_VERSION,
      kind: 'bqbr#backup',
      operationId: operation.operationId,
      projectId: operation.projectId,
      snapshotMillis,
      snapshotTime,
      location: operation.location!,
      export: settings,
      status,
      summary,
      tables: await tableEntries(operation.operationId),
      startedAt: operation.startedAt ?? operation.createdAt,
      finishedAt,
    };
    let problem: { reason: string; message: string } | undefined;
    try {
      await deps.writeJson(destination, manifestPath, manifest);
    } catch (err) {
      const failure = classifyError(err);
      // A transient failure retries the whole check (the event is nacked); a permanent one is recorded.
      if (failure.kind === 'retryable') throw err;
      logger.error('could not write _backup.json', {
        uri: manifestUri,
        reason: failure.reason,
        error: failure.message,
      });
      problem = { reason: failure.reason, message: `could not write ${manifestUri}: ${failure.message}` };
    }
    const entry: BackupCatalogEntry = {
      backupId: operation.operationId,
      operationId: operation.operationId,
      projectId: operation.projectId,
      snapshotMillis,
      snapshotTime,
      location: operation.location!,
      format: settings.format,
      compression: settings.compression,
      status,
      tables: summary.tables,
      failedTables: summary.failed,
      rows: summary.rows,
      bytes: summary.bytes,
      files: summary.files,
      createdAt: finishedAt,
    };
    await deps.store.putBackup(entry);
    return problem;
  }

  async function tableEntries(operationId: string): Promise<BackupTableEntry[]> {
    const entries: BackupTableEntry[] = [];
    let startAfter: string | undefined;
    for (;;) {
      const page = await deps.store.listTasks(operationId, {
        limit: TASK_PAGE,
        ...(startAfter ? { startAfter } : {}),
      });
      entries.push(...page.map(tableEntry));
      if (page.length < TASK_PAGE) return entries;
      startAfter = page[page.length - 1]!.taskId;
    }
  }

  async function announce(operation: OperationDoc, logger: Logger): Promise<void> {
    const notification: OperationNotification = {
      operationId: operation.operationId,
      kind: operation.kind,
      status: operation.status,
      projectId: operation.projectId,
      ...(operation.location ? { location: operation.location } : {}),
      ...(operation.snapshotTime ? { snapshotTime: operation.snapshotTime } : {}),
      summary: operation.summary ?? emptySummary,
      startedAt: operation.startedAt ?? operation.createdAt,
      finishedAt: operation.finishedAt ?? now().toISOString(),
      ...(operation.error
        ? { error: { reason: operation.error.reason, message: operation.error.message } }
        : {}),
      ...(operation.warnings && operation.warnings.length > 0 ? { warnings: operation.warnings } : {}),
    };
    await deps.notifications.publish(jsonData(notification), {
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

const emptySummary: OperationSummary = {
  tables: 0,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  rows: 0,
  bytes: 0,
  files: 0,
};

function tableEntry(task: TaskDoc): BackupTableEntry {
  return {
    datasetId: task.table.datasetId,
    tableId: task.table.tableId,
    status: task.status,
    ...(task.rows !== undefined ? { rows: task.rows } : {}),
    ...(task.bytes !== undefined ? { bytes: task.bytes } : {}),
    ...(task.fileCount !== undefined ? { files: task.fileCount } : {}),
    ...(task.manifestUri !== undefined ? { manifest: task.manifestUri } : {}),
    ...(task.manifestMd5 !== undefined ? { manifestMd5: task.manifestMd5 } : {}),
    ...(task.note !== undefined ? { note: task.note } : {}),
    ...(task.error ? { error: { reason: task.error.reason, message: task.error.message } } : {}),
  };
}
