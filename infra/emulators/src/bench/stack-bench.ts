// How long the local stack takes to come up and to stop: `npm run stack` is meant to be ready in seconds.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { startStack } from '../stack/stack.js';
import { round, writeBenchResults } from './results.js';

interface StackBenchResults {
  readonly date: string;
  readonly node: string;
  readonly runs: number;
  readonly startSeconds: { readonly min: number; readonly median: number; readonly max: number };
  readonly stopSeconds: { readonly min: number; readonly median: number; readonly max: number };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`Invalid --runs: ${values.runs}`);

  const starts: number[] = [];
  const stops: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    const stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0 } });
    const t1 = performance.now();
    await stack.stop();
    starts.push((t1 - t0) / 1000);
    stops.push((performance.now() - t1) / 1000);
  }
  const results: StackBenchResults = {
    date: new Date().toISOString(),
    node: process.version,
    runs,
    startSeconds: summary(starts),
    stopSeconds: summary(stops),
  };
  await writeBenchResults('stack', results, markdown(results));
  console.log(markdown(results));
}

function summary(values: readonly number[]): { min: number; median: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  return {
    min: round(sorted[0]!),
    median: round(sorted[Math.floor(sorted.length / 2)]!),
    max: round(sorted[sorted.length - 1]!),
  };
}

function markdown(r: StackBenchResults): string {
  const row = (what: string, s: StackBenchResults['startSeconds']): string =>
    `| ${what} | ${s.median} s | ${s.min} s | ${s.max} s |`;
  return [
    `# Local stack start-up benchmark`,
    ``,
    `${r.date}, Node ${r.node}; ${r.runs} runs of startStack() with Pub/Sub, Firestore and Cloud Storage on free ports,`,
    `from the call until every emulator answers, then stop() until every process group is gone.`,
    ``,
    `| measure | median | min | max |`,
    `|---|---|---|---|`,
    row('start (all three ready)', r.startSeconds),
    row('stop', r.stopSeconds),
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
