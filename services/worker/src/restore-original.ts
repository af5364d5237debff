// A table backed up in the original service's layout (Cloud Storage only, no manifest): its files are
// loaded with schema detection (Avro and Parquet describe themselves), and the rows counted, not verified.
import { restoreJobId, type OriginalTableBackup } from '@bqbr/shared';
import { formatOptions } from './load-format.js';
import type { RestoreRun } from './restore-deps.js';
import { jobFailed, runJob } from './step-job.js';
import { tableRows, targetState } from './target-state.js';
import type { StepOutcome } from './task-step.js';

export async function restoreOriginal(run: RestoreRun, original: OriginalTableBackup): Promise<StepOutcome> {
  const { message, spec, task, deps, finish } = run;
  const targetExisted = await targetState(run);
  const selfDescribing = original.format === 'AVRO' || original.format === 'PARQUET';
  const load = await runJob(run, {
    jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'load'),
    location: spec.location,
    configuration: {
      load: {
        ...formatOptions(original.format, original.header, original.fieldDelimiter),
        sourceUris: original.files,
        destinationTable: spec.target,
        ...(selfDescribing ? {} : { autodetect: true }),
        ignoreUnknownValues: spec.ignoreUnknownValues,
        maxBadRecords: spec.maxBadRecords,
        createDisposition: 'CREATE_IF_NEEDED',
        writeDisposition: targetExisted ? spec.writeDisposition : 'WRITE_EMPTY',
      },
    },
  });
  if (load.kind === 'continued') return load.outcome;
  if (load.job.errorResult !== undefined) return jobFailed(run, 'load', load.job.errorResult);
  const rows = load.job.outputRows ?? (await tableRows(spec.target, deps.targets));
  return finish('SUCCEEDED', {
    rows,
    bytes: 0,
    fileCount: original.files.length,
    note: `original service's layout: no manifest, ${selfDescribing ? 'schema from the files' : 'schema detected'}; ${rows} rows loaded, not verified against a manifest`,
  });
}
