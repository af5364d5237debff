// Simulated dates for end-to-end tests: libfaketime (apt package `faketime`) preloaded into the services
// and a BigQuery emulator of their own, all reading one clock file the test moves while they run. The
// offset is relative (`+N`/`-N` seconds from the real clock), so time keeps flowing; monotonic clocks
// (timers) stay real.
import { freePort, startProcess, waitForHttp, type ManagedProcess } from '@bqbr/emulators';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const LIBFAKETIME_PATHS = [
  '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
  '/usr/lib/faketime/libfaketime.so.1',
];

/** The preloadable libfaketime, or undefined when it is not installed. */
export const libfaketime = (): string | undefined =>
  [process.env['BQBR_LIBFAKETIME'], ...LIBFAKETIME_PATHS].find(
    (path): path is string => path !== undefined && existsSync(path),
  );

export interface FakeClock {
  /** What a process needs in its environment to read this clock. */
  readonly env: Readonly<Record<string, string>>;
  /** Moves every faked process's clock so that it reads `instant` now (and runs on from there). */
  set(instant: Date): Promise<void>;
  /** What the faked processes read now. */
  now(): Date;
  remove(): Promise<void>;
}

export async function fakeClock(): Promise<FakeClock> {
  const library = libfaketime();
  if (library === undefined) throw new Error('libfaketime is not installed (apt-get install -y faketime)');
  const dir = await mkdtemp(join(tmpdir(), 'bqbr-faketime-'));
  const file = join(dir, 'clock');
  let offsetSeconds = 0;
  const write = (): Promise<void> => writeFile(file, `${offsetSeconds >= 0 ? '+' : ''}${offsetSeconds}\n`);
  await write();
  return {
    env: {
      LD_PRELOAD: library,
      FAKETIME_TIMESTAMP_FILE: file,
      // Re-read the file at every clock read, so a move reaches processes already running.
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    },
    async set(instant) {
      offsetSeconds = Math.round((instant.getTime() - Date.now()) / 1000);
      await write();
    },
    now: () => new Date(Date.now() + offsetSeconds * 1000),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

const emulatorMain = fileURLToPath(new URL('../../infra/emulators/dist/bigquery/main.js', import.meta.url));

/** A port for a BigQuery emulator started later (its address goes into the services' environment first). */
export const reserveBigQueryPort = (): Promise<number> => freePort('127.0.0.1');

/** bqbr's BigQuery emulator as a process on the fake clock: its time travel follows the simulated dates. */
export async function startFakedBigQuery(
  clock: FakeClock,
  port: number,
  storageUrl: string,
): Promise<{ url: string; process: ManagedProcess }> {
  const url = `http://127.0.0.1:${port}`;
  const child = startProcess({
    name: 'bigquery-faked',
    command: process.execPath,
    args: [emulatorMain, '--host', '127.0.0.1', '--port', String(port), '--storage-url', storageUrl],
    env: { ...process.env, ...clock.env },
  });
  try {
    await waitForHttp(`${url}/`, { timeoutMs: 20_000, isAlive: () => child.isRunning() });
  } catch (err) {
    await child.stop();
    throw new Error(`${String(err)}\n${child.recentOutput()}`);
  }
  return { url, process: child };
}

/** The services' environment for a faked BigQuery emulator at `port`, on the fake clock. */
export const fakedServiceEnv = (clock: FakeClock, port: number): Record<string, string> => ({
  ...clock.env,
  BIGQUERY_EMULATOR_HOST: `http://127.0.0.1:${port}`,
  CLOUDSDK_API_ENDPOINT_OVERRIDES_BIGQUERY: `http://127.0.0.1:${port}/bigquery/v2/`,
});
