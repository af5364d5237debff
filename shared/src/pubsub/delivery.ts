// What both services do with a message once its handler has run (one ack rule, docs/contracts.md,
// "Errors"), and with a push body before it runs (one bounded read; push.ts decodes and maps it).
import type { IncomingMessage } from 'node:http';
import { PermanentError, classifyError, type ErrorClassification } from '../errors.js';

export type Disposition = 'ack' | 'nack';

/**
 * The one ack rule: a PermanentError, bqbr's own decision that a redelivery would fail the same way
 * (after recording what it could), is acked; anything else is nacked for the subscription's retry
 * policy, whatever kind classifyError gives it. A client error is never acked on the spot: a message
 * lost that way (a completion event, say, on a Firestore FAILED_PRECONDITION) would leave its operation
 * RUNNING for good, while a nacked one ends in the dead-letter handler, which records it.
 */
export function dispositionOf(err: unknown): { readonly disposition: Disposition } & ErrorClassification {
  return { disposition: err instanceof PermanentError ? 'ack' : 'nack', ...classifyError(err) };
}

/** A Pub/Sub message is at most 10 MB; base64 in a JSON push envelope adds a third. */
export const MAX_PUSH_BODY_BYTES = 16 * 1024 * 1024;

export class BodyTooLarge extends Error {
  override readonly name = 'BodyTooLarge';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
  }
}

/**
 * The request's body, refused with BodyTooLarge (answer 413) past `maxBytes`. The rest is read and
 * dropped rather than kept: destroying the request would reset the connection before the client reads
 * the answer.
 */
export function readHttpBody(req: IncomingMessage, maxBytes = MAX_PUSH_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      req.off('data', onData);
      req.resume();
      reject(new BodyTooLarge(maxBytes));
    };
    req.on('data', onData);
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}
