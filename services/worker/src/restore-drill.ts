// A verify's restore drill of one table (docs/architecture.md, "The worker"): once its files passed, they
// are loaded into a scratch table (staged in Cloud Storage first when the backup lives elsewhere, as a
// restore stages them), the loaded rows compared with the manifest's count and, when the backup recorded
// one (`verify: "fingerprint"`), their values with its content fingerprint; then the scratch table dropped.
import {
  describeFingerprint,
  restoreJobId,
  sameFingerprint,
  type TableManifest,
  type TaskDoc,
  type VerifyTaskSpec,
} from '@bqbr/shared';
import { continueLater } from './continuation.js';
import { conversionQuery, hasDatetime, stagingSchema } from './datetime-conversion.js';
import { openLandingFolder } from './landing-folder.js';
import { formatOptions } from './load-format.js';
import { sourceUris } from './restore-load.js';
import { jobFailed, runJob } from './step-job.js';
import { computeFingerprint } from './table-fingerprint.js';
import type { TableHome } from './table-home.js';
import { tableName, tableRows } from './target-state.js';
import type { StepOutcome } from './task-step.js';
import type { VerifyRun } from './verify-deps.js';

type Drill = NonNullable<VerifyTaskSpec['drill']>;

/** Loads the table's files into the drill's scratch table and checks the rows; the task's outcome. */
export async function drillTable(
  run: VerifyRun,
  drill: Drill,
  manifest: TableManifest,
  home: TableHome,
  figures: Pick<TaskDoc, 'fileCount' | 'bytes'>,
): Promise<StepOutcome> {
  const { message, task, deps, ctx, finish } = run;
  const scratch = tableName(drill.target);
  if (manifest.files.length === 0)
    return finish('SUCCEEDED', { ...figures, note: 'restore drill: no data files to load' });

  const landing = openLandingFolder(home, drill.landingFolder, deps, ctx);
  if (!(await landing.carryIn(manifest.files)))
    return continueLater(run, 'files still to stage for the restore drill');
  const { format, header, fieldDelimiter } = manifest.export;
  const fields = manifest.schema.fields;
  const staged = format === 'AVRO' && hasDatetime(fields);
  const load = await runJob(run, {
    jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'drill'),
    location: drill.location,
    configuration: {
      load: {
        ...formatOptions(format, header, fieldDelimiter),
        sourceUris: sourceUris(manifest, landing),
        destinationTable: drill.target,
        // DATETIME from Avro loads as the strings BigQuery wrote (see restore-load.ts): the fingerprint
        // below reads them through the restore's casting query.
        schema: { fields: staged ? stagingSchema(fields) : fields },
        createDisposition: 'CREATE_IF_NEEDED',
        writeDisposition: 'WRITE_TRUNCATE',
      },
    },
  });
  if (load.kind === 'continued') return load.outcome;
  if (load.job.errorResult !== undefined) {
    await landing.clear();
    return jobFailed(run, 'restore drill load', load.job.errorResult);
  }
  const rows = await tableRows(drill.target, deps.targets);
  const what = `restore drill of ${tableName(run.spec.source)} (${run.spec.manifestUri})`;
  const recorded = rows === manifest.numRows ? manifest.fingerprint : undefined;
  const loaded =
    recorded === undefined
      ? undefined
      : await computeFingerprint(
          run,
          restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'fingerprint'),
          drill.location,
          staged ? { subquery: conversionQuery(fields, drill.target) } : { table: drill.target },
        );
  if (loaded !== undefined && 'outcome' in loaded) return loaded.outcome;
  await deps.targets.delete(drill.target);
  await landing.clear();
  if (rows !== manifest.numRows)
    return finish('FAILED', {
      ...figures,
      error: {
        reason: 'rowCountMismatch',
        message: `${what}: ${rows} rows loaded into ${scratch}, but the manifest says ${manifest.numRows}`,
      },
    });
  if (recorded !== undefined && loaded !== undefined && !sameFingerprint(loaded.fingerprint, recorded))
    return finish('FAILED', {
      ...figures,
      error: {
        reason: 'fingerprintMismatch',
        message: `${what}: content fingerprint ${describeFingerprint(loaded.fingerprint)} loaded into ${scratch}, but the backup recorded ${describeFingerprint(recorded)} at the snapshot`,
      },
    });
  const values =
    recorded === undefined
      ? 'the backup recorded no fingerprint to compare values with'
      : `their content fingerprint ${describeFingerprint(recorded)}, as the backup recorded`;
  return finish('SUCCEEDED', {
    ...figures,
    rows,
    note: `restore drill: ${rows} rows loaded into ${scratch}, as the manifest says, ${values}, and dropped`,
  });
}
