// The gs:// folder where BigQuery's job meets a table's backup: the extract writes there, the load reads
// from there. For a Cloud Storage home it is the table folder itself, and nothing is carried or cleared.
// Elsewhere it is a folder of the task's own under the staging URI: a backup's files are carried from it
// to the home, a restore's from the home into it, a few at a time within the delivery's budget (a
// continuation carries on), each checked at the far end before it is visible; a redelivery skips files
// already whole there. The task clears it once it is done with it.
import { PermanentError, classifyError, type BackupFileEntry, type BackupStore } from '@bqbr/shared';
import { WORKER_DEFAULTS } from './config.js';
import type { StepContext, StepDeps } from './step-deps.js';
import { fileEntry, filePath, type StoreFactory, type TableHome } from './table-home.js';
import { copyFiles, storedMd5, type FileToCopy } from './transfer.js';

export interface LandingFolder {
  /** The folder's gs:// URI. */
  readonly folderUri: string;
  /** The gs:// URI of a manifest's file in the folder: what a load reads. */
  uri(file: BackupFileEntry): string;
  /** The folder's `data-` files, in name order: an extract's, and any others (`filesOfJob` tells them apart). */
  extracted(): Promise<BackupFileEntry[]>;
  /**
   * Carries extracted files to the home within the delivery's budget: their entries there, as the
   * manifest lists them, or undefined when the budget ran out first.
   */
  carryOut(extracted: readonly BackupFileEntry[]): Promise<BackupFileEntry[] | undefined>;
  /** Carries a manifest's files from the home into the folder within the budget: false if it ran out. */
  carryIn(files: readonly BackupFileEntry[]): Promise<boolean>;
  /** Deletes what was carried into the folder. */
  clear(): Promise<void>;
  /**
   * The folder is cleared once `_table.json` is at home: a manifest there may then be the only trace of
   * a finished backup, which a redelivery must not redo from a half-cleared folder.
   */
  readonly clearedAfterManifest: boolean;
}

const trimSlashes = (uri: string): string => uri.replace(/\/+$/, '');

export function openLandingFolder(
  home: TableHome,
  landingFolder: string,
  deps: StepDeps & { readonly stores: StoreFactory },
  ctx: StepContext,
): LandingFolder {
  const folderUri = trimSlashes(landingFolder);
  // Decided by place, not by kind of store: clearing the table folder itself would delete the backup.
  if (folderUri === trimSlashes(home.store.uri(home.folder))) return atHome(home, folderUri);
  return staged(home, folderUri, deps.stores({ kind: 'gcs', uri: folderUri }), deps, ctx);
}

/** The table folder is the landing folder: BigQuery reads and writes the backup's own files. */
function atHome(home: TableHome, folderUri: string): LandingFolder {
  return {
    folderUri,
    uri: (file) => home.store.uri(filePath(home, file)),
    extracted: () => home.dataFiles(),
    carryOut: (extracted) => Promise.resolve([...extracted]),
    carryIn: () => Promise.resolve(true),
    clear: () => Promise.resolve(),
    clearedAfterManifest: false,
  };
}

/** A folder of the task's own in Cloud Storage, between BigQuery and a home outside it. */
function staged(
  home: TableHome,
  folderUri: string,
  landing: BackupStore,
  deps: StepDeps,
  ctx: StepContext,
): LandingFolder {
  const concurrency = deps.settings.transferConcurrency ?? WORKER_DEFAULTS.transferConcurrency;
  // One delivery (the job wait included) stays within the budget a job wait has: a push delivery must
  // answer before its ack deadline. What is left is carried by a continuation.
  const budgetEnds = Date.now() + deps.settings.jobWaitMs;
  const homeUri = home.store.uri(home.folder);
  /** The copies between the two folders, out of the landing folder (to the home) or into it. */
  const copies = (files: readonly BackupFileEntry[], out: boolean): FileToCopy[] =>
    files.map((file) => {
      // Carried out: a file this backup wrote. Carried in: maybe one an incremental references elsewhere.
      const homePath = filePath(home, file);
      return {
        from: out ? file.name : homePath,
        to: out ? homePath : file.name,
        bytes: file.bytes,
        ...(file.md5 === undefined ? {} : { md5: file.md5 }),
      };
    });
  const carry = async (files: readonly FileToCopy[], out: boolean, what: string): Promise<boolean> => {
    const started = Date.now();
    const report = await copyFiles(out ? landing : home.store, out ? home.store : landing, files, {
      concurrency,
      logger: ctx.logger,
      stop: () => ctx.signal.aborted || Date.now() >= budgetEnds,
    });
    const seconds = (Date.now() - started) / 1000;
    ctx.logger.info(what, {
      from: out ? folderUri : homeUri,
      to: out ? homeUri : folderUri,
      ...report,
      seconds,
      mibPerSecond: seconds > 0 ? Math.round((report.bytes / 2 ** 20 / seconds) * 10) / 10 : undefined,
    });
    return report.complete;
  };
  return {
    folderUri,
    uri: (file) => landing.uri(file.name),
    async extracted() {
      return (await landing.list('data-')).map((stored) => fileEntry(landing, '', stored));
    },
    async carryOut(extracted) {
      // Whole files an earlier delivery copied are skipped. What a killed one left half-written is
      // cleared only once the manifest is written (the home's clearIncomplete): another delivery of
      // this task may still be writing now, and nothing half-written is visible under its own name.
      if (!(await carry(copies(extracted, true), true, 'files carried to the destination'))) return undefined;
      return extracted.map((file) => ({ ...file, uri: home.store.uri(`${home.folder}${file.name}`) }));
    },
    async carryIn(manifestFiles) {
      const files = copies(manifestFiles, false);
      try {
        return await carry(files, false, 'files staged in Cloud Storage for the load');
      } catch (err) {
        // A copy that arrived different: a fault in transit (retried), or a file changed in the backup
        // whose store keeps no MD5 to compare up front (a filesystem). Hash the source to tell which.
        const reason = classifyError(err).reason;
        if (reason === 'checksumMismatch' || reason === 'sizeMismatch')
          for (const file of files) await checkContent(home.store, file);
        throw err;
      }
    },
    async clear() {
      for (const file of await landing.list('')) await landing.delete(file.path);
    },
    clearedAfterManifest: true,
  };
}

/** A data file's own bytes against its manifest MD5 (read whole): a difference fails the task. */
async function checkContent(store: BackupStore, file: FileToCopy): Promise<void> {
  if (file.md5 === undefined) return;
  const actual = await storedMd5(store, file.from);
  if (actual !== file.md5)
    throw new PermanentError(
      'checksumMismatch',
      `data file ${store.uri(file.from)} does not match its manifest: MD5 ${actual}, manifest ${file.md5}`,
    );
}
