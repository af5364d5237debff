// What every message handler of the dispatcher gets, whether the message came by streaming pull or by push.
import type { Logger, ReceivedMessage } from '@bqbr/shared';

export interface HandlerContext {
  /** Carries operationId, messageId and deliveryAttempt on every line. */
  readonly logger: Logger;
}

/**
 * Handles one message. Returning acks it; a PermanentError is logged and acked (it would fail the same
 * way again); any other error nacks it, so the subscription's retry policy backs off and redelivers.
 */
export type MessageHandler = (message: ReceivedMessage, ctx: HandlerContext) => Promise<void>;

/** One topic, as the handlers publish to it. */
export interface Publisher {
  publish(data: Buffer, attributes: Readonly<Record<string, string>>): Promise<string>;
}

export const jsonData = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

/** The message body parsed as JSON, or why it is not JSON. */
export function parseJson(
  data: Buffer,
): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly error: string } {
  try {
    return { ok: true, value: JSON.parse(data.toString('utf8')) as unknown };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}
