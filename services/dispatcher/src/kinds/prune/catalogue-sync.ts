// The backups catalogue (Firestore `backups`) brought in step with storage by every prune: an entry for each
// bqbr backup with `_backup.json`, entries of folders a prune is deleting marked DELETING, entries of
// folders gone marked DELETED; at the end, the backups the prune deleted marked DELETED.
import {
  OPERATION_STATUSES,
  type BackupCatalogEntry,
  type BackupManifest,
  type Logger,
  type OperationStatus,
  type StateStore,
} from '@bqbr/shared';
import type { PruneDecision, PrunePlan } from './prune-plan.js';

export type CatalogueWrites = Pick<StateStore, 'putBackup' | 'updateBackup'>;

/** Rebuilds the location's catalogue entries of the project from what the plan found; returns how many changed. */
export async function reconcileCatalogue(
  plan: PrunePlan,
  store: CatalogueWrites,
  { operationId, locationUri, now }: { operationId: string; locationUri: string; now: Date },
  logger: Logger,
): Promise<number> {
  let changed = 0;
  for (const { backup } of plan.decisions) {
    const existing = plan.catalogue.get(backup.timestamp);
    if (backup.layout === 'bqbr' && backup.manifest !== undefined) {
      const entry = entryOf(backup.manifest, `${locationUri}/${backup.timestamp}`, existing, now);
      if (entry === undefined || (existing !== undefined && sameEntry(existing, entry))) continue;
      await store.putBackup(entry);
      changed++;
    } else if (backup.layout === 'pruning' && existing !== undefined && existing.state !== 'DELETING') {
      await store.updateBackup(existing.backupId, { state: 'DELETING' });
      changed++;
    }
  }
  for (const entry of plan.gone) {
    if (entry.state === 'DELETED') continue;
    await store.updateBackup(entry.backupId, {
      state: 'DELETED',
      deletedBy: operationId,
      deletedAt: now.toISOString(),
    });
    changed++;
  }
  if (changed > 0) logger.info('catalogue reconciled with storage', { changed, gone: plan.gone.length });
  return changed;
}

/** Marks the catalogue entries of the backups a prune deleted (idempotent: finalization may run twice). */
export async function markDeleted(
  deleted: readonly Pick<PruneDecision, 'backupId'>[],
  store: CatalogueWrites,
  { operationId, finishedAt }: { operationId: string; finishedAt: string },
): Promise<void> {
  for (const { backupId } of deleted) {
    if (backupId === undefined) continue;
    await store.updateBackup(backupId, { state: 'DELETED', deletedBy: operationId, deletedAt: finishedAt });
  }
}

/**
 * The entry `_backup.json` describes, at the folder it is in, keeping what only the catalogue knows
 * (verification, retention, dependencies); undefined for a status bqbr does not know.
 */
function entryOf(
  manifest: BackupManifest,
  location: string,
  existing: BackupCatalogEntry | undefined,
  now: Date,
): BackupCatalogEntry | undefined {
  if (!(OPERATION_STATUSES as readonly string[]).includes(manifest.status)) return undefined;
  const { deletedBy: _by, deletedAt: _at, ...kept } = existing ?? {};
  return {
    ...kept,
    backupId: manifest.operationId,
    operationId: manifest.operationId,
    projectId: manifest.projectId,
    snapshotMillis: manifest.snapshotMillis,
    snapshotTime: manifest.snapshotTime,
    location,
    format: manifest.export.format,
    compression: manifest.export.compression,
    status: manifest.status as OperationStatus,
    tables: manifest.summary.tables,
    failedTables: manifest.summary.failed,
    rows: manifest.summary.rows,
    bytes: manifest.summary.bytes,
    files: manifest.summary.files,
    createdAt: existing?.createdAt ?? manifest.finishedAt,
    ...(manifest.dependsOn !== undefined ? { dependsOn: [...manifest.dependsOn] } : {}),
    state: 'PRESENT',
    updatedAt: now.toISOString(),
  };
}

const sameEntry = (a: BackupCatalogEntry, b: BackupCatalogEntry): boolean =>
  JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));

const comparable = (entry: BackupCatalogEntry): [string, unknown][] =>
  Object.entries({ state: 'PRESENT', ...entry })
    .filter(([key]) => key !== 'updatedAt')
    .sort(([a], [b]) => (a < b ? -1 : 1));
