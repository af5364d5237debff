#!/usr/bin/env node
// The dispatcher process: configuration from the environment, and graceful shutdown on SIGTERM/SIGINT.
import { createLogger, handleShutdownSignals } from '@bqbr/shared';
import { parseConfig, type DispatcherConfig } from './config.js';
import { startDispatcher } from './dispatcher.js';

const logger = createLogger({ service: 'dispatcher' });
let config: DispatcherConfig;
try {
  config = parseConfig(process.env);
} catch (err) {
  logger.critical('invalid configuration', { error: (err as Error).message });
  process.exit(2);
}

try {
  const dispatcher = await startDispatcher(config, process.env, logger);
  handleShutdownSignals({ logger, stop: () => dispatcher.stop(), graceMs: config.shutdownGraceMs });
  const failure = await dispatcher.stopped;
  if (failure) {
    logger.critical('dispatcher stopped after a failure', { error: failure.message });
    process.exitCode = 1;
  }
} catch (err) {
  logger.critical('dispatcher failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
