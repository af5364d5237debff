// A restore from a backup outside Cloud Storage (S3, Azure Blob Storage, a filesystem): BigQuery loads
// only gs:// files, so the worker reads `_table.json` from the backup's store and copies the data files
// it lists into the task's Cloud Storage staging folder (each checked against the manifest's size and
// MD5 on arrival), loads them from there, and deletes them when the task ends. A redelivery skips the
// files already staged whole.
import {
  PermanentError,
  classifyError,
  type BackupStore,
  type RestoreTaskSpec,
  type TableManifest,
} from '@bqbr/shared';
import { DEFAULT_TRANSFER_CONCURRENCY, type StoreFactory } from './external-backup.js';
import type { StepContext, StepDeps } from './task-step.js';
import { checkAgainstManifest, copyFiles, deleteAll, readSmall, storedMd5 } from './transfer.js';

export interface ExternalRestore {
  /** The manifest's URI in the backup's store (for messages and the task's record). */
  readonly manifestUri: string;
  /** The gs:// folder the data files are staged in and loaded from. */
  readonly stagingFolder: string;
  /** `_table.json`'s bytes, or undefined when it is not there. */
  readManifest(): Promise<Buffer | undefined>;
  /**
   * Copies the manifest's data files into staging within the delivery's budget: the manifest with its
   * files at their staged URIs, or undefined when the budget ran out first (a continuation carries on).
   */
  stage(manifest: TableManifest): Promise<TableManifest | undefined>;
  /** The manifest with its files at their staged URIs (once staged). */
  staged(manifest: TableManifest): TableManifest;
  /** Deletes the staged files. */
  clearStaging(): Promise<void>;
}

/** The task's backup store outside Cloud Storage, or undefined for a backup in Cloud Storage. */
export function externalSource(
  spec: RestoreTaskSpec,
  deps: StepDeps & { readonly stores: StoreFactory },
  ctx: StepContext,
): ExternalRestore | undefined {
  if (spec.backupStore === undefined || spec.backupStore.kind === 'gcs') return undefined;
  const { manifestPath, stagingFolder } = spec;
  if (manifestPath === undefined || stagingFolder === undefined)
    throw new PermanentError(
      'invalid',
      'a restore task from an outside store needs manifestPath and stagingFolder',
    );
  const backup = deps.stores(spec.backupStore);
  const staging = deps.stores({ kind: 'gcs', uri: stagingFolder });
  const folder = manifestPath.replace(/[^/]*$/, '');
  const concurrency = deps.settings.transferConcurrency ?? DEFAULT_TRANSFER_CONCURRENCY;
  const staged = (manifest: TableManifest): TableManifest => ({
    ...manifest,
    files: manifest.files.map((file) => ({ ...file, uri: staging.uri(file.name) })),
  });
  return {
    manifestUri: backup.uri(manifestPath),
    stagingFolder,
    readManifest: () => readSmall(backup, manifestPath),
    async stage(manifest) {
      const started = Date.now();
      const budgetEnds = started + deps.settings.jobWaitMs;
      const files = manifest.files.map((file) => ({
        from: `${folder}${file.name}`,
        to: file.name,
        bytes: file.bytes,
        ...(file.md5 === undefined ? {} : { md5: file.md5 }),
      }));
      // Nothing partial is loaded: every file must be there as the manifest describes it before any moves.
      for (const file of files)
        checkAgainstManifest(backup.uri(file.from), await backup.stat(file.from), file);
      let report;
      try {
        report = await copyFiles(backup, staging, files, {
          concurrency,
          logger: ctx.logger,
          stop: () => ctx.signal.aborted || Date.now() >= budgetEnds,
        });
      } catch (err) {
        // A copy that arrived different: a fault in transit (retried), or a file changed in the backup
        // whose store keeps no MD5 to compare up front (a filesystem). Hash the source to tell which.
        const reason = classifyError(err).reason;
        if (reason === 'checksumMismatch' || reason === 'sizeMismatch')
          for (const file of files) await checkContent(backup, file);
        throw err;
      }
      const seconds = (Date.now() - started) / 1000;
      ctx.logger.info('files staged in Cloud Storage for the load', {
        from: backup.uri(folder),
        to: stagingFolder,
        ...report,
        seconds,
      });
      return report.complete ? staged(manifest) : undefined;
    },
    staged,
    async clearStaging() {
      await deleteAll(staging);
    },
  };
}

/** A data file's own bytes against its manifest MD5 (read whole): a difference fails the task. */
async function checkContent(
  backup: BackupStore,
  file: { readonly from: string; readonly md5?: string },
): Promise<void> {
  if (file.md5 === undefined) return;
  const actual = await storedMd5(backup, file.from);
  if (actual !== file.md5)
    throw new PermanentError(
      'checksumMismatch',
      `data file ${backup.uri(file.from)} does not match its manifest: MD5 ${actual}, manifest ${file.md5}`,
    );
}
