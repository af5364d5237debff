// One prune task: deleting one backup folder (docs/contracts.md, "Prune and verify requests"). The prune's
// marker (`_pruning.json`) goes first, so an interrupted prune leaves a folder every reader knows to be
// partially deleted; then every data file and table manifest, then `_backup.json`, then the marker.
// Redelivery carries on from whatever is left.
import { Readable } from 'node:stream';
import {
  BACKUP_MANIFEST,
  PRUNE_MARKER,
  PermanentError,
  classifyError,
  type BackupStore,
  type PruneTaskSpec,
  type StoredEntry,
  type TaskDoc,
  type TaskMessage,
} from '@bqbr/shared';
import { continueLater } from './continuation.js';
import type { StepContext, StepDeps } from './step-deps.js';
import type { StoreFactory } from './table-home.js';
import { runTaskStep, type StepOutcome, type StepRun } from './task-step.js';

export interface PruneStepDeps extends StepDeps {
  readonly stores: StoreFactory;
}

/** Deletes running at once in one folder. */
export const PRUNE_DELETE_CONCURRENCY = 16;

/** What `_pruning.json` holds: which prune is deleting the folder, since when, and why. */
export interface PruneMarker {
  readonly kind: 'bqbr#pruning';
  readonly operationId: string;
  readonly startedAt: string;
  readonly reasons: readonly string[];
}

type PruneRun = StepRun<PruneStepDeps, PruneTaskSpec>;

export function runPruneStep(
  message: TaskMessage,
  deps: PruneStepDeps,
  ctx: StepContext,
): Promise<StepOutcome> {
  const spec = message.spec;
  if (spec.kind !== 'prune') return Promise.reject(new PermanentError('invalid', 'not a prune task'));
  return runTaskStep(message, deps, ctx, (task, finish) =>
    pruneFolder({ message, spec, task, deps, ctx, finish }),
  );
}

async function pruneFolder(run: PruneRun): Promise<StepOutcome> {
  const { spec, deps, ctx, message, finish, task } = run;
  const now = deps.now ?? (() => new Date());
  const store = deps.stores(spec.home);
  const prefix = `${spec.folderPath.replace(/\/+$/, '')}/`;
  const markerPath = `${prefix}${PRUNE_MARKER}`;
  const manifestPath = `${prefix}${BACKUP_MANIFEST}`;
  // Figures of earlier deliveries of this task that handed over to a continuation.
  const before = { files: task.fileCount ?? 0, bytes: task.bytes ?? 0 };

  let objects = await store.list(prefix);
  if (objects.length === 0) {
    // Nothing left (an earlier delivery finished, or the folder went since planning).
    await markCatalogue(run, 'DELETED', now());
    return finish('SUCCEEDED', figures(before));
  }
  if (!objects.some((o) => o.path === markerPath)) {
    // Nothing is touched while `_backup.json` is locked: its lock covers the backup (write-once).
    await refuseLocked(store, manifestPath, now());
    const marker: PruneMarker = {
      kind: 'bqbr#pruning',
      operationId: message.operationId,
      startedAt: now().toISOString(),
      reasons: spec.reasons,
    };
    await store.put(markerPath, Readable.from([Buffer.from(`${JSON.stringify(marker, null, 2)}\n`)]), {
      contentType: 'application/json',
    });
    ctx.logger.info('prune marker written', { folder: spec.folder });
  }
  await markCatalogue(run, 'DELETING', now());

  const budgetEnds = Date.now() + deps.settings.jobWaitMs;
  const stop = (): boolean => ctx.signal.aborted || Date.now() > budgetEnds;
  const files = objects.filter((o) => o.path !== markerPath && o.path !== manifestPath);
  const deleted = await deleteAll(store, files, stop);
  const done = { files: before.files + deleted.files, bytes: before.bytes + deleted.bytes };
  if (deleted.locked !== undefined) throw lockedError(store, spec, deleted.locked, done.files);
  if (!deleted.complete) {
    await deps.state.updateTask(message.operationId, message.taskId, figures(done));
    return continueLater(run, `${files.length - deleted.files} file(s) still to delete`);
  }
  // Leftovers of interrupted uploads (S3 multipart uploads, a filesystem's temporary files).
  await store.clearIncomplete(prefix);
  objects = await store.list(prefix);
  const manifest = objects.find((o) => o.path === manifestPath);
  if (objects.some((o) => o.path !== markerPath && o.path !== manifestPath)) {
    // Something was written meanwhile (it cannot be our own backup: planning decided it is finished).
    throw new PermanentError(
      'failedPrecondition',
      `${spec.folder} gained files while it was being deleted: left partially deleted, the next prune carries on`,
    );
  }
  if (manifest !== undefined) {
    const last: Deleted = { files: 0, bytes: 0, complete: false };
    await deleteOne(store, manifest, last);
    if (last.locked !== undefined) throw lockedError(store, spec, last.locked, done.files);
    done.files++;
    done.bytes += manifest.bytes;
  }
  await store.delete(markerPath);
  await markCatalogue(run, 'DELETED', now());
  ctx.logger.info('backup folder deleted', { folder: spec.folder, ...done });
  return finish('SUCCEEDED', figures(done));
}

/** Stops at once: the marker stays, the next prune tries again (and fails the same way until the lock ends). */
const lockedError = (
  store: BackupStore,
  spec: PruneTaskSpec,
  locked: NonNullable<Deleted['locked']>,
  deletedFiles: number,
): PermanentError =>
  new PermanentError(
    'retentionLocked',
    `${store.uri(locked.path)} is under a retention lock (${locked.message}): ${spec.folder} is left partially deleted, ${deletedFiles} file(s) deleted and ${PRUNE_MARKER} kept`,
  );

const figures = ({ files, bytes }: { files: number; bytes: number }): Partial<TaskDoc> => ({
  fileCount: files,
  bytes,
});

/** A locked `_backup.json` fails the task before anything is written or deleted. */
async function refuseLocked(store: BackupStore, manifestPath: string, now: Date): Promise<void> {
  const retention = (await store.stat(manifestPath))?.retention;
  if (retention !== undefined && Date.parse(retention.retainUntil) > now.getTime())
    throw new PermanentError(
      'retentionLocked',
      `${store.uri(manifestPath)} is write-once (${retention.mode}) until ${retention.retainUntil}: nothing was deleted`,
    );
}

interface Deleted {
  files: number;
  bytes: number;
  /** Every file was deleted (false: the budget ran out, or a lock stopped it). */
  complete: boolean;
  /** The first object that refused deletion for a retention lock. */
  locked?: { path: string; message: string };
}

/** Deletes `files`, PRUNE_DELETE_CONCURRENCY at a time, until `stop` says so or a lock refuses one. */
async function deleteAll(
  store: BackupStore,
  files: readonly StoredEntry[],
  stop: () => boolean,
): Promise<Deleted> {
  const result: Deleted = { files: 0, bytes: 0, complete: false };
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < files.length && result.locked === undefined && !stop()) {
      await deleteOne(store, files[next++]!, result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PRUNE_DELETE_CONCURRENCY, files.length) }, lane));
  result.complete = result.locked === undefined && result.files === files.length;
  return result;
}

async function deleteOne(store: BackupStore, file: StoredEntry, result: Deleted): Promise<void> {
  try {
    await store.delete(file.path);
  } catch (err) {
    const failure = classifyError(err);
    if (failure.kind === 'permanent' && failure.reason === 'retentionLocked') {
      result.locked ??= { path: file.path, message: failure.message };
      return;
    }
    throw err;
  }
  result.files++;
  result.bytes += file.bytes;
}

/** The catalogue entry follows the folder (a backup without one, e.g. the original service's, has none). */
async function markCatalogue(run: PruneRun, state: 'DELETING' | 'DELETED', at: Date): Promise<void> {
  const { backupId } = run.spec;
  if (backupId === undefined) return;
  await run.deps.state.updateBackup(
    backupId,
    state === 'DELETED'
      ? { state, deletedBy: run.message.operationId, deletedAt: at.toISOString() }
      : { state },
  );
}
