#!/usr/bin/env node
// The dispatcher process: configuration from the environment, and graceful shutdown on SIGTERM/SIGINT.
import { createLogger } from '@bqbr/shared';
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
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    // A second signal means now.
    if (++signals > 1) process.exit(130);
    logger.info('signal received', { signal });
    const force = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, config.shutdownGraceMs + 5_000);
    force.unref();
    void dispatcher.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const failure = await dispatcher.stopped;
  if (failure) {
    logger.critical('dispatcher stopped after a failure', { error: failure.message });
    process.exitCode = 1;
  }
} catch (err) {
  logger.critical('dispatcher failed to start', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}
