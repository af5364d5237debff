// Restore of one table (docs/architecture.md, "The worker"): read `_table.json` from the backup's home
// (checked against the MD5 `_backup.json` recorded), recreate a view, or check every data file at home
// against the manifest, carry the files into the landing folder BigQuery loads from (nothing to carry
// for a Cloud Storage home), load them (restore-load.ts) and clear the landing folder when the task ends.
// The original service's layout is loaded with schema detection (restore-original.ts).
import {
  PermanentError,
  classifyError,
  restoreJobId,
  type BqbrTableBackup,
  type TableManifest,
  type TaskMessage,
} from '@bqbr/shared';
import { continueLater } from './continuation.js';
import { openLandingFolder } from './landing-folder.js';
import { checkDataFiles, readTableManifest } from './manifest-checks.js';
import type { RestoreRun, RestoreStepDeps } from './restore-deps.js';
import { loadTable } from './restore-load.js';
import { restoreOriginal } from './restore-original.js';
import { restoreView } from './restore-view.js';
import type { StepContext } from './step-deps.js';
import { openTableHome, type TableHome } from './table-home.js';
import { tableName } from './target-state.js';
import { runTaskStep, type Finish, type StepOutcome } from './task-step.js';

export async function runRestoreStep(
  message: TaskMessage,
  deps: RestoreStepDeps,
  ctx: StepContext,
): Promise<StepOutcome> {
  const spec = message.spec;
  if (spec.kind !== 'restore') throw new PermanentError('invalid', 'not a restore task');
  return runTaskStep(message, deps, ctx, (task, finish) => {
    const run: RestoreRun = { message, spec, task, deps, ctx, finish };
    const { backup } = spec;
    switch (backup.layout) {
      case 'bqbr':
        return restoreFromManifest(run, backup);
      case 'original':
        return restoreOriginal(run, backup);
      case 'absent':
        throw new PermanentError(
          'invalid',
          `restore task for ${tableName(spec.source)} has no backup to load (layout "absent"): planning should have finished it without dispatching; nothing was done`,
        );
    }
  });
}

async function restoreFromManifest(run: RestoreRun, backup: BqbrTableBackup): Promise<StepOutcome> {
  const home = openTableHome(backup, run.deps.stores);
  const manifest = await readTableManifest(home, backup);
  switch (manifest.tableType) {
    case 'VIEW':
    case 'MATERIALIZED_VIEW':
      return restoreView(run, manifest, backup.manifestUri);
    case 'EXTERNAL':
      return run.finish('SKIPPED', {
        note: 'external table: its data lives outside BigQuery; not recreated',
      });
    default:
      return restoreData(run, backup, home, manifest);
  }
}

/**
 * A data table: its files are checked at home before the task's first job, carried into the landing
 * folder unless this job attempt's job already has them, loaded from there, and the carried copies
 * deleted when the task ends (a retryable failure keeps them for the next delivery).
 */
async function restoreData(
  run: RestoreRun,
  backup: BqbrTableBackup,
  home: TableHome,
  manifest: TableManifest,
): Promise<StepOutcome> {
  const { message, task, deps, ctx } = run;
  const landing = openLandingFolder(home, backup.landingFolder, deps, ctx);
  const attemptJobs = (['load', 'stage'] as const).map((kind) =>
    restoreJobId(message.operationId, message.taskId, task.jobAttempt, kind),
  );
  const clearing: Finish = async (status, patch) => {
    await landing.clear();
    return run.finish(status, patch);
  };
  try {
    if (task.jobIds.length === 0) await checkDataFiles(home, manifest.files);
    const attemptStarted = task.jobIds.some((id) => attemptJobs.includes(id));
    if (!attemptStarted && !(await landing.carryIn(manifest.files)))
      return await continueLater(run, 'files still to stage in Cloud Storage');
    return await loadTable({ ...run, finish: clearing }, manifest, backup.manifestUri, landing);
  } catch (err) {
    // A permanent failure ends the task: its carried copies go too (a retryable one keeps them).
    if (classifyError(err).kind === 'permanent') await landing.clear();
    throw err;
  }
}
