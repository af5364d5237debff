// Streaming pull: each message goes through the same handler as a push delivery; close() stops
// pulling and waits for the handlers in flight.
import { fromPulledMessage, type Logger } from '@bqbr/shared';
import { Duration, type Message, type PubSub } from '@google-cloud/pubsub';
import { deliver } from './deliver.js';
import type { MessageHandler } from './handler.js';

export interface PullSubscriber {
  /** Stops pulling, waits for handlers in flight (up to the grace time), then nacks what is left. */
  close(): Promise<void>;
}

export function startPullSubscriber(options: {
  readonly pubsub: PubSub;
  readonly subscription: string;
  readonly handler: MessageHandler;
  readonly maxMessages: number;
  readonly logger: Logger;
  readonly shutdownGraceMs: number;
  /** The subscriber failed for good (its stream could not be re-opened). */
  readonly onFatal: (err: Error) => void;
}): PullSubscriber {
  const logger = options.logger.child({ subscription: options.subscription });
  const subscription = options.pubsub.subscription(options.subscription, {
    flowControl: { maxMessages: options.maxMessages, allowExcessMessages: false },
    // The lease is extended while a handler runs: planning a large project can take minutes.
    maxExtensionTime: Duration.from({ minutes: 60 }),
    // close(): stop the stream at once, let handlers finish within the grace time, nack the rest.
    closeOptions: { behavior: 'WAIT', timeout: Duration.from({ milliseconds: options.shutdownGraceMs }) },
  });
  const inFlight = new Set<Promise<void>>();
  subscription.on('message', (message: Message) => {
    const run = deliver(options.handler, fromPulledMessage(message), logger).then((outcome) =>
      outcome === 'ack' ? message.ack() : message.nack(),
    );
    inFlight.add(run);
    void run.finally(() => inFlight.delete(run));
  });
  subscription.on('error', (err: Error) => {
    logger.error('subscriber failed', { error: err.message });
    options.onFatal(err);
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
