// Waiting for a server to answer, and finding free ports for tests.
import { createServer } from 'node:net';

export interface WaitForHttpOptions {
  readonly timeoutMs: number;
  /** Stop waiting early when the server's process has died. */
  readonly isAlive?: () => boolean;
  readonly intervalMs?: number;
}

/** Resolves once `url` answers any HTTP status; rejects on time-out or when the process has died. */
export async function waitForHttp(url: string, options: WaitForHttpOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  const interval = options.intervalMs ?? 100;
  for (;;) {
    if (options.isAlive && !options.isAlive()) throw new Error(`exited before answering on ${url}`);
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await res.body?.cancel();
      return;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) throw new Error(`no answer on ${url} within ${options.timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** A port that was free a moment ago: the OS picks it, we release it for the caller's server. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something already listens on `host:port` (a stack left running, another program). */
export async function isPortInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(true));
    server.listen(port, host, () => server.close(() => resolve(false)));
  });
}
