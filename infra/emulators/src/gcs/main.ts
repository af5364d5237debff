#!/usr/bin/env node
// CLI: node dist/gcs/main.js [--host H] [--port P] [--data-dir D]; env GCS_EMULATOR_HOST/PORT/DATA_DIR.
import { createLogger } from '@bqbr/shared';
import { parseArgs } from 'node:util';
import { parsePort, stopOnSignals } from '../cli-process.js';
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
  const port = parsePort(portText);
  const dataDir = values['data-dir'] ?? env['GCS_EMULATOR_DATA_DIR'];

  const emulator = await startGcsEmulator({
    host,
    port,
    logger,
    ...(dataDir ? { dataDir } : {}),
  });
  process.stdout.write(`GCS emulator listening on ${emulator.url} (data dir ${emulator.dataDir})\n`);

  stopOnSignals(() => emulator.close(), logger);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
