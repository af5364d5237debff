import { open } from 'node:fs/promises';
import type { ObjectHasher } from './checksums.js';

/** Bytes gathered before one write call: large enough to keep syscalls rare, small enough to stay cheap. */
const WRITE_BATCH_BYTES = 1024 * 1024;
/** Below the kernel's IOV_MAX (1024), so one writev call writes the whole batch. */
const WRITE_BATCH_CHUNKS = 512;

export interface AppendResult {
  /** Bytes written to the file by this call. */
  readonly appended: number;
  /** Set when the source failed (e.g. the client went away mid-body); what arrived before is written. */
  readonly sourceError?: unknown;
}

/**
 * Appends a stream to a file, feeding the hasher exactly the bytes that reach the file, so the file
 * and the hash state agree even when the client disconnects mid-request. The first `skip` bytes of
 * the source are dropped (a resumed chunk overlapping bytes already persisted).
 */
export async function appendToFile(
  source: AsyncIterable<Buffer>,
  path: string,
  hasher: ObjectHasher,
  skip = 0,
): Promise<AppendResult> {
  const file = await open(path, 'a');
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let appended = 0;
  let toSkip = skip;
  const flush = async (): Promise<void> => {
    if (pendingBytes === 0) return;
    const batch = pending;
    const size = pendingBytes;
    pending = [];
    pendingBytes = 0;
    const { bytesWritten } = await file.writev(batch);
    if (bytesWritten !== size) throw new Error(`Short write: ${bytesWritten} of ${size} bytes`);
    for (const chunk of batch) hasher.update(chunk);
    appended += bytesWritten;
  };
  let sourceError: unknown;
  const chunks = source[Symbol.asyncIterator]();
  try {
    for (;;) {
      let next: IteratorResult<Buffer>;
      try {
        next = await chunks.next();
      } catch (err) {
        sourceError = err;
        break;
      }
      if (next.done) break;
      let chunk = next.value;
      if (toSkip > 0) {
        const dropped = Math.min(toSkip, chunk.length);
        toSkip -= dropped;
        chunk = chunk.subarray(dropped);
        if (chunk.length === 0) continue;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= WRITE_BATCH_BYTES || pending.length >= WRITE_BATCH_CHUNKS) await flush();
    }
    await flush();
  } finally {
    await file.close();
  }
  return sourceError === undefined ? { appended } : { appended, sourceError };
}
