// Carrying files between stores: a landing folder in Cloud Storage → a home outside it after an extract,
// and back before a load (landing-folder.ts). Each file is streamed (the stores keep memory bounded and
// check the far side before an object becomes visible); a few files move at once. A file already at the
// far end with the same size and MD5 is not copied again, so a redelivered task resumes where the killed
// one stopped instead of starting over.
import { createHash } from 'node:crypto';
import type { BackupStore, Logger } from '@bqbr/shared';

export interface FileToCopy {
  /** Path in the source store. */
  readonly from: string;
  /** Path in the target store. */
  readonly to: string;
  readonly bytes: number;
  /** MD5 (base64) the bytes must have: checked by the target store before the object is visible. */
  readonly md5?: string;
}

export interface CopyOptions {
  /** Files moved at once (each store also uploads several parts or blocks of one file at once). */
  readonly concurrency: number;
  readonly logger?: Logger;
  /**
   * Asked before each file: true stops starting new ones (those under way finish), and the report says
   * the copy is not complete. A delivery's time budget or a shutdown, so the next delivery carries on.
   */
  readonly stop?: () => boolean;
}

export interface CopyReport {
  readonly copied: number;
  /** Files found complete at the far end (an earlier delivery copied them). */
  readonly skipped: number;
  /** Bytes moved by this call. */
  readonly bytes: number;
  /** Every file is at the far end (false: `stop` said so before all were started). */
  readonly complete: boolean;
}

/**
 * The file is at the far end whole: same size and same MD5. A store that keeps no MD5 for it (a
 * filesystem) has it read back and hashed; without an MD5 to compare, the file is copied again.
 */
async function alreadyThere(to: BackupStore, file: FileToCopy): Promise<boolean> {
  const found = await to.stat(file.to);
  if (found === undefined || found.bytes !== file.bytes || file.md5 === undefined) return false;
  if (found.md5 !== undefined) return found.md5 === file.md5;
  return (await storedMd5(to, file.to)) === file.md5;
}

export const md5Base64 = (bytes: Buffer): string => createHash('md5').update(bytes).digest('base64');

/** The MD5 (base64) of an object's bytes, read whole as a stream. */
export async function storedMd5(store: BackupStore, path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of await store.get(path)) hash.update(chunk as Buffer);
  return hash.digest('base64');
}

const contentTypeOf = (path: string): string =>
  path.endsWith('.json') ? 'application/json' : 'application/octet-stream';

/** Copies every file from `from` to `to`, skipping those already complete there. */
export async function copyFiles(
  from: BackupStore,
  to: BackupStore,
  files: readonly FileToCopy[],
  options: CopyOptions,
): Promise<CopyReport> {
  let copied = 0;
  let skipped = 0;
  let bytes = 0;
  let next = 0;
  let failed = false;
  let stopped = false;
  const lane = async (): Promise<void> => {
    while (next < files.length && !failed) {
      if (options.stop?.() === true) {
        stopped = true;
        return;
      }
      const file = files[next++]!;
      if (await alreadyThere(to, file)) {
        skipped++;
        continue;
      }
      const body = await from.get(file.from);
      const result = await to.put(file.to, body, {
        contentType: contentTypeOf(file.to),
        expectedBytes: file.bytes,
        ...(file.md5 === undefined ? {} : { expectedMd5: file.md5 }),
      });
      copied++;
      bytes += result.bytes;
      options.logger?.debug('file copied', {
        from: from.uri(file.from),
        to: to.uri(file.to),
        bytes: result.bytes,
      });
    }
  };
  const guarded = (): Promise<void> =>
    lane().catch((err: unknown) => {
      // The other lanes finish the file they are on and start no more.
      failed = true;
      throw err;
    });
  const lanes = Math.max(1, Math.min(options.concurrency, files.length));
  // Settle every lane before returning: nothing is still writing when the caller moves on.
  const settled = await Promise.allSettled(Array.from({ length: lanes }, guarded));
  const failure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return { copied, skipped, bytes, complete: !stopped };
}
