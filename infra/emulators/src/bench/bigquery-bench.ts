// Benchmark of the BigQuery emulator's extract and load jobs, driven by @google-cloud/bigquery against
// the Cloud Storage emulator: a generated table of N rows (default 1,000,000) is loaded from CSV, then
// extracted in every format and compression and loaded back from each.
// Usage: node infra/emulators/dist/bench/bigquery-bench.js [--rows N]
import { BigQuery, type Job } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { PassThroughClient } from 'google-auth-library';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import { startBigQueryEmulator } from '../bigquery/server.js';
import { startGcsEmulator } from '../gcs/server.js';
import { round, writeBenchResults } from './results.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const SCHEMA = [
  { name: 'id', type: 'INT64' },
  { name: 'name', type: 'STRING' },
  { name: 'score', type: 'FLOAT64' },
  { name: 'amount', type: 'NUMERIC' },
  { name: 'active', type: 'BOOL' },
  { name: 'at', type: 'TIMESTAMP' },
];

const CASES: { format: string; clientFormat: string; compression: string; ext: string }[] = [
  { format: 'CSV', clientFormat: 'CSV', compression: 'NONE', ext: 'csv' },
  { format: 'CSV', clientFormat: 'CSV', compression: 'GZIP', ext: 'csv.gz' },
  { format: 'NEWLINE_DELIMITED_JSON', clientFormat: 'JSON', compression: 'NONE', ext: 'json' },
  { format: 'NEWLINE_DELIMITED_JSON', clientFormat: 'JSON', compression: 'GZIP', ext: 'json.gz' },
  { format: 'AVRO', clientFormat: 'AVRO', compression: 'NONE', ext: 'avro' },
  { format: 'AVRO', clientFormat: 'AVRO', compression: 'SNAPPY', ext: 'avro' },
  { format: 'AVRO', clientFormat: 'AVRO', compression: 'DEFLATE', ext: 'avro' },
  { format: 'PARQUET', clientFormat: 'PARQUET', compression: 'SNAPPY', ext: 'parquet' },
  { format: 'PARQUET', clientFormat: 'PARQUET', compression: 'ZSTD', ext: 'parquet' },
  { format: 'PARQUET', clientFormat: 'PARQUET', compression: 'GZIP', ext: 'parquet' },
];

interface Row {
  readonly format: string;
  readonly compression: string;
  readonly extractSeconds: number;
  readonly extractRowsPerSecond: number;
  readonly fileMB: number;
  readonly extractMBps: number;
  readonly loadSeconds: number;
  readonly loadRowsPerSecond: number;
  readonly loadMBps: number;
  readonly rowsVerified: boolean;
}

/** Seconds from the job's creation to its end, as the emulator recorded them (the client polls once a second). */
async function timed(job: Job): Promise<number> {
  await job.promise();
  const meta = (await job.getMetadata())[0] as { statistics: { creationTime: string; endTime: string } };
  return (Number(meta.statistics.endTime) - Number(meta.statistics.creationTime)) / 1000;
}

async function writeCsv(path: string, rows: number): Promise<void> {
  const out = createWriteStream(path);
  const base = Date.UTC(2024, 0, 1);
  let chunk = 'id,name,score,amount,active,at\n';
  for (let i = 0; i < rows; i++) {
    const at = new Date(base + i * 1000).toISOString().replace('T', ' ').replace('Z', ' UTC');
    chunk += `${i},name-${i % 1000},${(i * 0.37).toFixed(3)},${(i % 10000) / 100},${i % 2 === 0},${at}\n`;
    if (chunk.length > 1 << 20) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await once(out, 'finish');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string' } } });
  const rows = Number(values.rows ?? 1_000_000);
  const work = await mkdtemp(join(tmpdir(), 'bq-bench-'));
  const gcs = await startGcsEmulator({ port: 0, dataDir: join(work, 'gcs') });
  const emulator = await startBigQueryEmulator({ port: 0, storageUrl: gcs.url, dataDir: join(work, 'bq') });
  let peakRss = process.memoryUsage().rss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 100);
  try {
    const projectId = 'bench-project';
    const bq = new BigQuery({ apiEndpoint: emulator.url, projectId, authClient: new PassThroughClient() });
    const storage = new Storage({ apiEndpoint: gcs.url, projectId });
    const [bucket] = await storage.createBucket('bench-bucket');
    const [dataset] = await bq.createDataset('bench');

    const csvPath = join(work, 'seed.csv');
    await writeCsv(csvPath, rows);
    const seedBytes = (await stat(csvPath)).size;
    await bucket.upload(csvPath, { destination: 'seed/seed.csv' });
    const [source] = await dataset.createTable('source', { schema: { fields: SCHEMA } });
    const seedLoad = await timed(
      (
        await source.createLoadJob(bucket.file('seed/seed.csv'), { sourceFormat: 'CSV', skipLeadingRows: 1 })
      )[0],
    );
    console.log(`seed: ${rows} rows loaded from CSV in ${seedLoad.toFixed(2)} s`);

    const results: Row[] = [];
    for (const c of CASES) {
      const prefix = `out/${c.format}-${c.compression}/`;
      const extractSeconds = await timed(
        (
          await source.createExtractJob(bucket.file(`${prefix}part-*.${c.ext}`), {
            format: c.clientFormat,
            ...(c.compression === 'GZIP' && c.format !== 'PARQUET' ? { gzip: true } : {}),
            ...(c.compression !== 'NONE' && !(c.compression === 'GZIP' && c.format !== 'PARQUET')
              ? { compression: c.compression }
              : {}),
            ...(c.format === 'AVRO' ? { useAvroLogicalTypes: true } : {}),
          } as never)
        )[0],
      );
      const [files] = await bucket.getFiles({ prefix });
      const bytes = files.reduce((sum, f) => sum + Number(f.metadata.size), 0);
      const [target] = await dataset.createTable(`back_${c.format}_${c.compression}`.toLowerCase(), {
        schema: { fields: SCHEMA },
      });
      const loadSeconds = await timed(
        (
          await target.createLoadJob(bucket.file(`${prefix}part-*.${c.ext}`), {
            sourceFormat: c.format,
            ...(c.format === 'CSV' ? { skipLeadingRows: 1 } : {}),
            ...(c.format === 'AVRO' ? { useAvroLogicalTypes: true } : {}),
          } as never)
        )[0],
      );
      const meta = (await target.getMetadata())[0] as { numRows: string };
      const mb = bytes / 1e6;
      const row: Row = {
        format: c.format,
        compression: c.compression,
        extractSeconds: round(extractSeconds),
        extractRowsPerSecond: Math.round(rows / extractSeconds),
        fileMB: round(mb),
        extractMBps: round(mb / extractSeconds),
        loadSeconds: round(loadSeconds),
        loadRowsPerSecond: Math.round(rows / loadSeconds),
        loadMBps: round(mb / loadSeconds),
        rowsVerified: Number(meta.numRows) === rows,
      };
      results.push(row);
      console.log(JSON.stringify(row));
      await target.delete();
    }
    const summary = {
      date: new Date().toISOString(),
      node: process.version,
      rows,
      seed: {
        format: 'CSV',
        bytes: seedBytes,
        loadSeconds: round(seedLoad),
        rowsPerSecond: Math.round(rows / seedLoad),
      },
      cases: results,
      peakRssMB: Math.round(peakRss / 1e6),
      note: 'Emulators in one process with the client; times are from job creation to end as the job statistics record them (including Cloud Storage transfers).',
    };
    const table = results
      .map(
        (r) =>
          `| ${r.format} | ${r.compression} | ${r.fileMB} | ${r.extractSeconds} | ${r.extractRowsPerSecond.toLocaleString('en')} | ${r.extractMBps} | ${r.loadSeconds} | ${r.loadRowsPerSecond.toLocaleString('en')} | ${r.loadMBps} | ${r.rowsVerified ? 'yes' : 'NO'} |`,
      )
      .join('\n');
    const markdown = `# BigQuery emulator: extract and load throughput

${summary.date}, Node ${summary.node}, ${rows.toLocaleString('en')} rows of (INT64, STRING, FLOAT64, NUMERIC, BOOL, TIMESTAMP).
Seed: ${(seedBytes / 1e6).toFixed(1)} MB of CSV loaded in ${summary.seed.loadSeconds} s (${summary.seed.rowsPerSecond.toLocaleString('en')} rows/s).
Jobs run through \`@google-cloud/bigquery\`; times are from job creation to end as the job's statistics record them (the client only polls once a second), including the transfer to or from the Cloud Storage emulator.

| format | compression | files MB | extract s | extract rows/s | extract MB/s | load s | load rows/s | load MB/s | all rows back |
|---|---|---|---|---|---|---|---|---|---|
${table}

Peak RSS of the process (client, BigQuery and Cloud Storage emulators together): ${summary.peakRssMB} MB.`;
    const file = await writeBenchResults('bigquery', summary, markdown);
    console.log(`results written to ${file}`);
  } finally {
    clearInterval(sampler);
    await emulator.close();
    await gcs.close();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
