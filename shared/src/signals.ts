// Graceful shutdown for both services, in one place: the first SIGTERM or SIGINT stops taking work
// and drains within the grace time; a shutdown that overruns it, or a second signal, exits at once.
import type { Logger } from './logging.js';

export interface ShutdownOptions {
  readonly logger: Logger;
  /** Stops taking work, drains what is in flight, closes the clients. */
  readonly stop: () => Promise<void>;
  /** How long stop() may drain; the process is forced out a little after it (5 s for closing clients). */
  readonly graceMs: number;
  /** Exit with 0 once stop() resolved (else the process ends when nothing is left to run). */
  readonly exitWhenStopped?: boolean;
}

export const FORCED_EXIT_MARGIN_MS = 5_000;

/** Installs the SIGTERM/SIGINT handlers; returns the handler (for tests that call it directly). */
export function handleShutdownSignals(options: ShutdownOptions): (signal: NodeJS.Signals) => void {
  const { logger } = options;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(130);
    }
    logger.info('signal received: shutting down', { signal, graceMs: options.graceMs });
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, options.graceMs + FORCED_EXIT_MARGIN_MS);
    force.unref();
    options.stop().then(
      () => {
        if (options.exitWhenStopped === true) process.exit(0);
      },
      (err: unknown) => {
        logger.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return onSignal;
}
