// Benchmarks write their figures to bench-results/<name>.json (for tools) and .md (for people).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const resultsDir = fileURLToPath(new URL('../../../../bench-results/', import.meta.url));

export async function writeBenchResults(name: string, results: object, markdown: string): Promise<string> {
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(resultsDir, `${name}.md`), `${markdown}\n`);
  return join(resultsDir, `${name}.md`);
}

export function round(value: number): number {
  return Math.round(value * 100) / 100;
}
