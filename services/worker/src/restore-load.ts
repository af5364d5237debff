// Loading a table's data files from its landing folder into the target with deterministic job ids: one
// load job, or (for DATETIME in Avro, which BigQuery cannot load back directly) a load into a staging
// table and a casting query; then the target's rows are compared with the manifest's count, and with
// `verify: "fingerprint"` its values with the manifest's content fingerprint (table-fingerprint.ts).
import {
  PermanentError,
  classifyError,
  describeFingerprint,
  restoreJobId,
  stagingTableId,
  type RestoreTaskSpec,
  type TableManifest,
  type TableRef,
} from '@bqbr/shared';
import { conversionQuery, hasDatetime, stagingSchema } from './datetime-conversion.js';
import { shardNames } from './extracted-files.js';
import type { LandingFolder } from './landing-folder.js';
import { formatOptions } from './load-format.js';
import type { RestoreRun } from './restore-deps.js';
import { jobFailed, runJob, runJobs } from './step-job.js';
import { partitionedByIngestion } from './incremental-export.js';
import { checkFingerprint, computeFingerprint } from './table-fingerprint.js';
import {
  encryptionOf,
  newTableBody,
  settingsAfterLoad,
  tableProperties,
  tableSettings,
} from './table-definition.js';
import { tableName, tableRows, targetState } from './target-state.js';
import { fileFigures } from './task-figures.js';
import type { StepOutcome } from './task-step.js';

// BigQuery's limit on source URIs in one load job
// (https://cloud.google.com/bigquery/quotas#load_jobs: 10,000 URIs, 10,000,000 files in all).
const MAX_SOURCE_URIS = 10_000;

/**
 * Wildcard name prefixes that match exactly the 12-digit shard numbers 0 … count−1: per digit position,
 * one prefix for each smaller digit there (at most 9 × 12), e.g. 12,345 → `00000000` (0 … 9,999),
 * `000000010`, `000000011`, `0000000120` … `000000012344`.
 */
export function shardPrefixes(count: number): string[] {
  const digits = String(count).padStart(12, '0');
  return [...digits].flatMap((digit, i) =>
    Array.from({ length: Number(digit) }, (_, d) => `${digits.slice(0, i)}${d}`),
  );
}

/**
 * The manifest's files and no others, since a Cloud Storage table folder is also the landing folder and
 * may hold files that are not the backup's: by name, or beyond BigQuery's limit by wildcards that match
 * exactly the series `data-000000000000 …` an extract writes (every bqbr manifest's files).
 */
export function sourceUris(manifest: TableManifest, landing: LandingFolder): string[] {
  const { files } = manifest;
  if (files.length <= MAX_SOURCE_URIS) return files.map((f) => landing.uri(f));
  const names = files.map((file) => file.name).sort();
  const ext = names[0]!.replace(/^data-\d{12}\./, '');
  const series = shardNames(`data-*.${ext}`, names.length);
  if (names.some((name, i) => name !== series[i]))
    throw new PermanentError(
      'invalid',
      `${files.length} data files in the manifest that are not the series ${series[0]} … ${series[series.length - 1]}: more than BigQuery's ${MAX_SOURCE_URIS} source URIs of one load job, and no wildcard matches exactly them`,
    );
  return shardPrefixes(files.length).map((prefix) => `${landing.folderUri}/data-${prefix}*.${ext}`);
}

/** The restored rows must be the manifest's count; the task fails with both numbers otherwise. */
function verifyRows(spec: RestoreTaskSpec, manifest: TableManifest, rows: number, appended: boolean): void {
  if (rows === manifest.numRows) return;
  throw new PermanentError(
    'rowCountMismatch',
    `${tableName(spec.target)}: ${appended ? 'appended' : 'restored'} ${rows} rows, but the backup's manifest says ${manifest.numRows}`,
  );
}

/**
 * `verify: "fingerprint"`: the restored table's content fingerprint, computed before `afterLoad` sets
 * requirePartitionFilter (which would refuse the query), must be the one its backup recorded. The note
 * says what was checked; a table whose backup recorded none is restored unverified, and the note says so.
 */
async function verifyValues(
  run: RestoreRun,
  manifest: TableManifest,
): Promise<{ readonly note?: string } | { readonly outcome: StepOutcome }> {
  const { message, spec, task } = run;
  if (spec.verifyFingerprint !== true) return {};
  const recorded = manifest.fingerprint;
  if (recorded === undefined)
    return {
      note: `values not verified: the backup recorded no fingerprint (back up with verify "fingerprint"${manifest.requirePartitionFilter === true ? '; a table requiring a partition filter is never fingerprinted' : ''})`,
    };
  const restored = await computeFingerprint(
    run,
    restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'fingerprint'),
    spec.location,
    { table: spec.target },
  );
  if ('outcome' in restored) return restored;
  checkFingerprint(tableName(spec.target), restored.fingerprint, recorded);
  return {
    note: `values verified: content fingerprint ${describeFingerprint(recorded)}, as the backup recorded`,
  };
}

/**
 * What a load cannot set (table-definition.ts); the notes say what was left out. Constraints BigQuery
 * refuses (a foreign key naming a table that is not restored) leave the table without them, and say so:
 * the rows are in and are not loaded again for that.
 */
async function afterLoad(run: RestoreRun, manifest: TableManifest): Promise<string[]> {
  const now = (run.deps.now ?? (() => new Date()))().getTime();
  const { patch, notes } = settingsAfterLoad(manifest, run.spec.target, now);
  if (Object.keys(patch).length === 0) return notes;
  try {
    await run.deps.targets.patch(run.spec.target, patch);
  } catch (err) {
    const failure = classifyError(err);
    if (failure.kind === 'retryable' || patch['tableConstraints'] === undefined) throw err;
    const { tableConstraints: _refused, ...rest } = patch;
    if (Object.keys(rest).length > 0) await run.deps.targets.patch(run.spec.target, rest);
    notes.push(`restored without its table constraints: ${failure.message}`);
  }
  return notes;
}

/**
 * An ingestion-time partitioned table backed up partition by partition (docs/contracts.md, "Table
 * settings"): its files go back to their partitions, one load into `table$partition` each. DATETIME from
 * Avro, which goes through a staging table and a casting query, is loaded whole (its rows land in the
 * partition of the load), as is a backup made before partitions were kept apart.
 */
const byPartition = (manifest: TableManifest): boolean =>
  partitionedByIngestion(manifest) &&
  manifest.files.length > 0 &&
  manifest.files.every((file) => file.partition !== undefined) &&
  !(manifest.export.format === 'AVRO' && hasDatetime(manifest.schema.fields));

/** Load jobs of one table at once (its partitions). */
const PARTITION_LOAD_CONCURRENCY = 8;

/**
 * Creates the table (replacing one a WRITE_TRUNCATE may replace: each load writes only its partition) and
 * loads each partition's files into `table$partition`; the rows loaded, or the outcome of jobs still
 * running or failed.
 */
async function loadPartitions(
  run: RestoreRun,
  manifest: TableManifest,
  landing: LandingFolder,
  targetExisted: boolean,
): Promise<{ readonly rows: number; readonly note: string } | { readonly outcome: StepOutcome }> {
  const { message, spec, task, deps } = run;
  const appending = targetExisted && spec.writeDisposition === 'WRITE_APPEND';
  if (!appending && task.createdTarget !== true) {
    // Recorded first: a redelivery after the delete (or the create) does not take the table for another's.
    task.createdTarget = true;
    await deps.state.updateTask(message.operationId, message.taskId, { createdTarget: true });
    if (targetExisted) await deps.targets.delete(spec.target);
  }
  if (!appending) await deps.targets.create(spec.target, newTableBody(manifest, spec.kmsKeyMapping));
  const { format, header, fieldDelimiter } = manifest.export;
  const partitions = [...new Set(manifest.files.map((file) => file.partition!))].sort();
  const jobs = partitions.map((partition) => ({
    jobId: `${restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'load')}_p${partition}`,
    location: spec.location,
    configuration: {
      load: {
        ...formatOptions(format, header, fieldDelimiter),
        sourceUris: manifest.files.filter((f) => f.partition === partition).map((f) => landing.uri(f)),
        ignoreUnknownValues: spec.ignoreUnknownValues,
        maxBadRecords: spec.maxBadRecords,
        destinationTable: { ...spec.target, tableId: `${spec.target.tableId}$${partition}` },
        schema: { fields: manifest.schema.fields },
        createDisposition: 'CREATE_NEVER',
        writeDisposition: 'WRITE_APPEND',
      },
    },
  }));
  const result = await runJobs(run, jobs, PARTITION_LOAD_CONCURRENCY);
  if (result.kind === 'continued') return { outcome: result.outcome };
  const failed = result.jobs.find((job) => job.errorResult !== undefined);
  if (failed !== undefined) return { outcome: await jobFailed(run, 'load', failed.errorResult!) };
  const rows = appending
    ? result.jobs.reduce((sum, job) => sum + (job.outputRows ?? 0), 0)
    : await tableRows(spec.target, deps.targets);
  return {
    rows,
    note: `loaded partition by partition: ${partitions.length} partition(s), each into its own`,
  };
}

/**
 * Loads the manifest's files from the landing folder. The task records the backup's own manifest and
 * files (`manifestUri`, the manifest's entries), never the landing folder's copies.
 */
export async function loadTable(
  run: RestoreRun,
  manifest: TableManifest,
  manifestUri: string,
  landing: LandingFolder,
): Promise<StepOutcome> {
  const { message, spec, task, deps, finish } = run;
  const targetExisted = await targetState(run);
  const { format, header, fieldDelimiter } = manifest.export;
  const fields = manifest.schema.fields;
  // A function: a table loaded partition by partition names its files per partition instead.
  const common = () => ({
    ...formatOptions(format, header, fieldDelimiter),
    sourceUris: sourceUris(manifest, landing),
    ignoreUnknownValues: spec.ignoreUnknownValues,
    maxBadRecords: spec.maxBadRecords,
  });
  const done = (rows: number, ...notes: (string | undefined)[]): Promise<StepOutcome> => {
    const note = notes.filter((n) => n !== undefined).join('; ');
    return finish('SUCCEEDED', {
      rows,
      ...fileFigures(manifest.files),
      manifestUri,
      ...(note === '' ? {} : { note }),
    });
  };
  const appending = targetExisted && spec.writeDisposition === 'WRITE_APPEND';
  const encryption = encryptionOf(manifest, spec.kmsKeyMapping);
  if (byPartition(manifest)) {
    const loaded = await loadPartitions(run, manifest, landing, targetExisted);
    if ('outcome' in loaded) return loaded.outcome;
    verifyRows(spec, manifest, loaded.rows, appending);
    const values = await verifyValues(run, manifest);
    if ('outcome' in values) return values.outcome;
    const settled = await afterLoad(run, manifest);
    return done(loaded.rows, loaded.note, values.note, ...settled);
  }
  const disposition = targetExisted ? spec.writeDisposition : 'WRITE_EMPTY';

  if (format === 'AVRO' && hasDatetime(fields)) {
    // BigQuery writes DATETIME to Avro as a string it cannot load back into DATETIME: load the strings
    // into a staging table, then convert them with a query into the table created with the exact schema.
    const staging: TableRef = {
      ...spec.target,
      tableId: stagingTableId(message.operationId, message.taskId),
    };
    const stage = await runJob(run, {
      jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'stage'),
      location: spec.location,
      configuration: {
        load: {
          ...common(),
          destinationTable: staging,
          schema: { fields: stagingSchema(fields) },
          createDisposition: 'CREATE_IF_NEEDED',
          writeDisposition: 'WRITE_TRUNCATE',
        },
      },
    });
    if (stage.kind === 'continued') return stage.outcome;
    if (stage.job.errorResult !== undefined) return jobFailed(run, 'load', stage.job.errorResult);
    const staged = stage.job.outputRows;
    if (!targetExisted) {
      if (task.createdTarget !== true) {
        task.createdTarget = true;
        await deps.state.updateTask(message.operationId, message.taskId, { createdTarget: true });
      }
      await deps.targets.create(spec.target, newTableBody(manifest, spec.kmsKeyMapping));
    }
    const convert = await runJob(run, {
      jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'convert'),
      location: spec.location,
      configuration: {
        query: {
          query: conversionQuery(fields, staging),
          useLegacySql: false,
          destinationTable: spec.target,
          createDisposition: 'CREATE_NEVER',
          writeDisposition:
            targetExisted && spec.writeDisposition === 'WRITE_TRUNCATE' ? 'WRITE_TRUNCATE' : 'WRITE_APPEND',
        },
      },
    });
    if (convert.kind === 'continued') return convert.outcome;
    if (convert.job.errorResult !== undefined)
      return jobFailed(run, 'conversion query', convert.job.errorResult);
    await deps.targets.delete(staging);
    const rows = appending ? (staged ?? manifest.numRows) : await tableRows(spec.target, deps.targets);
    verifyRows(spec, manifest, rows, appending);
    const values = await verifyValues(run, manifest);
    if ('outcome' in values) return values.outcome;
    const settled = await afterLoad(run, manifest);
    return done(
      rows,
      'DATETIME columns converted from Avro strings through a staging table',
      values.note,
      ...settled,
    );
  }

  const load = await runJob(run, {
    jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'load'),
    location: spec.location,
    configuration: {
      load: {
        ...common(),
        destinationTable: spec.target,
        schema: { fields },
        ...tableSettings(manifest),
        destinationTableProperties: tableProperties(manifest),
        ...(encryption !== undefined ? { destinationEncryptionConfiguration: encryption } : {}),
        createDisposition: 'CREATE_IF_NEEDED',
        writeDisposition: disposition,
      },
    },
  });
  if (load.kind === 'continued') return load.outcome;
  if (load.job.errorResult !== undefined) return jobFailed(run, 'load', load.job.errorResult);
  const rows = appending
    ? (load.job.outputRows ?? manifest.numRows)
    : await tableRows(spec.target, deps.targets);
  verifyRows(spec, manifest, rows, appending);
  const values = await verifyValues(run, manifest);
  if ('outcome' in values) return values.outcome;
  const settled = await afterLoad(run, manifest);
  return done(rows, values.note, ...settled);
}
