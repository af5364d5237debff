#!/usr/bin/env node
// The worker process: `node services/worker/dist/main.js` with the stack's (or Cloud Run's) environment.
import { createLogger } from '@bqbr/shared';
import { parseConfig } from './config.js';
import { startWorker } from './worker.js';

const logger = createLogger({ service: 'worker' });

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const worker = await startWorker(config, process.env, logger);
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals > 1) {
      logger.warn('second signal: exiting now', { signal });
      process.exit(1);
    }
    logger.info('shutting down', { signal });
    worker.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('shutdown failed', { error: err });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

main().catch((err: unknown) => {
  logger.critical('worker failed to start', { error: err });
  process.exit(1);
});
