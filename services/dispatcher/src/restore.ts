// Restore planning and fan-out: find the backup (a timestamp or `latest`), read what it holds from its
// manifests (`_backup.json`; the original service's layout by its file names), choose the tables and
// their targets, create each target dataset once, and fan out one task per table. Views are phase 2:
// the completion check publishes them once every table has finished, so they can read restored tables.
import {
  DEFAULT_TARGET_DATASET_PREFIX,
  destinationUri,
  restoreSource,
  classifyError,
  type BackupManifest,
  type BackupTableEntry,
  type DestinationSpec,
  type ErrorInfo,
  type Logger,
  type OperationDoc,
  type PlanSummary,
  type RestoreRequest,
  type RestoreTaskSpec,
  type TableRef,
  type TaskDoc,
} from '@bqbr/shared';
import { plannedTaskDoc, publishTasks, type FanOutDeps } from './fan-out.js';
import { newOperationDoc } from './operation-doc.js';
import { pages } from './planner.js';
import { requireStaging, stagingFolderOf, stagingProblem } from './staging.js';

/** A backup found in a store. */
export interface FoundBackup {
  readonly timestamp: string;
  readonly snapshotMillis: number;
  /** `gs://.../backups/<ts>/<project>` (or the store's URI of it): for people. */
  readonly folder: string;
  /** `backups/<ts>/<project>`: the path in the store. */
  readonly folderPath: string;
  readonly layout: 'bqbr' | 'original' | 'incomplete';
  readonly manifest?: BackupManifest;
  readonly problem?: string;
}

export interface OriginalTable {
  readonly datasetId: string;
  readonly tableId: string;
  readonly format: 'AVRO' | 'PARQUET' | 'CSV' | 'JSON';
  readonly files: readonly { readonly uri: string; readonly path: string; readonly bytes: number }[];
}

/** Where restores read backups from: Cloud Storage, S3, Azure Blob Storage or a filesystem. */
export interface BackupSource {
  /** The backup of `projectId` at `timestamp` (yyyyMMdd_HHmmss or `latest`), or undefined. */
  find(where: DestinationSpec, projectId: string, timestamp: string): Promise<FoundBackup | undefined>;
  /** Timestamps of the backups of `projectId` there, newest first (for error messages). */
  timestamps(where: DestinationSpec, projectId: string): Promise<string[]>;
  /** The tables of an original-layout backup folder (`folderPath` in the store). */
  originalTables(where: DestinationSpec, folderPath: string): Promise<OriginalTable[]>;
  /** The `location` the table manifest at `manifestPath` records; undefined when missing or unreadable. */
  manifestLocation(where: DestinationSpec, manifestPath: string): Promise<string | undefined>;
}

/** Target datasets: created once by the dispatcher, before any task runs. */
export interface TargetDatasets {
  /** Creates the dataset unless it exists; says which. An existing dataset is left as it is. */
  ensure(
    ref: { projectId: string; datasetId: string },
    location: string | undefined,
  ): Promise<'created' | 'existed'>;
}

export interface RestoreDeps extends FanOutDeps {
  readonly backups: BackupSource;
  readonly datasets: TargetDatasets;
}

export interface RestoreStart {
  readonly operationId: string;
  readonly request: RestoreRequest;
  readonly requestMessageId?: string;
}

/** Thrown for a restore that cannot start (no such backup, an unfinished one): the operation fails with it. */
export class RestorePlanError extends Error {
  constructor(readonly info: ErrorInfo) {
    super(info.message);
  }
}

/** One table of the restore, decided at planning. */
export interface RestorePlanEntry {
  readonly source: TableRef;
  readonly target: TableRef;
  readonly action: 'RESTORE' | 'SKIP' | 'FAIL';
  readonly phase: 1 | 2;
  readonly manifestUri?: string;
  /** `_table.json`'s path in the store (`backups/<ts>/<project>/<dataset>/<table>/_table.json`). */
  readonly manifestPath?: string;
  readonly manifestMd5?: string;
  readonly original?: OriginalTable;
  readonly rows?: number;
  readonly bytes?: number;
  readonly note?: string;
  readonly error?: ErrorInfo;
}

export interface RestorePlan {
  readonly backup: FoundBackup;
  readonly entries: RestorePlanEntry[];
  readonly warnings: string[];
  /** Source dataset → target dataset, for every dataset in scope. */
  readonly datasetMap: Record<string, string>;
}

const isRecordedAs = (status: string): 'ok' | 'view' | 'failed' | 'absent' =>
  status === 'SUCCEEDED' ? 'ok' : status === 'SKIPPED' ? 'view' : status === 'FAILED' ? 'failed' : 'absent';

/** The target dataset of a backed-up dataset: `targetDataset`, else the prefix (default `restored_`) + its name. */
export function targetDatasetOf(request: RestoreRequest, datasetId: string): string {
  const details = request.bigQuery;
  if (details.targetDataset !== undefined) return details.targetDataset;
  return `${details.targetDatasetPrefix ?? DEFAULT_TARGET_DATASET_PREFIX}${datasetId}`;
}

/** Whether the request named its targets itself (then WRITE_TRUNCATE may replace existing tables). */
export const explicitTarget = (request: RestoreRequest): boolean =>
  request.bigQuery.targetDataset !== undefined || request.bigQuery.targetDatasetPrefix !== undefined;

/** Finds the backup and decides every table: what is restored where, and what is skipped or failed at once. */
export async function planRestore(request: RestoreRequest, source: BackupSource): Promise<RestorePlan> {
  const from = restoreSource(request);
  const where = from.spec;
  const rootUri = destinationUri(where, '');
  const backupProject = from.projectIdOfBackup;
  const backup = await source.find(where, backupProject, from.backupTimestamp);
  if (backup === undefined) {
    const known = await source.timestamps(where, backupProject);
    const listed =
      known.length === 0
        ? 'there are none'
        : `found: ${known.slice(0, 5).join(', ')}${known.length > 5 ? ', …' : ''}`;
    throw new RestorePlanError({
      reason: 'notFound',
      message:
        from.backupTimestamp === 'latest'
          ? `no finished backup of project ${backupProject} under ${rootUri}/backups (${listed})`
          : `no backup of project ${backupProject} at ${rootUri}/backups/${from.backupTimestamp} (${listed})`,
    });
  }
  if (backup.layout === 'incomplete')
    throw new RestorePlanError({
      reason: 'failedPrecondition',
      message: `the backup at ${backup.folder} has no readable _backup.json: it is still running or was interrupted${backup.problem ? ` (${backup.problem})` : ''}`,
    });

  const wantedDatasets = request.bigQuery.datasetsToRestore ?? [];
  const wantedTables = request.bigQuery.tablesToRestore;
  const inDatasetScope = (datasetId: string): boolean =>
    wantedDatasets.length === 0 || wantedDatasets.includes(datasetId);
  const inScope = (datasetId: string, tableId: string): boolean =>
    inDatasetScope(datasetId) &&
    (wantedTables === undefined || wantedTables.includes(`${datasetId}.${tableId}`));
  const targetProject = request.bigQuery.projectId;
  const ref = (projectId: string, datasetId: string, tableId: string): TableRef => ({
    projectId,
    datasetId,
    tableId,
  });
  const targetOf = (datasetId: string, tableId: string): TableRef =>
    ref(targetProject, targetDatasetOf(request, datasetId), tableId);

  const entries: RestorePlanEntry[] = [];
  const warnings: string[] = [];
  const seen = new Set<string>();
  const datasetsInBackup = new Set<string>();

  if (backup.layout === 'bqbr') {
    const manifest = backup.manifest!;
    if (manifest.status === 'FAILED' || manifest.status === 'PARTIALLY_FAILED')
      warnings.push(
        `the backup ${backup.timestamp} ended ${manifest.status}: tables that failed then cannot be restored`,
      );
    for (const table of manifest.tables) {
      datasetsInBackup.add(table.datasetId);
      if (!inScope(table.datasetId, table.tableId)) continue;
      seen.add(`${table.datasetId}.${table.tableId}`);
      entries.push(
        entryOf(
          table,
          ref(backupProject, table.datasetId, table.tableId),
          targetOf(table.datasetId, table.tableId),
          `${backup.folderPath}/${table.datasetId}/${table.tableId}/_table.json`,
        ),
      );
    }
  } else {
    if (where.kind !== 'gcs')
      throw new RestorePlanError({
        reason: 'failedPrecondition',
        message: `the backup at ${backup.folder} is in the original service's layout, which bqbr restores from Cloud Storage only (that service never wrote anywhere else): copy it to a gs:// bucket and restore from there; nothing was done`,
      });
    const tables = await source.originalTables(where, backup.folderPath);
    warnings.push(
      `the backup at ${backup.folder} is in the original service's layout (no manifests): schemas are detected by BigQuery, row counts are not verified, and partitioning, clustering, descriptions and labels are not restored`,
    );
    for (const table of tables) {
      datasetsInBackup.add(table.datasetId);
      if (!inScope(table.datasetId, table.tableId)) continue;
      seen.add(`${table.datasetId}.${table.tableId}`);
      entries.push({
        source: ref(backupProject, table.datasetId, table.tableId),
        target: targetOf(table.datasetId, table.tableId),
        action: 'RESTORE',
        phase: 1,
        original: table,
        bytes: table.files.reduce((n, f) => n + f.bytes, 0),
      });
    }
  }
  // What the request names but the backup does not hold fails, so nothing is missed silently.
  for (const datasetId of wantedDatasets) {
    if (datasetsInBackup.has(datasetId)) continue;
    entries.push({
      source: ref(backupProject, datasetId, '*'),
      target: targetOf(datasetId, '*'),
      action: 'FAIL',
      phase: 1,
      error: { reason: 'notFound', message: `dataset ${datasetId} is not in the backup at ${backup.folder}` },
    });
  }
  for (const name of wantedTables ?? []) {
    const [datasetId = '', tableId = ''] = name.split('.');
    if (seen.has(name) || !datasetsInBackup.has(datasetId)) continue;
    entries.push({
      source: ref(backupProject, datasetId, tableId),
      target: targetOf(datasetId, tableId),
      action: 'FAIL',
      phase: 1,
      error: { reason: 'notFound', message: `table ${name} is not in the backup at ${backup.folder}` },
    });
  }
  const datasetMap: Record<string, string> = {};
  for (const datasetId of datasetsInBackup)
    if (inDatasetScope(datasetId)) datasetMap[datasetId] = targetDatasetOf(request, datasetId);
  return { backup, entries, warnings, datasetMap };
}

function entryOf(
  table: BackupTableEntry,
  source: TableRef,
  target: TableRef,
  manifestPath: string,
): RestorePlanEntry {
  const base = {
    source,
    target,
    ...(table.manifest !== undefined ? { manifestUri: table.manifest, manifestPath } : {}),
    ...(table.manifestMd5 !== undefined ? { manifestMd5: table.manifestMd5 } : {}),
    ...(table.rows !== undefined ? { rows: table.rows } : {}),
    ...(table.bytes !== undefined ? { bytes: table.bytes } : {}),
  };
  switch (isRecordedAs(table.status)) {
    case 'ok':
      if (table.manifest === undefined) break;
      return { ...base, action: 'RESTORE', phase: 1 };
    case 'view':
      // Views (and other definitions) have a manifest; a table skipped for another reason has none.
      if (table.manifest !== undefined) return { ...base, action: 'RESTORE', phase: 2 };
      return { ...base, action: 'SKIP', phase: 1, note: `not in the backup: ${table.note ?? 'skipped'}` };
    case 'failed':
      return {
        ...base,
        action: 'FAIL',
        phase: 1,
        error: {
          reason: table.error?.reason ?? 'notFound',
          message: `its backup failed, nothing to restore: ${table.error?.message ?? 'no reason recorded'}`,
        },
      };
    case 'absent':
      break;
  }
  return {
    ...base,
    action: 'FAIL',
    phase: 1,
    error: { reason: 'notFound', message: `the backup holds no data for it (status ${table.status})` },
  };
}

/** The operation document a restore starts with. */
export function newRestoreOperation(start: RestoreStart, now: Date): OperationDoc {
  return newOperationDoc(
    {
      operationId: start.operationId,
      kind: 'restore',
      projectId: start.request.bigQuery.projectId,
      request: start.request,
      dryRun: start.request.dryRun === true,
      ...(start.requestMessageId !== undefined ? { requestMessageId: start.requestMessageId } : {}),
    },
    now,
  );
}

function specOf(
  operationId: string,
  request: RestoreRequest,
  entry: RestorePlanEntry,
  plan: RestorePlan,
  locations: ReadonlyMap<string, string | undefined>,
  stagingUri: string | undefined,
): RestoreTaskSpec {
  const { importOptions: options, spec: where } = restoreSource(request);
  const writeDisposition = options.writeDisposition ?? 'WRITE_EMPTY';
  const location = locations.get(entry.target.datasetId);
  return {
    kind: 'restore',
    source: entry.source,
    target: entry.target,
    writeDisposition,
    allowReplace: writeDisposition === 'WRITE_TRUNCATE' && explicitTarget(request),
    phase: entry.phase,
    datasetMap: plan.datasetMap,
    ignoreUnknownValues: options.ignoreUnknownValues ?? false,
    maxBadRecords: options.maxBadRecords ?? 0,
    ...(entry.manifestUri !== undefined ? { manifestUri: entry.manifestUri } : {}),
    ...(entry.manifestMd5 !== undefined ? { manifestMd5: entry.manifestMd5 } : {}),
    ...(entry.original !== undefined
      ? {
          original: {
            files: entry.original.files.map((f) => f.uri),
            format: entry.original.format,
            header: options.header ?? true,
            fieldDelimiter: options.fieldDelimiter ?? ',',
          },
        }
      : {}),
    ...(location !== undefined ? { location } : {}),
    ...(where.kind !== 'gcs' && entry.manifestPath !== undefined
      ? {
          // The worker reads the manifest there and stages the data files in Cloud Storage to load them.
          backupStore: where,
          manifestPath: entry.manifestPath,
          stagingFolder: stagingFolderOf(
            requireStaging('restore', where.kind, stagingUri),
            operationId,
            entry.target,
          ),
        }
      : {}),
  };
}

function taskDoc(
  operationId: string,
  request: RestoreRequest,
  plan: RestorePlan,
  entry: RestorePlanEntry,
  locations: ReadonlyMap<string, string | undefined>,
  at: string,
  stagingUri: string | undefined,
): TaskDoc {
  const status = entry.action === 'RESTORE' ? 'PENDING' : entry.action === 'SKIP' ? 'SKIPPED' : 'FAILED';
  return plannedTaskDoc(
    {
      operationId,
      table: entry.source,
      spec: specOf(operationId, request, entry, plan, locations, stagingUri),
      status,
      phase: entry.phase,
      ...(entry.note !== undefined ? { note: entry.note } : {}),
      ...(entry.error !== undefined ? { error: entry.error } : {}),
    },
    at,
  );
}

/** Each target dataset's location: `restoreRegion`, else the backed-up dataset's (from one of its manifests). */
async function targetLocations(
  request: RestoreRequest,
  plan: RestorePlan,
  source: BackupSource,
): Promise<Map<string, string | undefined>> {
  const { importOptions, spec: where } = restoreSource(request);
  const region = importOptions.restoreRegion;
  const locations = new Map<string, string | undefined>();
  for (const entry of plan.entries) {
    if (entry.action !== 'RESTORE' || locations.has(entry.target.datasetId)) continue;
    const location =
      region ??
      (entry.manifestPath !== undefined
        ? await source.manifestLocation(where, entry.manifestPath)
        : undefined);
    locations.set(entry.target.datasetId, location);
  }
  return locations;
}

/** A dry run: the restore's plan, kept on a SUCCEEDED operation; nothing is created. */
function dryRunSummary(plan: RestorePlan): PlanSummary {
  const restored = plan.entries.filter((e) => e.action === 'RESTORE');
  return {
    tables: plan.entries.length,
    skipped: plan.entries.length - restored.length,
    bytes: restored.reduce((n, e) => n + (e.bytes ?? 0), 0),
    rows: restored.reduce((n, e) => n + (e.rows ?? 0), 0),
    sample: plan.entries.slice(0, 1000).map((e) => ({
      table: `${e.source.datasetId}.${e.source.tableId} → ${e.target.datasetId}.${e.target.tableId}`,
      action: e.action === 'RESTORE' ? 'RESTORE' : 'SKIP',
      ...(e.note !== undefined ? { note: e.note } : {}),
      ...(e.error !== undefined ? { note: `${e.error.reason}: ${e.error.message}` } : {}),
      ...(e.bytes !== undefined ? { bytes: e.bytes } : {}),
    })),
  };
}

/**
 * Starts (or resumes) a restore. An operation past planning only gets a completion check; a plan that
 * cannot be made (no such backup) throws RestorePlanError for the caller to record.
 */
export async function startRestore(start: RestoreStart, deps: RestoreDeps, logger: Logger): Promise<void> {
  const now = deps.now ?? (() => new Date());
  const { created, operation } = await deps.store.createOperation(newRestoreOperation(start, now()));
  if (operation.status !== 'PLANNING') {
    logger.info('request seen again; operation already past planning', { status: operation.status });
    await deps.completion.check(operation.operationId);
    return;
  }
  if (!created) logger.info('resuming the planning of an operation');
  const request = start.request;
  const sourceKind = restoreSource(request).spec.kind;
  const staging = stagingProblem('restore', sourceKind, deps.stagingUri);
  if (staging !== undefined) throw new RestorePlanError(staging);
  const plan = await planRestore(request, deps.backups);
  const snapshotMillis = plan.backup.snapshotMillis;
  const common = {
    backupFolder: plan.backup.folder,
    backupLayout: plan.backup.layout === 'original' ? ('original' as const) : ('bqbr' as const),
    snapshotMillis,
    snapshotTime: new Date(snapshotMillis).toISOString(),
    location: plan.backup.folder,
    ...(plan.warnings.length > 0 ? { warnings: plan.warnings } : {}),
  };
  if (request.dryRun === true) {
    const at = now().toISOString();
    await deps.store.transitionOperation(start.operationId, ['PLANNING'], 'SUCCEEDED', {
      ...common,
      plan: dryRunSummary(plan),
      fanOutComplete: true,
      finishedAt: at,
      notified: true,
    });
    logger.info('restore dry run planned', { tables: plan.entries.length });
    return;
  }
  await deps.store.updateOperation(start.operationId, common);
  const locations = await targetLocations(request, plan, deps.backups);
  for (const [datasetId, location] of locations) {
    const outcome = await deps.datasets.ensure(
      { projectId: request.bigQuery.projectId, datasetId },
      location,
    );
    logger.info(outcome === 'created' ? 'target dataset created' : 'target dataset exists: left as it is', {
      datasetId,
      location,
    });
  }
  logger.info('restore planned', {
    backup: plan.backup.folder,
    layout: plan.backup.layout,
    tables: plan.entries.length,
  });
  const docs = (async function* () {
    for await (const page of pages(plan.entries, deps.batchSize)) {
      const at = now().toISOString();
      yield page.map((entry) =>
        taskDoc(start.operationId, request, plan, entry, locations, at, deps.stagingUri),
      );
    }
  })();
  await publishTasks(start.operationId, !created, docs, deps, logger);
}

/** A restore error the intake records on the operation (a plan error, or a permanent client error). */
export function restoreFailure(err: unknown): ErrorInfo | undefined {
  if (err instanceof RestorePlanError) return err.info;
  const failure = classifyError(err);
  return failure.kind === 'retryable' ? undefined : { reason: failure.reason, message: failure.message };
}
