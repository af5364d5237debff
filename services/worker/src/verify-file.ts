// One data file re-read against its manifest entry: streamed once through MD5 and CRC32C (bounded memory),
// its size, MD5 and CRC32C compared with what `_table.json` recorded.
import { createHash } from 'node:crypto';
import { addAbortSignal } from 'node:stream';
import {
  Crc32c,
  PermanentError,
  classifyError,
  crc32cToBase64,
  type BackupFileEntry,
  type BackupStore,
} from '@bqbr/shared';

/** What reading one file found: the bytes read, and what is wrong with it (nothing when it is whole). */
export interface FileCheck {
  readonly bytes: number;
  readonly problem?: string;
}

/**
 * Reads `path` in `store` and compares it with `entry`. A file that is gone is `missing`; one that cannot
 * be read for good is `unreadable`; anything retryable is thrown (the task's delivery is retried).
 */
export async function checkFile(
  store: BackupStore,
  path: string,
  entry: BackupFileEntry,
  signal: AbortSignal,
): Promise<FileCheck> {
  let body;
  try {
    body = await store.get(path);
  } catch (err) {
    if (err instanceof PermanentError && err.reason === 'notFound') return { bytes: 0, problem: 'missing' };
    const failure = classifyError(err);
    if (failure.kind === 'retryable') throw err;
    return { bytes: 0, problem: `unreadable: ${failure.message}` };
  }
  const md5 = createHash('md5');
  const crc = new Crc32c();
  let bytes = 0;
  for await (const chunk of addAbortSignal(signal, body)) {
    const buffer = chunk as Buffer;
    md5.update(buffer);
    crc.update(buffer);
    bytes += buffer.length;
  }
  const differences = [
    bytes !== entry.bytes ? `size expected ${entry.bytes} bytes, got ${bytes}` : undefined,
    mismatch('MD5', entry.md5, md5.digest('base64')),
    mismatch('CRC32C', entry.crc32c, crc32cToBase64(crc.digest())),
  ].filter((difference) => difference !== undefined);
  return differences.length === 0 ? { bytes } : { bytes, problem: `damaged: ${differences.join('; ')}` };
}

const mismatch = (what: string, expected: string | undefined, actual: string): string | undefined =>
  expected !== undefined && expected !== actual ? `${what} expected ${expected}, got ${actual}` : undefined;
