// The full path of the transfer benchmark: one backup request of a multi-GB table through the real
// services (the dispatcher and a worker as processes, the local stack with s3rver and Azurite) to each
// destination, with the worker's peak memory. The table is made once in the BigQuery emulator by a query
// job; each backup gets a fresh worker process, so its VmHWM is that backup's alone.
import type { Storage } from '@google-cloud/storage';
import {
  STAGING_BUCKET,
  publishRequest,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';
import {
  KIND_LABEL,
  childPidOf,
  digestOf,
  openDestination,
  peakRssMBOf,
  type Destination,
  type Kind,
} from './transfer-destinations.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const DATASET = 'transfer_bench';
const TABLE = 'big_table';
/** Bytes BigQuery (the emulator) counts per row of the table below: an INT64 and 994 characters. */
const ROW_BYTES = 1002;
/** The brief's bound: a table that takes longer than this to make is not worth the run. */
const TABLE_BUDGET_MS = 5 * 60_000;
const BACKUP_TIMEOUT_MS = 30 * 60_000;
const FILES = 8;

export interface FullPathOptions {
  readonly totalBytes: number;
  readonly kinds: readonly Kind[];
  /** The worker's files at once (its default, BQBR_TRANSFER_CONCURRENCY). */
  readonly concurrency: number;
}

export interface FullPathRun {
  readonly destination: Kind;
  readonly status: string;
  readonly tableBytes: number;
  readonly files: number;
  readonly fileBytes: number;
  /** Request published → operation final. */
  readonly seconds: number;
  /** The worker's own log line for the copy to the destination (none for Cloud Storage). */
  readonly carry?: { readonly seconds: number; readonly mibPerSecond: number; readonly bytes: number };
  /** The fresh worker's VmHWM once it answered its health check. */
  readonly workerIdlePeakRssMB: number;
  /** Its VmHWM when the operation was final. */
  readonly workerPeakRssMB: number;
  readonly verified: string;
  /** Objects left in the staging bucket afterwards (the worker clears its task's folder). */
  readonly stagingLeft: number;
}

export type FullPathOutcome =
  | { readonly kind: 'skipped'; readonly reason: string }
  | {
      readonly kind: 'measured';
      readonly rows: number;
      readonly tableBytes: number;
      readonly tableSeconds: number;
      readonly format: string;
      readonly concurrency: number;
      readonly runs: FullPathRun[];
      /** The benchmark's process, which runs the BigQuery and Cloud Storage emulators (DuckDB in memory). */
      readonly benchProcessPeakRssMB: number;
    };

/** Makes the table by a query job into a destination table; undefined when it took too long. */
async function makeTable(
  environment: Environment,
  projectId: string,
  rows: number,
): Promise<{ seconds: number; bytes: number } | undefined> {
  const bigquery = environment.bigquery(projectId);
  await bigquery.createDataset(DATASET);
  const started = Date.now();
  // Distinct, incompressible-looking text per row: 32 + 15 × 64 hex characters and the id.
  const [job] = await bigquery.createQueryJob({
    query: `SELECT x AS id, CONCAT(TO_HEX(MD5(CAST(x AS STRING))), REPEAT(TO_HEX(SHA256(CAST(x AS STRING))), 15)) AS payload FROM UNNEST(GENERATE_ARRAY(1, ${rows})) AS x`,
    destination: bigquery.dataset(DATASET).table(TABLE),
    writeDisposition: 'WRITE_TRUNCATE',
  });
  const finished = await Promise.race([
    job.promise().then(() => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), TABLE_BUDGET_MS).unref()),
  ]);
  if (!finished) {
    await job.cancel().catch(() => undefined);
    return undefined;
  }
  const [metadata] = (await bigquery.dataset(DATASET).table(TABLE).getMetadata()) as [
    { numBytes?: string },
    unknown,
  ];
  return { seconds: (Date.now() - started) / 1000, bytes: Number(metadata.numBytes) };
}

/** The worker's "files carried to the destination" log line (JSON logs), if it printed one. */
function carryOf(output: string): FullPathRun['carry'] {
  for (const line of output.split('\n').reverse()) {
    if (!line.includes('files carried to the destination')) continue;
    try {
      const record = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
      return {
        seconds: Number(record['seconds']),
        mibPerSecond: Number(record['mibPerSecond']),
        bytes: Number(record['bytes']),
      };
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Every file the table's manifest names is at the destination whole (size and MD5 as listed there). */
async function verifyBackup(
  destination: Destination,
): Promise<{ verified: string; files: number; bytes: number }> {
  const paths = await destination.list();
  const leftovers = paths.filter((p) => p.includes('.bqbr-tmp-'));
  if (leftovers.length > 0)
    throw new Error(`${destination.kind}: temporary files left: ${leftovers.join(', ')}`);
  const manifestPath = paths.find((p) => p.endsWith(`/${DATASET}/${TABLE}/_table.json`));
  if (manifestPath === undefined)
    throw new Error(`${destination.kind}: no _table.json among ${paths.join(', ')}`);
  const chunks: Buffer[] = [];
  for await (const chunk of await destination.read(manifestPath)) chunks.push(chunk as Buffer);
  const manifest = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
    files: { name: string; bytes: number; md5?: string }[];
  };
  const folder = manifestPath.slice(0, -'_table.json'.length);
  let bytes = 0;
  let withMd5 = 0;
  for (const file of manifest.files) {
    const found = await digestOf(destination, `${folder}${file.name}`);
    if (found.bytes !== file.bytes || (file.md5 !== undefined && found.md5 !== file.md5)) {
      throw new Error(
        `${destination.kind} ${file.name}: ${found.bytes} bytes, MD5 ${found.md5}; the manifest says ${file.bytes}, ${file.md5}`,
      );
    }
    bytes += found.bytes;
    if (file.md5 !== undefined) withMd5++;
  }
  const data = paths.filter((p) => p.startsWith(folder) && p.slice(folder.length).startsWith('data-'));
  if (data.length !== manifest.files.length) {
    throw new Error(
      `${destination.kind}: ${data.length} data files in the folder, ${manifest.files.length} in the manifest`,
    );
  }
  return {
    verified: `${manifest.files.length} files of the manifest read back: sizes match, MD5s match (${withMd5} listed)`,
    files: manifest.files.length,
    bytes,
  };
}

async function objectsIn(storage: Storage, bucket: string): Promise<number> {
  const [files] = await storage.bucket(bucket).getFiles();
  return files.length;
}

/** Runs the full path, or says why it could not. */
export async function fullPathRuns(options: FullPathOptions): Promise<FullPathOutcome> {
  const environment = await startEnvironment({
    destinations: true,
    workers: 1,
    workerEnv: { LOG_LEVEL: 'info', LOG_FORMAT: 'json', BQBR_JOB_POLL_MS: '500' },
    dispatcherEnv: { LOG_LEVEL: 'warn' },
  });
  try {
    const projectId = unique('transfer').replaceAll('_', '-');
    const rows = Math.ceil(options.totalBytes / ROW_BYTES);
    console.log(`full path: making a table of ${rows} rows in the BigQuery emulator`);
    const table = await makeTable(environment, projectId, rows);
    if (table === undefined) {
      return {
        kind: 'skipped',
        reason: `making a ${(options.totalBytes / GiB).toFixed(1)} GiB table in the BigQuery emulator (DuckDB) by a query took more than ${TABLE_BUDGET_MS / 60_000} minutes.`,
      };
    }
    console.log(
      `full path: table of ${(table.bytes / GiB).toFixed(2)} GiB made in ${table.seconds.toFixed(1)} s`,
    );
    // About the files of the copy benchmark: eight of a quarter of the table each.
    await environment.controls({ exportShardRows: Math.ceil(rows / FILES) });

    const runs: FullPathRun[] = [];
    // Cloud Storage first: the same extract with nothing to carry, the reference for the others.
    const kinds: Kind[] = ['gcs', ...options.kinds.filter((k) => k !== 'gcs')];
    for (const kind of kinds) {
      // A fresh worker per backup: its VmHWM is this backup's alone.
      for (const old of environment.workers.splice(0)) await old.stop();
      const worker = await environment.startWorker();
      const workerPid = childPidOf(worker.pid);
      if (workerPid === undefined) throw new Error('the worker process was not found under its guard');
      const workerIdlePeakRssMB = peakRssMBOf(workerPid);
      const destination = await openDestination(kind, {
        env: environment.env,
        storage: environment.storage,
        place: 'transfer-full',
        prefix: `bench-${kind}`,
      });
      const operationId = unique('transfer');
      const started = Date.now();
      await publishRequest(environment, {
        operationId,
        bigQuery: { projectId, tablesToBackup: [{ datasetName: DATASET, tables: [TABLE] }] },
        backupStorage: {
          [`${kind}Options`]: {
            ...destination.requestOptions,
            exportOptions: { format: 'AVRO', overwrite: true },
          },
        },
      });
      const operation = await waitForOperation(environment, operationId, undefined, BACKUP_TIMEOUT_MS);
      const seconds = (Date.now() - started) / 1000;
      const workerPeakRssMB = peakRssMBOf(workerPid);
      const carry = carryOf(worker.recentOutput());
      if (operation.status !== 'SUCCEEDED') {
        const tasks = await tasksOf(environment, operationId);
        return {
          kind: 'skipped',
          reason: `the backup to ${KIND_LABEL[kind]} ended ${operation.status}: ${JSON.stringify({
            error: operation.error,
            tasks: tasks.map((t) => ({ status: t.status, error: t.error })),
          })}`,
        };
      }
      const check = await verifyBackup(destination);
      const stagingLeft = await objectsIn(environment.storage, STAGING_BUCKET);
      await destination.clear();
      const run: FullPathRun = {
        destination: kind,
        status: operation.status,
        tableBytes: table.bytes,
        files: check.files,
        fileBytes: check.bytes,
        seconds: Math.round(seconds * 10) / 10,
        ...(carry === undefined ? {} : { carry }),
        workerIdlePeakRssMB,
        workerPeakRssMB,
        verified: check.verified,
        stagingLeft,
      };
      runs.push(run);
      console.log(
        `full path to ${kind}: ${run.seconds} s, ${check.files} files, worker peak RSS ${workerPeakRssMB} MB (idle ${workerIdlePeakRssMB})${carry ? `, carried at ${carry.mibPerSecond} MiB/s` : ''}`,
      );
    }
    return {
      kind: 'measured',
      rows,
      tableBytes: table.bytes,
      tableSeconds: Math.round(table.seconds * 10) / 10,
      format: 'AVRO',
      concurrency: options.concurrency,
      runs,
      benchProcessPeakRssMB: peakRssMBOf('self'),
    };
  } finally {
    await environment.stop();
  }
}

export function fullPathMarkdown(outcome: FullPathOutcome): string {
  const title = '## The full path: one backup through the dispatcher and a worker';
  if (outcome.kind === 'skipped') {
    return `${title}

Not measured: ${outcome.reason}

The memory figure for a multi-GB table is therefore the copier process above: the worker's own copyFiles moving the whole extract in a process of its own, which is what one such task holds in a worker beyond the worker's idle footprint.`;
  }
  const rows = outcome.runs.map(
    (run) =>
      `| ${KIND_LABEL[run.destination]} | ${run.seconds} | ${run.carry ? `${run.carry.mibPerSecond} (${run.carry.seconds.toFixed(1)} s)` : '– (nothing to carry)'} | ${run.files} × ${(run.fileBytes / run.files / MiB).toFixed(0)} MiB | ${Math.round(run.workerPeakRssMB)} (${Math.round(run.workerIdlePeakRssMB)}) | ${run.stagingLeft} |`,
  );
  return `${title}

A table of ${outcome.rows.toLocaleString('en')} rows (${(outcome.tableBytes / GiB).toFixed(2)} GiB as BigQuery counts it; an id and ~1 KB of distinct hex text per row) was made in the BigQuery emulator by one query job in ${outcome.tableSeconds} s, then backed up by one request per destination (${outcome.format}, the extract cut into about ${FILES} files), with the dispatcher and one worker as processes (pull mode; the worker's defaults, ${outcome.concurrency} files at once). Each backup ran on a fresh worker process, so its peak RSS is that backup's alone. Afterwards every file the table's manifest names was read back at the destination and checked against the manifest's size and MD5, and the staging bucket was looked at (the worker clears it).

| destination | request → operation final (s) | copy to the destination, worker's log (MiB/s) | files | worker peak RSS MB (idle) | staging objects left |
|---|---|---|---|---|---|
${rows.join('\n')}

The Cloud Storage row is the same extract with nothing to carry: the others' extra time is the copy. The benchmark's process, which holds the BigQuery emulator's DuckDB database in memory and the Cloud Storage emulator, peaked at ${Math.round(outcome.benchProcessPeakRssMB)} MB.`;
}
