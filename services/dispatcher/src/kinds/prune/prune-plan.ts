// Which backups a prune deletes (docs/contracts.md, "Prune and verify requests"): the project's backups at
// the location, their statuses and holds, and restic's rules (applyRetention) over them.
import {
  BACKUP_MANIFEST,
  applyRetention,
  backupFolderName,
  listStoredBackups,
  type BackupCatalogEntry,
  type BackupStore,
  type OperationStatus,
  type PruneRequest,
  type RetentionCandidate,
  type RetentionPolicy,
  type StateStore,
  type StoredBackup,
} from '@bqbr/shared';

export type PruneStateReads = Pick<StateStore, 'listOperations' | 'listBackups'>;

/** One backup folder and what the prune does with it. */
export interface PruneDecision {
  readonly backup: StoredBackup;
  readonly keep: boolean;
  readonly reasons: readonly string[];
  /** The catalogue entry of the backup (its operation id), when it has one. */
  readonly backupId?: string;
}

export interface PrunePlan {
  /** Newest first. */
  readonly decisions: readonly PruneDecision[];
  /** The project's catalogue entries, by backup folder name (those at other locations are left out). */
  readonly catalogue: ReadonlyMap<string, BackupCatalogEntry>;
  /** The catalogue entries of this project at this location whose folders are gone. */
  readonly gone: readonly BackupCatalogEntry[];
}

/** Catalogue entries a prune reads at most (Firestore's largest page). */
const CATALOGUE_LIMIT = 1000;
/** Running backup operations a prune looks for at most, per status. */
const RUNNING_LIMIT = 1000;
const RECONCILE_ONLY = 'reconcileOnly: nothing is deleted';
const UNFINISHED: readonly OperationStatus[] = ['PLANNING', 'RUNNING'];

/**
 * Every backup folder of the request's project in `store` and whether it goes. `locationUri` is
 * `destinationUri(location, 'backups')`, what catalogue entries' locations start with.
 */
export async function planPrune(
  request: PruneRequest,
  store: BackupStore,
  state: PruneStateReads,
  locationUri: string,
  now: Date,
): Promise<PrunePlan> {
  const projectId = request.bigQuery.projectId;
  // Running backups are read before and after the listing: a backup that ends between the two reads
  // wrote `_backup.json` before the listing or is running in the first read (never taken for a leftover).
  const runningBefore = await runningFolders(state, projectId);
  const backups = await listStoredBackups(store, { projectId });
  const running = new Set([...runningBefore, ...(await runningFolders(state, projectId))]);
  const catalogue = await catalogueAt(state, projectId, locationUri);
  const listed = new Set(backups.map((b) => b.timestamp));
  const gone = [...catalogue.entries()].filter(([folder]) => !listed.has(folder)).map(([, entry]) => entry);

  const locks = await Promise.all(backups.map((backup) => writeOnceHold(store, backup, catalogue, now)));
  const candidates: RetentionCandidate[] = [];
  const fixed = new Map<string, { keep: boolean; reasons: string[] }>();
  const newestSucceeded = newestSucceededMillis(backups);
  backups.forEach((backup, i) => {
    const candidate = candidateOf(backup, running, locks[i], newestSucceeded);
    if ('decided' in candidate) fixed.set(backup.timestamp, candidate.decided);
    else candidates.push(candidate);
  });

  const decided =
    request.retention !== undefined
      ? retentionWithDependencies(candidates, request.retention, (id) => {
          // `_backup.json` says what an incremental depends on; the catalogue, for one whose manifest is gone.
          const manifest = backups.find((b) => b.timestamp === id)?.manifest;
          return manifest?.dependsOn ?? catalogue.get(id)?.dependsOn ?? [];
        })
      : new Map(candidates.map((c) => [c.id, { keep: true, reasons: [] }]));
  const decisions = backups.map((backup): PruneDecision => {
    const rule = fixed.get(backup.timestamp) ?? decided.get(backup.timestamp)!;
    // reconcileOnly deletes nothing, not even what a previous prune left half deleted.
    const { keep, reasons } =
      request.reconcileOnly === true ? { keep: true, reasons: [RECONCILE_ONLY, ...rule.reasons] } : rule;
    const backupId = backup.manifest?.operationId ?? catalogue.get(backup.timestamp)?.backupId;
    return { backup, keep, reasons, ...(backupId !== undefined ? { backupId } : {}) };
  });
  return { decisions, catalogue, gone };
}

type Candidate = RetentionCandidate | { readonly decided: { keep: boolean; reasons: string[] } };

/**
 * How the rules see one backup folder:
 * - a folder a prune started deleting (`_pruning.json`) goes, whatever else: a previous prune decided;
 * - `_backup.json` SUCCEEDED, and the original service's backups: successful, the rules count them;
 * - FAILED: a failed backup, deleted unless held;
 * - PARTIALLY_FAILED: not successful (it neither takes a rule's slot nor is the newest successful), yet
 *   kept while it is newer than the newest SUCCEEDED backup: it holds the latest copy of the tables that
 *   did succeed. Once a successful backup is newer, it goes unless held;
 * - no `_backup.json` and bqbr's table folders: running while its backup operation is PLANNING or
 *   RUNNING, else the leftovers of a crashed backup (deleted);
 * - anything that cannot be read (an undecodable `_backup.json`, files bqbr does not recognise): kept.
 */
function candidateOf(
  backup: StoredBackup,
  running: ReadonlySet<string>,
  lock: string | undefined,
  newestSucceeded: number | undefined,
): Candidate {
  const holds = lock !== undefined ? [lock] : [];
  const base = { id: backup.timestamp, snapshotMillis: instantOf(backup) };
  switch (backup.layout) {
    case 'pruning':
      return {
        decided: { keep: false, reasons: ['partially deleted: a previous prune started deleting it'] },
      };
    case 'original':
      return { ...base, status: 'succeeded', holds };
    case 'incomplete':
      if (running.has(backup.timestamp)) return { ...base, status: 'running', holds };
      if (backup.problem !== undefined)
        return { decided: { keep: true, reasons: [`unreadable: ${backup.problem}`, ...holds] } };
      return { ...base, status: 'failed', holds };
    case 'bqbr': {
      const status = backup.manifest!.status;
      if (status === 'SUCCEEDED') return { ...base, status: 'succeeded', holds };
      if (
        status === 'PARTIALLY_FAILED' &&
        (newestSucceeded === undefined || base.snapshotMillis > newestSucceeded)
      )
        holds.push('partially failed, newer than the newest successful backup');
      return { ...base, status: 'failed', holds };
    }
  }
}

const instantOf = (backup: StoredBackup): number => backup.manifest?.snapshotMillis ?? backup.snapshotMillis;

const newestSucceededMillis = (backups: readonly StoredBackup[]): number | undefined => {
  const instants = backups
    .filter((b) => b.layout === 'original' || (b.layout === 'bqbr' && b.manifest?.status === 'SUCCEEDED'))
    .map(instantOf);
  return instants.length > 0 ? Math.max(...instants) : undefined;
};

/**
 * restic's rules, then the backups a kept one depends on (an incremental's `dependsOn`: docs/contracts.md,
 * "Incremental backups") held and the rules applied again, until no kept backup depends on one that goes.
 */
function retentionWithDependencies(
  candidates: readonly RetentionCandidate[],
  policy: RetentionPolicy,
  dependsOn: (id: string) => readonly string[],
): Map<string, { keep: boolean; reasons: string[] }> {
  const extra = new Map<string, string[]>();
  for (;;) {
    const decisions = applyRetention(
      candidates.map((c) => ({ ...c, holds: [...(c.holds ?? []), ...(extra.get(c.id) ?? [])] })),
      policy,
    );
    const byId = new Map(decisions.map((d) => [d.id, { keep: d.keep, reasons: [...d.reasons] }]));
    let added = false;
    for (const d of decisions) {
      if (!d.keep) continue;
      for (const base of dependsOn(d.id)) {
        const hold = `a kept backup depends on it (${d.id})`;
        if (!byId.has(base) || byId.get(base)!.keep) continue;
        extra.set(base, [...(extra.get(base) ?? []), hold]);
        added = true;
      }
    }
    if (!added) return byId;
  }
}

/** A write-once hold: `_backup.json` under a retention lock, or the catalogue's `retainUntil`, not yet over. */
async function writeOnceHold(
  store: BackupStore,
  backup: StoredBackup,
  catalogue: ReadonlyMap<string, BackupCatalogEntry>,
  now: Date,
): Promise<string | undefined> {
  const instants: string[] = [];
  const recorded = catalogue.get(backup.timestamp)?.retainUntil;
  if (recorded !== undefined) instants.push(recorded);
  if (backup.manifest !== undefined) {
    const stat = await store.stat(`${backup.folderPath}/${BACKUP_MANIFEST}`);
    if (stat?.retention !== undefined) instants.push(stat.retention.retainUntil);
  }
  const until = instants
    .filter((at) => Date.parse(at) > now.getTime())
    .sort()
    .at(-1);
  return until !== undefined ? `write-once until ${until}` : undefined;
}

/** The folder names the project's unfinished backup operations write to. */
async function runningFolders(state: PruneStateReads, projectId: string): Promise<string[]> {
  const operations = (
    await Promise.all(
      UNFINISHED.map((status) =>
        state.listOperations({ kind: 'backup', projectId, status, limit: RUNNING_LIMIT }),
      ),
    )
  ).flat();
  return operations
    .filter((op) => op.snapshotMillis !== undefined)
    .map((op) => backupFolderName(new Date(op.snapshotMillis!), op.operationId));
}

/** The project's catalogue entries at this location, by folder name (the last part of their location). */
async function catalogueAt(
  state: PruneStateReads,
  projectId: string,
  locationUri: string,
): Promise<Map<string, BackupCatalogEntry>> {
  const prefix = `${locationUri}/`;
  const entries = await state.listBackups({ projectId, limit: CATALOGUE_LIMIT });
  const byFolder = new Map<string, BackupCatalogEntry>();
  for (const entry of entries) {
    if (!entry.location.startsWith(prefix)) continue;
    const folder = entry.location.slice(prefix.length).replace(/\/+$/, '');
    if (folder === '' || folder.includes('/')) continue;
    byFolder.set(folder, entry);
  }
  return byFolder;
}
