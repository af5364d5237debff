// Stream plumbing the stores share: cutting a body into fixed-size parts, uploading a few parts at a time,
// and checking sizes and digests on the way in and out.
import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { PermanentError, RetryableError } from '../errors.js';
import type { PutOptions } from './types.js';
import { storeError, type ErrorShape } from './store-errors.js';

export const MiB = 1024 * 1024;

/** A size or count option: a positive integer, else a PermanentError('invalid'). */
export function positive(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new PermanentError('invalid', `${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Running byte count and MD5 of what went through. */
export class Tally {
  bytes = 0;
  private readonly hash: Hash = createHash('md5');
  private digest: Buffer | undefined;

  add(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  /** The MD5 (raw bytes); ends the tally. */
  md5(): Buffer {
    this.digest ??= this.hash.digest();
    return this.digest;
  }
}

export const md5Of = (data: Buffer): Buffer => createHash('md5').update(data).digest();

const toBuffer = (chunk: unknown): Buffer =>
  Buffer.isBuffer(chunk)
    ? chunk
    : typeof chunk === 'string'
      ? Buffer.from(chunk)
      : Buffer.from(chunk as Uint8Array);

/**
 * `body` cut into parts of exactly `size` bytes (the last one shorter), each copied once from the
 * chunks that made it; an empty body yields nothing. Reading stops while the consumer holds a part.
 */
export async function* fixedParts(body: Readable, size: number): AsyncGenerator<Buffer> {
  let chunks: Buffer[] = [];
  let filled = 0;
  for await (const chunk of body) {
    let buf = toBuffer(chunk);
    while (filled + buf.length >= size) {
      const take = size - filled;
      chunks.push(buf.subarray(0, take));
      yield Buffer.concat(chunks, size);
      chunks = [];
      filled = 0;
      buf = buf.subarray(take);
    }
    if (buf.length > 0) {
      chunks.push(buf);
      filled += buf.length;
    }
  }
  if (filled > 0) yield Buffer.concat(chunks, filled);
}

/**
 * Calls `upload(part, index)` for each part, at most `concurrency` at a time, pulling the next part only
 * when a slot is free: at most `concurrency` parts uploading plus the one being cut are in memory. The
 * first failure (of a part or of the body) stops the reading; it is thrown once the parts already started
 * have settled, so the caller can clean up knowing nothing else is in flight.
 */
export async function uploadConcurrently(
  parts: AsyncIterable<Buffer>,
  concurrency: number,
  upload: (part: Buffer, index: number) => Promise<void>,
): Promise<number> {
  const inFlight = new Set<Promise<void>>();
  let failure: { error: unknown } | undefined;
  let index = 0;
  try {
    for await (const part of parts) {
      const started = upload(part, index++).catch((error: unknown) => {
        failure ??= { error };
      });
      const tracked = started.finally(() => inFlight.delete(tracked));
      inFlight.add(tracked);
      while (inFlight.size >= concurrency && !failure) await Promise.race(inFlight);
      if (failure) break;
    }
  } catch (error) {
    failure ??= { error };
  }
  await Promise.all(inFlight);
  if (failure) throw failure.error;
  return index;
}

const base64 = (md5: Buffer): string => md5.toString('base64');

/** Throws when the caller's expected size or MD5 differs from what went through. */
export function checkExpected(
  bytes: number,
  md5: Buffer,
  options: PutOptions | undefined,
  uri: string,
): void {
  if (options?.expectedBytes !== undefined && options.expectedBytes !== bytes) {
    throw new RetryableError(
      'sizeMismatch',
      `${uri}: the body had ${bytes} bytes, ${options.expectedBytes} were expected`,
    );
  }
  if (options?.expectedMd5 !== undefined && options.expectedMd5 !== base64(md5)) {
    throw new RetryableError(
      'checksumMismatch',
      `${uri}: the body's MD5 is ${base64(md5)}, ${options.expectedMd5} was expected`,
    );
  }
}

/**
 * A pass-through that tallies the bytes and, when the input ends, fails instead of ending if the
 * caller's expectations are not met: the destination never sees the end of a wrong body, so an upload
 * that commits on end never commits it.
 */
export class ExpectationCheck extends Transform {
  readonly tally = new Tally();

  constructor(
    private readonly options: PutOptions | undefined,
    private readonly uri: string,
  ) {
    super();
  }

  override _transform(chunk: unknown, _encoding: BufferEncoding, callback: TransformCallback): void {
    const buf = toBuffer(chunk);
    this.tally.add(buf);
    callback(null, buf);
  }

  override _flush(callback: TransformCallback): void {
    try {
      checkExpected(this.tally.bytes, this.tally.md5(), this.options, this.uri);
      callback();
    } catch (err) {
      callback(err as Error);
    }
  }
}

export interface ExpectedContent {
  readonly bytes?: number;
  /** base64 */
  readonly md5?: string;
}

/**
 * `source` as the caller reads it: its errors become store errors, and a body whose size or MD5 differs
 * from what the store said it holds fails at its end instead of ending.
 */
export function checkedDownload(
  source: Readable,
  expected: ExpectedContent,
  uri: string,
  specific?: (err: unknown) => ErrorShape | undefined,
): Readable {
  const tally = new Tally();
  const out = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      tally.add(chunk);
      callback(null, chunk);
    },
    flush(callback) {
      const md5 = tally.md5().toString('base64');
      if (expected.bytes !== undefined && expected.bytes !== tally.bytes) {
        callback(
          new RetryableError('sizeMismatch', `${uri}: read ${tally.bytes} bytes, expected ${expected.bytes}`),
        );
      } else if (expected.md5 !== undefined && expected.md5 !== md5) {
        callback(new RetryableError('checksumMismatch', `${uri}: read MD5 ${md5}, expected ${expected.md5}`));
      } else {
        callback();
      }
    },
  });
  source.once('error', (err) => out.destroy(storeError(err, `reading ${uri}`, specific)));
  out.once('close', () => {
    if (!source.destroyed) source.destroy();
  });
  source.pipe(out);
  return out;
}
