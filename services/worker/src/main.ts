#!/usr/bin/env node
// The worker process: `node services/worker/dist/main.js` with the stack's (or Cloud Run's) environment.
import { createLogger, handleShutdownSignals } from '@bqbr/shared';
import { parseConfig } from './config.js';
import { startWorker } from './worker.js';

const logger = createLogger({ service: 'worker' });

async function main(): Promise<void> {
  const config = parseConfig(process.env);
  const worker = await startWorker(config, process.env, logger);
  handleShutdownSignals({
    logger,
    stop: () => worker.stop(),
    graceMs: config.shutdownGraceMs,
    exitWhenStopped: true,
  });
}

main().catch((err: unknown) => {
  logger.critical('worker failed to start', { error: err });
  process.exit(1);
});
