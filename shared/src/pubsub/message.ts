// The one shape a handler receives, whether the message came by streaming pull or by push.
import type { Message } from '@google-cloud/pubsub';

export interface ReceivedMessage {
  readonly data: Buffer;
  readonly attributes: Readonly<Record<string, string>>;
  readonly messageId: string;
  /** ISO time the message was published. */
  readonly publishTime: string;
  /** 1 on the first delivery. Pub/Sub counts deliveries only on subscriptions with a dead-letter policy. */
  readonly deliveryAttempt: number;
}

/** A message from a streaming-pull subscriber, in the shape handlers take. */
export function fromPulledMessage(message: Message): ReceivedMessage {
  return {
    data: message.data,
    attributes: message.attributes,
    messageId: message.id,
    publishTime: message.publishTime.toISOString(),
    // The client reports 0 when the subscription has no dead-letter policy.
    deliveryAttempt: Math.max(1, message.deliveryAttempt),
  };
}
