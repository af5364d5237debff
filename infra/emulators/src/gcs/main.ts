#!/usr/bin/env node
// CLI: node dist/gcs/main.js [--host H] [--port P] [--data-dir D]; env GCS_EMULATOR_HOST/PORT/DATA_DIR.
import { createLogger } from '@bqbr/shared';
import { parseArgs } from 'node:util';
import { startGcsEmulator } from './server.js';

// LOG_LEVEL=debug logs every request.
const logger = createLogger({ service: 'gcs-emulator' });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
    },
  });
  const env = process.env;
  const host = values.host ?? env['GCS_EMULATOR_HOST'] ?? '127.0.0.1';
  const portText = values.port ?? env['GCS_EMULATOR_PORT'] ?? '4443';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`Invalid port: ${portText}`);
  const dataDir = values['data-dir'] ?? env['GCS_EMULATOR_DATA_DIR'];

  const emulator = await startGcsEmulator({
    host,
    port,
    logger,
    ...(dataDir ? { dataDir } : {}),
  });
  process.stdout.write(`GCS emulator listening on ${emulator.url} (data dir ${emulator.dataDir})\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    // A second signal while draining means "now".
    if (stopping) process.exit(1);
    stopping = true;
    logger.warn('stopping', { signal });
    emulator.close().then(
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

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
