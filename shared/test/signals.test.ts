// Graceful shutdown as a process sees it: the first SIGTERM drains and exits 0, a second one exits at once.
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const signalsModule = fileURLToPath(new URL('../src/signals.ts', import.meta.url));

/** A process whose stop() takes `stopMs`; resolves with its exit code after the signals are sent. */
async function runWithSignals(
  stopMs: number,
  signals: number,
): Promise<{ code: number | null; out: string }> {
  const script = `
    import { handleShutdownSignals } from ${JSON.stringify(signalsModule)};
    const logger = { info: (m) => console.log(m), warn: (m) => console.log(m), error: (m) => console.log(m) };
    handleShutdownSignals({ logger, graceMs: 60000, exitWhenStopped: true,
      stop: () => new Promise((resolve) => setTimeout(() => { console.log('drained'); resolve(); }, ${stopMs})) });
    setInterval(() => undefined, 1000);
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = once(child, 'exit') as Promise<[number | null]>;
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  while (!out.includes('ready')) await new Promise((r) => setTimeout(r, 20));
  for (let i = 0; i < signals; i++) {
    child.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
  }
  const [code] = await exited;
  return { code, out };
}

describe('shutdown signals', () => {
  it('drains on the first signal and exits 0 once stopped', async () => {
    const { code, out } = await runWithSignals(300, 1);
    expect(code).to.equal(0);
    expect(out).to.contain('signal received: shutting down').and.contain('drained');
  });

  it('exits 130 at once on a second signal, without waiting for the drain', async () => {
    const { code, out } = await runWithSignals(30_000, 2);
    expect(code).to.equal(130);
    expect(out).to.contain('second signal: exiting now').and.not.contain('drained');
  });
});
