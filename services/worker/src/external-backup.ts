// A backup to a destination outside Cloud Storage (S3, Azure Blob Storage, a filesystem): BigQuery
// extracts to the task's Cloud Storage staging folder, the worker carries every file to the destination
// (checked there before it is visible), writes `_table.json` there last, and clears the staging files.
// A redelivery resumes: files already whole at the destination are not copied again, and one that finds
// the manifest only finishes the cleanup. A manifest therefore never names a missing or partial file.
import { Readable } from 'node:stream';
import {
  PermanentError,
  TableManifest,
  decode,
  type BackupFileEntry,
  type BackupStore,
  type BackupTaskSpec,
  type DestinationSpec,
} from '@bqbr/shared';
import type { StepContext, StepDeps } from './task-step.js';
import { copyFiles, deleteAll, md5Base64, readSmall } from './transfer.js';

/** The store a destination names. */
export type StoreFactory = (where: DestinationSpec) => BackupStore;

/** Files moved at once per task when the settings do not say. */
export const DEFAULT_TRANSFER_CONCURRENCY = 4;

const MANIFEST = '_table.json';

export interface ExternalBackup {
  /** The destination's URI of `_table.json`. */
  readonly manifestUri: string;
  /** Data files already in the table's folder at the destination. */
  existingDataFiles(): Promise<number>;
  /**
   * Carries the extracted files to the destination within the delivery's budget: their entries as the
   * manifest lists them there, or undefined when the budget ran out first (a continuation carries on).
   */
  carry(extracted: readonly BackupFileEntry[]): Promise<BackupFileEntry[] | undefined>;
  /** Writes `_table.json` at the destination; its MD5. */
  writeManifest(manifest: TableManifest): Promise<string>;
  /** Reads `_table.json` at the destination, with its MD5; undefined when it is not there. */
  readManifest(): Promise<{ readonly manifest: TableManifest; readonly md5: string } | undefined>;
  /** Deletes the staging files (and anything an interrupted put left at the destination). */
  clearStaging(): Promise<void>;
}

/** The task's destination outside Cloud Storage, or undefined for a Cloud Storage backup. */
export function externalDestination(
  spec: BackupTaskSpec,
  deps: StepDeps & { readonly stores: StoreFactory },
  ctx: StepContext,
): ExternalBackup | undefined {
  if (spec.destination === undefined || spec.destination.kind === 'gcs') return undefined;
  if (spec.tablePath === undefined || spec.stagingFolder === undefined)
    throw new PermanentError(
      'invalid',
      'a backup task to an outside destination needs tablePath and stagingFolder',
    );
  const destination = deps.stores(spec.destination);
  const staging = deps.stores({ kind: 'gcs', uri: spec.stagingFolder });
  const folder = `${spec.tablePath}/`;
  const manifestPath = `${folder}${MANIFEST}`;
  const concurrency = deps.settings.transferConcurrency ?? DEFAULT_TRANSFER_CONCURRENCY;
  // One delivery (the job wait included) stays within the budget a job wait has: a push delivery must
  // answer before its ack deadline. What is left is carried by a continuation.
  const budgetEnds = Date.now() + deps.settings.jobWaitMs;
  return {
    manifestUri: destination.uri(manifestPath),
    async existingDataFiles() {
      return (await destination.list(`${folder}data-`)).length;
    },
    async carry(extracted) {
      // Whole files an earlier delivery copied are skipped. What a killed one left half-written is
      // cleared only once the manifest is written (clearStaging): another delivery of this task may
      // still be writing now, and nothing half-written is ever visible under the file's own name.
      const started = Date.now();
      const report = await copyFiles(
        staging,
        destination,
        extracted.map((file) => ({
          from: file.name,
          to: `${folder}${file.name}`,
          bytes: file.bytes,
          ...(file.md5 === undefined ? {} : { md5: file.md5 }),
        })),
        {
          concurrency,
          logger: ctx.logger,
          stop: () => ctx.signal.aborted || Date.now() >= budgetEnds,
        },
      );
      const seconds = (Date.now() - started) / 1000;
      ctx.logger.info('files carried to the destination', {
        destination: destination.uri(folder),
        ...report,
        seconds,
        mibPerSecond: seconds > 0 ? Math.round((report.bytes / 2 ** 20 / seconds) * 10) / 10 : undefined,
      });
      if (!report.complete) return undefined;
      return extracted.map((file) => ({ ...file, uri: destination.uri(`${folder}${file.name}`) }));
    },
    async writeManifest(manifest) {
      const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      const result = await destination.put(manifestPath, Readable.from([body]), {
        contentType: 'application/json',
        expectedBytes: body.length,
      });
      return result.md5;
    },
    async readManifest() {
      const bytes = await readSmall(destination, manifestPath);
      if (bytes === undefined) return undefined;
      try {
        const manifest = decode(
          TableManifest,
          JSON.parse(bytes.toString('utf8')),
          destination.uri(manifestPath),
        );
        return { manifest, md5: md5Base64(bytes) };
      } catch (err) {
        // Not ours to trust (damaged, or not a manifest): the task writes its own in its place.
        ctx.logger.warn('unreadable _table.json at the destination: it will be replaced', {
          error: (err as Error).message,
        });
        return undefined;
      }
    },
    async clearStaging() {
      await deleteAll(staging);
      // Every file is whole at the destination now: any upload still unfinished there is a leftover
      // (or a duplicate delivery's copy of a file that is already whole), never the only copy.
      const cleared = await destination.clearIncomplete(folder);
      if (cleared > 0)
        ctx.logger.info('cleared what interrupted uploads left at the destination', { cleared });
    },
  };
}

/**
 * The manifest this operation already wrote at the destination for a data table (a redelivery after
 * it was written), or undefined. A manifest of another operation (an older backup in the same folder)
 * does not count.
 */
export async function finishedAtDestination(
  external: ExternalBackup,
  operationId: string,
): Promise<{ readonly manifest: TableManifest; readonly md5: string } | undefined> {
  const found = await external.readManifest();
  if (found === undefined) return undefined;
  if (found.manifest.operationId !== operationId || found.manifest.extractJobId === undefined)
    return undefined;
  return found;
}
