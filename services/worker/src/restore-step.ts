// Restore of one table (docs/architecture.md, "The worker"): read `_table.json` (checked against the
// MD5 `_backup.json` recorded), check every data file against the manifest, refuse a target that
// exists unless the request allows it, load the files with deterministic job ids (through a staging
// table when BigQuery cannot load a type back directly), and compare the rows with the manifest.
// Views are recreated with their references to restored datasets rewritten.
import {
  PermanentError,
  TableManifest,
  classifyError,
  ValidationError,
  decode,
  restoreJobId,
  stagingTableId,
  type BackupFileEntry,
  type FieldSchema,
  type RestoreTaskSpec,
  type TableRef,
  type TaskDoc,
  type TaskMessage,
} from '@bqbr/shared';
import { conversionQuery, hasDatetime, stagingSchema } from './datetime-conversion.js';
import {
  continueLater,
  jobFailed,
  runJob,
  runTaskStep,
  type Finish,
  type StepContext,
  type StepDeps,
  type StepOutcome,
  MAX_FILES_IN_TASK,
} from './task-step.js';
import { rewriteViewQuery } from './view-rewrite.js';
import type { StoreFactory } from './external-backup.js';
import { externalSource, type ExternalRestore } from './external-restore.js';
import { checkAgainstManifest, md5Base64 } from './transfer.js';

/** A stored object as the restore sees it. */
export interface StoredObject {
  readonly bytes: number;
  readonly md5?: string;
  readonly crc32c?: string;
}

/** What the restore reads and writes besides jobs: backup objects and target tables. */
export interface RestoreIO {
  /** The object's bytes, or undefined when it does not exist. */
  readObject(uri: string): Promise<Buffer | undefined>;
  /** Objects whose names start with `prefix` (a gs:// URI), by URI. */
  listObjects(prefix: string): Promise<Map<string, StoredObject>>;
  /** The table's type and row count, or undefined when it does not exist. */
  getTable(ref: TableRef): Promise<{ readonly type: string; readonly numRows: number } | undefined>;
  /** tables.insert; false when the table exists already. */
  createTable(ref: TableRef, body: Record<string, unknown>): Promise<boolean>;
  /** tables.patch. */
  patchTable(ref: TableRef, body: Record<string, unknown>): Promise<void>;
  /** tables.delete; a missing table is fine. */
  deleteTable(ref: TableRef): Promise<void>;
}

export interface RestoreStepDeps extends StepDeps {
  readonly restore: RestoreIO;
  /** The store a backup outside Cloud Storage is in, and Cloud Storage staging. */
  readonly stores: StoreFactory;
}

/** Where a table's data files are loaded from: the backup's own folder, or its Cloud Storage staging copy. */
interface LoadFrom {
  /** gs:// folder of the files. */
  readonly folder: string;
  /** The manifest's URI where the backup is (for the task's record). */
  readonly manifestUri: string;
  /** The data files where the backup is (for the task's record; staged copies do not last). */
  readonly files: readonly BackupFileEntry[];
}

const nameOf = (ref: TableRef): string => `${ref.projectId}:${ref.datasetId}.${ref.tableId}`;

/** BigQuery's load limit on source URIs; more files are loaded by their wildcard. */
const MAX_SOURCE_URIS = 10_000;

export async function runRestoreStep(
  message: TaskMessage,
  deps: RestoreStepDeps,
  ctx: StepContext,
): Promise<StepOutcome> {
  const spec = message.spec;
  if (spec.kind !== 'restore') throw new PermanentError('invalid', 'not a restore task');
  return runTaskStep(message, deps, ctx, (task, finish) =>
    restoreTable(message, spec, task, deps, ctx, finish),
  );
}

async function restoreTable(
  message: TaskMessage,
  spec: RestoreTaskSpec,
  task: TaskDoc,
  deps: RestoreStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  if (spec.original !== undefined)
    return restoreOriginal(message, spec, spec.original, task, deps, ctx, finish);
  const external = externalSource(spec, deps, ctx);
  const manifestUri = external?.manifestUri ?? spec.manifestUri;
  if (manifestUri === undefined) throw new PermanentError('invalid', 'restore task without a manifest');
  const bytes =
    external !== undefined ? await external.readManifest() : await deps.restore.readObject(manifestUri);
  const manifest = decodeManifest(manifestUri, bytes, spec.manifestMd5);
  switch (manifest.tableType) {
    case 'VIEW':
    case 'MATERIALIZED_VIEW':
      return restoreView(spec, manifest, deps, finish);
    case 'EXTERNAL':
      return finish('SKIPPED', { note: 'external table: its data lives outside BigQuery; not recreated' });
    default:
      if (external === undefined)
        return restoreData(
          message,
          spec,
          manifest,
          { folder: folderOf(manifestUri), manifestUri, files: manifest.files },
          task,
          deps,
          ctx,
          finish,
        );
      return restoreStaged(message, spec, manifest, external, task, deps, ctx, finish);
  }
}

/**
 * A table from a backup outside Cloud Storage: its files are staged in Cloud Storage (unless this
 * attempt's job already has them), loaded from there, and the staged copies deleted when the task ends.
 */
async function restoreStaged(
  message: TaskMessage,
  spec: RestoreTaskSpec,
  manifest: TableManifest,
  external: ExternalRestore,
  task: TaskDoc,
  deps: RestoreStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  const attemptJobs = (['load', 'stage'] as const).map((kind) =>
    restoreJobId(message.operationId, message.taskId, task.jobAttempt, kind),
  );
  const jobStarted = task.jobIds.some((id) => attemptJobs.includes(id));
  let loadable: TableManifest;
  if (jobStarted) {
    loadable = external.staged(manifest);
  } else {
    const staged = await external.stage(manifest);
    if (staged === undefined)
      return continueLater(message, deps, ctx.logger, 'files still to stage in Cloud Storage');
    loadable = staged;
  }
  const clearing: Finish = async (status, patch) => {
    await external.clearStaging();
    return finish(status, patch);
  };
  try {
    return await restoreData(
      message,
      spec,
      loadable,
      { folder: external.stagingFolder, manifestUri: external.manifestUri, files: manifest.files },
      task,
      deps,
      ctx,
      clearing,
    );
  } catch (err) {
    // A permanent failure ends the task: its staged copies go too (a retryable one keeps them).
    if (classifyError(err).kind === 'permanent') await external.clearStaging();
    throw err;
  }
}

/** Decodes `_table.json`, refusing one whose MD5 differs from the one `_backup.json` recorded. */
function decodeManifest(
  uri: string,
  bytes: Buffer | undefined,
  expectedMd5: string | undefined,
): TableManifest {
  if (bytes === undefined) throw new PermanentError('notFound', `manifest ${uri} not found`);
  if (expectedMd5 !== undefined) {
    const actual = md5Base64(bytes);
    if (actual !== expectedMd5)
      throw new PermanentError(
        'checksumMismatch',
        `manifest ${uri} has MD5 ${actual}, but _backup.json recorded ${expectedMd5}: it was changed or damaged`,
      );
  }
  try {
    return decode(TableManifest, JSON.parse(bytes.toString('utf8')), uri);
  } catch (err) {
    const detail = err instanceof ValidationError ? err.message : `not JSON: ${(err as Error).message}`;
    throw new PermanentError('invalid', `manifest ${uri} is not a bqbr table manifest: ${detail}`);
  }
}

/** Every file the manifest lists must exist with its size and checksums: nothing partial is loaded. */
async function checkFiles(
  files: readonly BackupFileEntry[],
  folderPrefix: string,
  io: RestoreIO,
): Promise<void> {
  const stored = await io.listObjects(folderPrefix);
  for (const file of files) checkAgainstManifest(file.uri, stored.get(file.uri), file);
}

/**
 * An existing target is left untouched unless the request allows writing to it: WRITE_APPEND, or
 * WRITE_TRUNCATE on a target it named explicitly. A table this task created itself is not "existing".
 */
async function checkTarget(spec: RestoreTaskSpec, task: TaskDoc, io: RestoreIO): Promise<boolean> {
  const existing = await io.getTable(spec.target);
  if (existing === undefined || task.createdTarget === true) return existing !== undefined;
  if (spec.writeDisposition === 'WRITE_APPEND') return true;
  if (spec.writeDisposition === 'WRITE_TRUNCATE' && spec.allowReplace) return true;
  if (spec.writeDisposition === 'WRITE_EMPTY' && existing.numRows === 0 && existing.type === 'TABLE')
    return true;
  const how =
    spec.writeDisposition === 'WRITE_TRUNCATE'
      ? 'WRITE_TRUNCATE replaces a table only on a target the request names (targetDataset or targetDatasetPrefix)'
      : 'to replace it, name the target (targetDataset or targetDatasetPrefix) and use writeDisposition WRITE_TRUNCATE';
  throw new PermanentError(
    'duplicate',
    `target ${nameOf(spec.target)} already exists (${existing.numRows} rows) and was left untouched: ${how}`,
  );
}

/**
 * Whether the target existed before this task wrote to it: decided (and recorded) before the task's
 * first job, so later deliveries and job attempts keep the first answer.
 */
async function targetState(
  message: TaskMessage,
  spec: RestoreTaskSpec,
  task: TaskDoc,
  deps: RestoreStepDeps,
): Promise<boolean> {
  if (task.targetExisted !== undefined) return task.targetExisted;
  const existed = await checkTarget(spec, task, deps.restore);
  task.targetExisted = existed;
  await deps.state.updateTask(message.operationId, message.taskId, { targetExisted: existed });
  return existed;
}

/** The table settings of `_table.json` that a new table (or a load that creates it) takes. */
function tableSettings(manifest: TableManifest): Record<string, unknown> {
  return {
    ...(manifest.timePartitioning ? { timePartitioning: manifest.timePartitioning } : {}),
    ...(manifest.rangePartitioning ? { rangePartitioning: manifest.rangePartitioning } : {}),
    ...(manifest.clustering ? { clustering: manifest.clustering } : {}),
  };
}

function tableProperties(manifest: TableManifest): Record<string, unknown> {
  return {
    ...(manifest.description !== undefined ? { description: manifest.description } : {}),
    ...(manifest.friendlyName !== undefined ? { friendlyName: manifest.friendlyName } : {}),
    ...(manifest.labels !== undefined ? { labels: manifest.labels } : {}),
  };
}

/** Load options per format: how bqbr's own export wrote the files. */
function formatOptions(
  format: TableManifest['export']['format'],
  header: boolean,
  fieldDelimiter: string,
): Record<string, unknown> {
  switch (format) {
    case 'AVRO':
      return { sourceFormat: 'AVRO', useAvroLogicalTypes: true };
    case 'PARQUET':
      return { sourceFormat: 'PARQUET', parquetOptions: { enableListInference: true } };
    case 'JSON':
      return { sourceFormat: 'NEWLINE_DELIMITED_JSON' };
    case 'CSV':
      return {
        sourceFormat: 'CSV',
        skipLeadingRows: header ? 1 : 0,
        fieldDelimiter,
        allowQuotedNewlines: true,
      };
  }
}

function sourceUris(manifest: TableManifest, folder: string): string[] {
  if (manifest.files.length <= MAX_SOURCE_URIS) return manifest.files.map((f) => f.uri);
  const ext = manifest.files[0]!.name.replace(/^data-[^.]*\./, '');
  return [`${folder}/data-*.${ext}`];
}

const folderOf = (manifestUri: string): string => manifestUri.replace(/\/[^/]*$/, '');

async function restoreData(
  message: TaskMessage,
  spec: RestoreTaskSpec,
  manifest: TableManifest,
  from: LoadFrom,
  task: TaskDoc,
  deps: RestoreStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  const io = deps.restore;
  const { folder } = from;
  const firstDelivery = task.jobIds.length === 0;
  if (firstDelivery) await checkFiles(manifest.files, `${folder}/`, io);
  const targetExisted = await targetState(message, spec, task, deps);
  const { format, header, fieldDelimiter } = manifest.export;
  const fields = manifest.schema.fields;
  const common = {
    ...formatOptions(format, header, fieldDelimiter),
    sourceUris: sourceUris(manifest, folder),
    ignoreUnknownValues: spec.ignoreUnknownValues,
    maxBadRecords: spec.maxBadRecords,
  };
  const bytes = manifest.files.reduce((sum, f) => sum + f.bytes, 0);
  const done = (rows: number, note?: string): Promise<StepOutcome> =>
    finish('SUCCEEDED', {
      rows,
      bytes,
      fileCount: manifest.files.length,
      files: from.files.slice(0, MAX_FILES_IN_TASK),
      manifestUri: from.manifestUri,
      ...(note === undefined ? {} : { note }),
    });
  const appending = targetExisted && spec.writeDisposition === 'WRITE_APPEND';
  const disposition = targetExisted ? spec.writeDisposition : 'WRITE_EMPTY';

  if (format === 'AVRO' && hasDatetime(fields)) {
    // BigQuery writes DATETIME to Avro as a string it cannot load back into DATETIME: load the strings
    // into a staging table, then convert them with a query into the table created with the exact schema.
    const staging: TableRef = {
      ...spec.target,
      tableId: stagingTableId(message.operationId, message.taskId),
    };
    const stage = await runJob(message, task, deps, ctx, {
      jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'stage'),
      location: spec.location,
      configuration: {
        load: {
          ...common,
          destinationTable: staging,
          schema: { fields: stagingSchema(fields) },
          createDisposition: 'CREATE_IF_NEEDED',
          writeDisposition: 'WRITE_TRUNCATE',
        },
      },
    });
    if (stage.kind === 'continued') return stage.outcome;
    if (stage.job.errorResult !== undefined)
      return jobFailed(message, task, deps, ctx, finish, 'load', stage.job.errorResult);
    const staged = stage.job.outputRows;
    if (!targetExisted) {
      if (task.createdTarget !== true) {
        task.createdTarget = true;
        await deps.state.updateTask(message.operationId, message.taskId, { createdTarget: true });
      }
      await io.createTable(spec.target, newTableBody(manifest));
    }
    const convert = await runJob(message, task, deps, ctx, {
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
      return jobFailed(message, task, deps, ctx, finish, 'conversion query', convert.job.errorResult);
    await io.deleteTable(staging);
    const rows = appending ? (staged ?? manifest.numRows) : await tableRows(spec.target, io);
    verifyRows(spec, manifest, rows, appending);
    await afterLoad(spec, manifest, io);
    return done(rows, 'DATETIME columns converted from Avro strings through a staging table');
  }

  const load = await runJob(message, task, deps, ctx, {
    jobId: restoreJobId(message.operationId, message.taskId, task.jobAttempt, 'load'),
    location: spec.location,
    configuration: {
      load: {
        ...common,
        destinationTable: spec.target,
        schema: { fields },
        ...tableSettings(manifest),
        destinationTableProperties: tableProperties(manifest),
        createDisposition: 'CREATE_IF_NEEDED',
        writeDisposition: disposition,
      },
    },
  });
  if (load.kind === 'continued') return load.outcome;
  if (load.job.errorResult !== undefined)
    return jobFailed(message, task, deps, ctx, finish, 'load', load.job.errorResult);
  const rows = appending ? (load.job.outputRows ?? manifest.numRows) : await tableRows(spec.target, io);
  verifyRows(spec, manifest, rows, appending);
  await afterLoad(spec, manifest, io);
  return done(rows);
}

async function tableRows(ref: TableRef, io: RestoreIO): Promise<number> {
  const table = await io.getTable(ref);
  if (table === undefined) throw new PermanentError('notFound', `restored table ${nameOf(ref)} is gone`);
  return table.numRows;
}

/** The restored rows must be the manifest's count; the task fails with both numbers otherwise. */
function verifyRows(spec: RestoreTaskSpec, manifest: TableManifest, rows: number, appended: boolean): void {
  if (rows === manifest.numRows) return;
  throw new PermanentError(
    'rowCountMismatch',
    `${nameOf(spec.target)}: ${appended ? 'appended' : 'restored'} ${rows} rows, but the backup's manifest says ${manifest.numRows}`,
  );
}

/** What a load cannot set: requirePartitionFilter. */
async function afterLoad(spec: RestoreTaskSpec, manifest: TableManifest, io: RestoreIO): Promise<void> {
  if (manifest.requirePartitionFilter === true)
    await io.patchTable(spec.target, { requirePartitionFilter: true });
}

/** tables.insert body of a table recreated from its manifest. */
function newTableBody(manifest: TableManifest): Record<string, unknown> {
  return {
    schema: { fields: manifest.schema.fields },
    ...tableSettings(manifest),
    ...tableProperties(manifest),
    ...(manifest.requirePartitionFilter === true ? { requirePartitionFilter: true } : {}),
  };
}

/** A view (or materialized view) recreated with its query's references to restored datasets rewritten. */
async function restoreView(
  spec: RestoreTaskSpec,
  manifest: TableManifest,
  deps: RestoreStepDeps,
  finish: Finish,
): Promise<StepOutcome> {
  const io = deps.restore;
  const definition = (manifest.view ?? manifest.materializedView ?? {}) as Record<string, unknown>;
  const query = typeof definition['query'] === 'string' ? definition['query'] : undefined;
  if (query === undefined) throw new PermanentError('invalid', `${spec.manifestUri} has no view query`);
  const rewritten = rewriteViewQuery(query, {
    sourceProject: spec.source.projectId,
    targetProject: spec.target.projectId,
    datasetMap: spec.datasetMap,
  });
  const key = manifest.tableType === 'VIEW' ? 'view' : 'materializedView';
  const body = {
    [key]: { ...definition, query: rewritten },
    ...tableProperties(manifest),
    ...(manifest.tableType === 'VIEW' && manifest.schema.fields.length > 0
      ? { schema: { fields: descriptionsOnly(manifest.schema.fields) } }
      : {}),
  };
  const existing = await io.getTable(spec.target);
  if (existing !== undefined) {
    if (!(spec.writeDisposition === 'WRITE_TRUNCATE' && spec.allowReplace))
      throw new PermanentError(
        'duplicate',
        `target ${nameOf(spec.target)} already exists and was left untouched: to replace it, name the target and use writeDisposition WRITE_TRUNCATE`,
      );
    await io.patchTable(spec.target, body);
  } else {
    await io.createTable(spec.target, body);
  }
  return finish('SUCCEEDED', {
    rows: 0,
    bytes: 0,
    fileCount: 0,
    note:
      rewritten === query
        ? `${key} recreated`
        : `${key} recreated; references to restored datasets rewritten`,
  });
}

/** A view's schema is computed from its query; only the descriptions can be given (BigQuery checks the rest). */
function descriptionsOnly(fields: readonly FieldSchema[]): FieldSchema[] {
  return fields.map((f) => ({
    name: f.name,
    type: f.type,
    ...(f.mode !== undefined ? { mode: f.mode } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.fields !== undefined ? { fields: descriptionsOnly(f.fields) } : {}),
  }));
}

/** A backup in the original service's layout: no manifest, so the schema is detected and rows counted, not verified. */
async function restoreOriginal(
  message: TaskMessage,
  spec: RestoreTaskSpec,
  original: NonNullable<RestoreTaskSpec['original']>,
  task: TaskDoc,
  deps: RestoreStepDeps,
  ctx: StepContext,
  finish: Finish,
): Promise<StepOutcome> {
  const targetExisted = await targetState(message, spec, task, deps);
  const selfDescribing = original.format === 'AVRO' || original.format === 'PARQUET';
  const load = await runJob(message, task, deps, ctx, {
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
  if (load.job.errorResult !== undefined)
    return jobFailed(message, task, deps, ctx, finish, 'load', load.job.errorResult);
  const rows = load.job.outputRows ?? (await tableRows(spec.target, deps.restore));
  return finish('SUCCEEDED', {
    rows,
    bytes: 0,
    fileCount: original.files.length,
    note: `original service's layout: no manifest, ${selfDescribing ? 'schema from the files' : 'schema detected'}; ${rows} rows loaded, not verified against a manifest`,
  });
}
