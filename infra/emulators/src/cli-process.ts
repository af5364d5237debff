// What the emulators' command lines share: reading a port, and stopping on SIGINT/SIGTERM.
import type { Logger } from '@bqbr/shared';

export function parsePort(text: string): number {
  const port = Number(text);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port: ${text}`);
  return port;
}

/** Closes the server on SIGINT/SIGTERM and exits; a second signal while draining means "now". */
export function stopOnSignals(close: () => Promise<void>, logger: Logger): void {
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.warn('stopping', { signal });
    close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('close failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
