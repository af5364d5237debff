// Pub/Sub push deliveries (Cloud Run): the standard push envelope, and Eventarc's CloudEvent
// `google.cloud.pubsub.topic.v1.messagePublished` in binary mode (ce-* headers) or structured mode
// (`application/cloudevents+json`). Both carry the same `{message, subscription}` body.
import * as t from 'io-ts';
import { decode, show, ValidationError } from '../decode.js';
import type { ReceivedMessage } from './message.js';

/** A decoded push delivery; `deliveryAttempt` only when the subscription has a dead-letter policy. */
export interface PushedMessage {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageId: string;
  /** ISO time the message was published. */
  readonly publishTime: string;
  readonly deliveryAttempt?: number;
  /** `projects/{project}/subscriptions/{name}` */
  readonly subscription?: string;
}

export type HttpHeaders = Readonly<Record<string, string | readonly string[] | undefined>>;

export const PUBSUB_CLOUD_EVENT_TYPE = 'google.cloud.pubsub.topic.v1.messagePublished';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const Base64 = new t.Type<Buffer, string, unknown>(
  'Base64',
  (u): u is Buffer => Buffer.isBuffer(u),
  (u, c) =>
    typeof u === 'string' && BASE64.test(u)
      ? t.success(Buffer.from(u, 'base64'))
      : t.failure(u, c, `expected base64 data, got ${show(u)}`),
  (b) => b.toString('base64'),
);

// Pub/Sub sends both spellings (messageId and message_id, publishTime and publish_time).
const PubsubMessage = t.partial(
  {
    data: Base64,
    attributes: t.record(t.string, t.string),
    messageId: t.string,
    message_id: t.string,
    publishTime: t.string,
    publish_time: t.string,
  },
  'PubsubMessage',
);

const PushBody = t.intersection(
  [
    t.type({ message: PubsubMessage }),
    t.partial({ subscription: t.string, deliveryAttempt: t.union([t.number, t.null]) }),
  ],
  'PushBody',
);
type PushBody = t.TypeOf<typeof PushBody>;

const StructuredCloudEvent = t.type(
  { specversion: t.string, type: t.string, id: t.string, data: PushBody },
  'CloudEvent',
);

/**
 * Decodes a push request's headers and raw body, whichever of the three shapes it has.
 * Throws a ValidationError (permanent: answer 400, Pub/Sub will not fix it by retrying).
 */
export function decodePushRequest(headers: HttpHeaders, body: Buffer): PushedMessage {
  const header = headerReader(headers);
  const contentType = header('content-type') ?? '';
  const json = parseJson(body);

  if (contentType.startsWith('application/cloudevents+json')) {
    const event = decode(StructuredCloudEvent, json, 'CloudEvent');
    checkEventType(event.type);
    return toPushedMessage(event.data, event.id, undefined);
  }

  const cloudEventType = header('ce-type');
  if (cloudEventType !== undefined) {
    checkEventType(cloudEventType);
    const pushed = decode(PushBody, json, 'CloudEvent data');
    return toPushedMessage(pushed, header('ce-id'), header('ce-time'));
  }

  return toPushedMessage(decode(PushBody, json, 'push request'), undefined, undefined);
}

/** The handler's shape: a first delivery (or one on a subscription without dead-lettering) counts as 1. */
export function toReceivedMessage(pushed: PushedMessage): ReceivedMessage {
  return {
    data: pushed.data,
    attributes: pushed.attributes,
    messageId: pushed.messageId,
    publishTime: pushed.publishTime,
    deliveryAttempt: pushed.deliveryAttempt ?? 1,
  };
}

function toPushedMessage(
  body: PushBody,
  eventId: string | undefined,
  eventTime: string | undefined,
): PushedMessage {
  const { message } = body;
  // Eventarc's ce-id is the Pub/Sub message id.
  const messageId = message.messageId ?? message.message_id ?? eventId;
  if (messageId === undefined) {
    throw new ValidationError('push request', [{ path: 'message.messageId', message: 'required' }]);
  }
  const publishTime = message.publishTime ?? message.publish_time ?? eventTime;
  return {
    data: message.data ?? Buffer.alloc(0),
    attributes: message.attributes ?? {},
    messageId,
    // Always set by Pub/Sub; a hand-made request without it is stamped on arrival.
    publishTime: publishTime ?? new Date().toISOString(),
    ...(typeof body.deliveryAttempt === 'number' ? { deliveryAttempt: body.deliveryAttempt } : {}),
    ...(body.subscription !== undefined ? { subscription: body.subscription } : {}),
  };
}

function checkEventType(type: string): void {
  if (type !== PUBSUB_CLOUD_EVENT_TYPE) {
    throw new ValidationError('CloudEvent', [
      { path: 'type', message: `expected ${PUBSUB_CLOUD_EVENT_TYPE}, got ${show(type)}` },
    ]);
  }
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch (err) {
    throw new ValidationError('push request', [
      { path: '', message: `expected a JSON body: ${(err as Error).message}` },
    ]);
  }
}

/** Case-insensitive header lookup (node:http lowercases, hand-built objects may not). */
function headerReader(headers: HttpHeaders): (name: string) => string | undefined {
  const lower = new Map(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]));
  return (name) => {
    const value = lower.get(name);
    return typeof value === 'string' ? value : value?.[0];
  };
}
