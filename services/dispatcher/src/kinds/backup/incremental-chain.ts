// Incremental backups (docs/contracts.md, "Incremental backups"): which backup an incremental builds on,
// where it stands in its chain, and what each table's task is told about the base. A request that cannot
// have the base it names is refused at planning; `latest` with nothing to build on (no earlier backup, the
// chain at its length) makes this backup the full backup a new chain starts from, and says so.
import {
  DEFAULT_MAX_CHAIN_LENGTH,
  PermanentError,
  backupDestination,
  destinationUri,
  type BackupRequest,
  type IncrementalBase,
  type OperationDoc,
  type TableRef,
} from '@bqbr/shared';
import type { BackupSource, FoundBackup } from '../restore/backup-source.js';

export type Chain = NonNullable<OperationDoc['incremental']>;

export interface ChainPlan {
  readonly chain: Chain;
  /** The base backup as found in the store (an incremental), or undefined (the chain's full backup). */
  readonly base?: FoundBackup;
  readonly warnings: string[];
}

/**
 * The chain of an incremental-mode backup. A resumed operation keeps the chain its first planning chose
 * (`operation.incremental`), so every table of it builds on the same base.
 */
export async function planChain(
  request: BackupRequest,
  operation: OperationDoc,
  backups: Pick<BackupSource, 'find'>,
): Promise<ChainPlan> {
  const home = backupDestination(request).spec;
  const projectId = request.bigQuery.projectId;
  const where = destinationUri(home, 'backups');
  const existing = operation.incremental;
  if (existing !== undefined) {
    if (existing.base === undefined) return { chain: existing, warnings: [] };
    const base = await backups.find(home, projectId, existing.base);
    if (base?.manifest === undefined)
      throw new PermanentError('notFound', `the base backup ${existing.base} is gone from ${where}`);
    return { chain: existing, base, warnings: [] };
  }

  const named = request.base ?? 'latest';
  const explicit = named !== 'latest';
  const found = await backups.find(home, projectId, named);
  const snapshotMillis = operation.snapshotMillis!;
  const full = (why: string): ChainPlan => ({
    chain: { chainLength: 0, dependsOn: [] },
    warnings: [`${why}: this backup is a full backup, the start of a new chain`],
  });
  if (found === undefined) {
    if (explicit)
      throw new PermanentError('notFound', `no backup ${named} of project ${projectId} in ${where}`);
    return full(`no earlier backup of project ${projectId} in ${where} to build on`);
  }
  if (found.layout !== 'bqbr' || found.manifest === undefined || found.manifest.status === 'FAILED') {
    const what =
      found.layout === 'original'
        ? "is the original service's (no bqbr manifests)"
        : found.problem !== undefined
          ? `cannot be read (${found.problem})`
          : found.manifest?.status === 'FAILED'
            ? 'FAILED'
            : `is ${found.layout}`;
    if (explicit)
      throw new PermanentError(
        'invalid',
        `the base backup ${found.timestamp} ${what}: an incremental cannot build on it`,
      );
    return full(`the latest backup ${found.timestamp} ${what}`);
  }
  if (found.manifest.snapshotMillis >= snapshotMillis) {
    const why = `the base backup ${found.timestamp} (snapshot ${found.manifest.snapshotTime}) is not older than this backup's snapshot (${new Date(snapshotMillis).toISOString()})`;
    if (explicit) throw new PermanentError('invalid', why);
    return full(why);
  }
  const maxChainLength = request.maxChainLength ?? DEFAULT_MAX_CHAIN_LENGTH;
  const chainLength = (found.manifest.chainLength ?? 0) + 1;
  if (chainLength > maxChainLength)
    return full(
      `the chain behind ${found.timestamp} holds ${chainLength - 1} incrementals (maxChainLength ${maxChainLength})`,
    );
  return {
    chain: {
      chainLength,
      dependsOn: [...new Set([...(found.manifest.dependsOn ?? []), found.timestamp])].sort(),
      base: found.timestamp,
      baseFolderPath: found.folderPath,
      baseSnapshotMillis: found.manifest.snapshotMillis,
    },
    base: found,
    warnings: [],
  };
}

/**
 * What each table's task is told about the base: its table folder and `_table.json`'s MD5 where the base
 * backed the table up (SUCCEEDED or SKIPPED with a manifest); nothing for a table new since the base.
 */
export function baseTables(base: FoundBackup | undefined): (table: TableRef) => IncrementalBase | undefined {
  const byTable = new Map<string, IncrementalBase>();
  for (const entry of base?.manifest?.tables ?? []) {
    if (entry.status !== 'SUCCEEDED' || entry.manifest === undefined) continue;
    byTable.set(`${entry.datasetId}.${entry.tableId}`, {
      tablePath: `${base!.folderPath}/${entry.datasetId}/${entry.tableId}`,
      snapshotMillis: base!.manifest!.snapshotMillis,
      ...(entry.manifestMd5 !== undefined ? { manifestMd5: entry.manifestMd5 } : {}),
    });
  }
  return (table) => byTable.get(`${table.datasetId}.${table.tableId}`);
}

/** The base's tables this backup does not have: dropped since the base, or no longer selected. */
export function droppedTables(
  base: FoundBackup | undefined,
  has: ReadonlySet<string>,
): { datasetId: string; tableId: string }[] {
  return (base?.manifest?.tables ?? [])
    .filter((entry) => !has.has(`${entry.datasetId}.${entry.tableId}`))
    .map(({ datasetId, tableId }) => ({ datasetId, tableId }));
}
