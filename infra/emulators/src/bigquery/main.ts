#!/usr/bin/env node
// CLI: node dist/bigquery/main.js [--host H] [--port P] [--data-dir D] [--storage-url URL]
import { createLogger } from '@bqbr/shared';
import { parseArgs } from 'node:util';
import { parsePort, stopOnSignals } from '../cli-process.js';
import { startBigQueryEmulator } from './server.js';

// LOG_LEVEL=debug logs every request.
const logger = createLogger({ service: 'bigquery-emulator' });

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: 'string' },
      port: { type: 'string' },
      'data-dir': { type: 'string' },
      'storage-url': { type: 'string' },
    },
  });
  const env = process.env;
  const host = values.host ?? env['BIGQUERY_EMULATOR_BIND'] ?? '127.0.0.1';
  const portText = values.port ?? env['BIGQUERY_EMULATOR_PORT'] ?? '9050';
  const port = parsePort(portText);
  const dataDir = values['data-dir'] ?? env['BIGQUERY_EMULATOR_DATA_DIR'];
  const storageUrl = values['storage-url'] ?? env['STORAGE_EMULATOR_HOST'];
  const emulator = await startBigQueryEmulator({
    host,
    port,
    logger,
    ...(dataDir ? { dataDir } : {}),
    ...(storageUrl ? { storageUrl } : {}),
  });
  process.stdout.write(
    `BigQuery emulator listening on ${emulator.url}${dataDir ? ` (data in ${dataDir})` : ' (in memory)'}\n`,
  );

  stopOnSignals(() => emulator.close(), logger);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
