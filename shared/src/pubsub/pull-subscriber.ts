// Streaming pull for both services: each message goes to the same handling as a push delivery, its
// disposition acks or nacks it, and close() stops pulling and waits for the handlers in flight.
import { Duration, type Message, type PubSub } from '@google-cloud/pubsub';
import type { Logger } from '../logging.js';
import type { Disposition } from './delivery.js';
import { fromPulledMessage, type ReceivedMessage } from './message.js';

export interface PullSubscriber {
  /** Stops pulling, waits for handlers in flight (up to the grace time), then nacks what is left. */
  close(): Promise<void>;
}

export interface PullOptions {
  readonly pubsub: PubSub;
  readonly subscription: string;
  /** Runs one message; a rejection nacks it. */
  readonly handle: (message: ReceivedMessage) => Promise<Disposition>;
  /** Messages handled at once. */
  readonly maxMessages: number;
  /** How long the client keeps extending a message's lease while its handler runs. */
  readonly maxExtensionMs: number;
  readonly shutdownGraceMs: number;
  readonly logger: Logger;
  /** The subscriber reported an error (its stream could not be re-opened); without it, errors are logged. */
  readonly onError?: (err: Error) => void;
}

export function startPullSubscriber(options: PullOptions): PullSubscriber {
  const logger = options.logger.child({ subscription: options.subscription });
  const subscription = options.pubsub.subscription(options.subscription, {
    flowControl: { maxMessages: options.maxMessages, allowExcessMessages: false },
    maxExtensionTime: Duration.from({ milliseconds: options.maxExtensionMs }),
    // close(): stop the stream at once, let handlers finish within the grace time, nack the rest.
    closeOptions: { behavior: 'WAIT', timeout: Duration.from({ milliseconds: options.shutdownGraceMs }) },
  });
  const inFlight = new Set<Promise<void>>();
  subscription.on('message', (message: Message) => {
    const run = options.handle(fromPulledMessage(message)).then(
      (disposition) => (disposition === 'ack' ? message.ack() : message.nack()),
      (err: unknown) => {
        logger.error('message handler crashed: nacked', { error: err, messageId: message.id });
        message.nack();
      },
    );
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  });
  subscription.on('error', (err: Error) => {
    logger.error('subscriber failed', { error: err.message });
    options.onError?.(err);
  });
  logger.info('pulling');
  return {
    async close() {
      await subscription.close();
      if (inFlight.size > 0)
        logger.warn('handlers still running at shutdown; their messages return to the subscription', {
          count: inFlight.size,
        });
    },
  };
}
