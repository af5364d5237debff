// The bounds of a request body, checked before anything parses or decodes it (docs/contracts.md,
// "Errors"): a request that cannot fit its operation document is refused at the edge, not looped on.
import { PermanentError, ValidationError } from '@bqbr/shared';

export const REQUEST_LIMITS = {
  /**
   * Bytes of a request body. The operation document keeps the request, and Firestore stores at most
   * 1 MiB per document (https://cloud.google.com/firestore/quotas); the other half is left for the
   * plan, warnings and errors. Pub/Sub itself carries up to 10 MB.
   */
  maxBytes: 512 * 1024,
  /**
   * Nesting levels of a request body. The deepest valid request has 5; Firestore stores fields at
   * most 20 levels deep, and io-ts decodes recursively (20,000 levels overflow the stack).
   */
  maxDepth: 16,
} as const;

/** A request over REQUEST_LIMITS.maxBytes: HTTP answers 413, Pub/Sub records a FAILED operation. */
export class RequestTooLarge extends PermanentError {
  override readonly name = 'RequestTooLarge';

  constructor(readonly bytes: number) {
    super(
      'tooLarge',
      `request is ${bytes} bytes, over the limit of ${REQUEST_LIMITS.maxBytes} bytes (docs/contracts.md, "Errors")`,
    );
  }
}

/** The request's size when it is over the limit, else undefined. */
export function tooLarge(data: Buffer): RequestTooLarge | undefined {
  return data.length > REQUEST_LIMITS.maxBytes ? new RequestTooLarge(data.length) : undefined;
}

/** JSON text parsed, unless it nests deeper than maxDepth (counted first) or is not JSON. */
export function parseRequestJson(
  data: Buffer,
):
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly why: 'tooDeep' | 'notJson'; readonly error: ValidationError } {
  const refused = (why: 'tooDeep' | 'notJson', message: string) =>
    ({ ok: false, why, error: new ValidationError('request', [{ path: '', message }]) }) as const;
  if (nestsDeeperThan(data, REQUEST_LIMITS.maxDepth))
    return refused('tooDeep', `nested deeper than ${REQUEST_LIMITS.maxDepth} levels`);
  try {
    return { ok: true, value: JSON.parse(data.toString('utf8')) as unknown };
  } catch (err) {
    return refused('notJson', `not JSON: ${(err as Error).message}`);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPENERS = new Set([0x7b, 0x5b]); // { [
const CLOSERS = new Set([0x7d, 0x5d]); // } ]

/** Whether JSON text opens more than `limit` objects or arrays at once: one pass, no recursion, no parse. */
export function nestsDeeperThan(data: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  // UTF-8 continuation bytes are >= 0x80, so ASCII brackets and quotes are never part of another character.
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]!;
    if (inString) {
      if (byte === BACKSLASH) i++;
      else if (byte === QUOTE) inString = false;
    } else if (byte === QUOTE) inString = true;
    else if (OPENERS.has(byte)) {
      if (++depth > limit) return true;
    } else if (CLOSERS.has(byte)) depth--;
  }
  return false;
}
