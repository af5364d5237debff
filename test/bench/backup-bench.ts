// Benchmark: one backup request over a project of N tables (default 10,000; emulator jobs with zero
// latency), with the dispatcher and workers as processes. Reports time to plan and fan out, time to
// completion, peak memory of each service, and the same run's floor: the raw Pub/Sub and Firestore
// work per task done alone. Results: bench-results/backup.{json,md}.
// Usage: node --import tsx test/bench/backup-bench.ts [--tables N] [--workers W]
import { AggregateField } from '@google-cloud/firestore';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { publishRequest, startEnvironment, unique, type Environment } from '../support/e2e.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const resultsDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const DATASET_SIZE = 1_000;
const SEED_CONCURRENCY = 32;

/** Peak resident memory (VmHWM, MB) of the node process under a service's sh guard. */
function peakRssMB(guardPid: number): number {
  let children: string[] = [];
  try {
    children = readFileSync(`/proc/${guardPid}/task/${guardPid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
  } catch {
    return NaN;
  }
  const peaks = children.map((pid) => {
    try {
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      return 0;
    }
  });
  return Math.round(Math.max(0, ...peaks));
}

async function inParallel<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

async function seed(environment: Environment, projectId: string, tables: number): Promise<void> {
  const bigquery = environment.bigquery(projectId);
  const datasets = Math.ceil(tables / DATASET_SIZE);
  for (let d = 0; d < datasets; d++) await bigquery.createDataset(`bench_${d}`);
  const names = Array.from({ length: tables }, (_, i) => ({
    dataset: `bench_${Math.floor(i / DATASET_SIZE)}`,
    table: `t_${i}`,
  }));
  await inParallel(names, SEED_CONCURRENCY, async ({ dataset, table }) => {
    await bigquery.dataset(dataset).createTable(table, {
      schema: {
        fields: [
          { name: 'id', type: 'INT64' },
          { name: 'name', type: 'STRING' },
        ],
      },
    });
  });
}

/** The floor: what the same number of tasks costs in Pub/Sub and Firestore with no bqbr logic around it. */
async function floor(
  environment: Environment,
  tasks: number,
): Promise<{ pubsubSeconds: number; firestoreSeconds: number }> {
  const topic = environment.pubsub.topic(unique('floor'));
  await topic.create();
  const [subscription] = await topic.createSubscription(unique('floor_sub'));
  const started = Date.now();
  let received = 0;
  const done = new Promise<void>((resolve) => {
    subscription.on('message', (message: { ack(): void }) => {
      message.ack();
      if (++received === tasks) resolve();
    });
  });
  const publishes: Promise<string>[] = [];
  for (let i = 0; i < tasks; i++)
    publishes.push(
      topic.publishMessage({ data: Buffer.from(JSON.stringify({ operationId: 'floor', taskId: `t_${i}` })) }),
    );
  await Promise.all(publishes);
  await done;
  const pubsubSeconds = (Date.now() - started) / 1000;
  await subscription.close();

  // Per task: the task document created, then set RUNNING, then SUCCEEDED (what dispatcher and worker write).
  const collection = environment.firestore.collection('floor').doc(unique('op')).collection('tasks');
  const firestoreStarted = Date.now();
  for (const status of ['PENDING', 'RUNNING', 'SUCCEEDED']) {
    const writer = environment.firestore.bulkWriter();
    writer.onWriteError(() => true);
    for (let i = 0; i < tasks; i++)
      void writer.set(
        collection.doc(`t_${i}`),
        { status, updatedAt: new Date().toISOString() },
        { merge: true },
      );
    await writer.close();
  }
  await collection.where('status', '==', 'SUCCEEDED').aggregate({ n: AggregateField.count() }).get();
  return { pubsubSeconds, firestoreSeconds: (Date.now() - firestoreStarted) / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { tables: { type: 'string' }, workers: { type: 'string' } } });
  const tables = Number(values.tables ?? 10_000);
  const workers = Number(values.workers ?? 2);
  const environment = await startEnvironment({
    workers,
    workerEnv: { BQBR_WORKER_CONCURRENCY: '16', BQBR_JOB_POLL_MS: '50', LOG_LEVEL: 'warn' },
  });
  try {
    const projectId = unique('bench').replaceAll('_', '-');
    const seedStarted = Date.now();
    await seed(environment, projectId, tables);
    const seedSeconds = (Date.now() - seedStarted) / 1000;
    console.log(`seeded ${tables} tables in ${seedSeconds.toFixed(1)} s`);
    const [exists] = await environment.storage.bucket('bench-backups').exists();
    if (!exists) await environment.storage.createBucket('bench-backups');

    const operationId = unique('bench');
    const started = Date.now();
    await publishRequest(environment, {
      operationId,
      bigQuery: { projectId },
      backupStorage: {
        gcsOptions: { uri: 'gs://bench-backups', exportOptions: { format: 'AVRO', overwrite: true } },
      },
    });
    const operations = environment.firestore.collection('operations').doc(operationId);
    let fannedOutAt = 0;
    let final: Record<string, unknown> | undefined;
    let lastReport = 0;
    while (!final) {
      const doc = (await operations.get()).data();
      if (doc?.['fanOutComplete'] === true && fannedOutAt === 0) {
        fannedOutAt = Date.now();
        console.log(
          `planned and fanned out ${String(doc['taskTotal'])} tasks in ${((fannedOutAt - started) / 1000).toFixed(1)} s`,
        );
      }
      if (doc && ['SUCCEEDED', 'PARTIALLY_FAILED', 'FAILED'].includes(String(doc['status']))) final = doc;
      if (Date.now() - lastReport > 15_000) {
        lastReport = Date.now();
        const done = await operations
          .collection('tasks')
          .where('status', 'in', ['SUCCEEDED', 'FAILED', 'SKIPPED'])
          .count()
          .get();
        console.log(
          `  ${done.data().count} tasks done after ${((Date.now() - started) / 1000).toFixed(0)} s`,
        );
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const completedAt = Date.now();
    const memory = {
      dispatcherPeakRssMB: peakRssMB(environment.dispatcher.pid),
      workerPeakRssMB: environment.workers.map((w) => peakRssMB(w.pid)),
    };
    const floorTimes = await floor(environment, tables);
    const floorSeconds = floorTimes.pubsubSeconds + floorTimes.firestoreSeconds;
    const completionSeconds = (completedAt - started) / 1000;
    const results = {
      date: new Date().toISOString(),
      node: process.version,
      tables,
      workers,
      workerConcurrency: 16,
      status: final['status'],
      summary: final['summary'],
      seedSeconds: Math.round(seedSeconds * 10) / 10,
      planAndFanOutSeconds: Math.round(((fannedOutAt || completedAt) - started) / 100) / 10,
      completionSeconds: Math.round(completionSeconds * 10) / 10,
      tablesPerSecond: Math.round(tables / completionSeconds),
      ...memory,
      floor: {
        pubsubPublishPullAckSeconds: Math.round(floorTimes.pubsubSeconds * 10) / 10,
        firestoreTaskWritesSeconds: Math.round(floorTimes.firestoreSeconds * 10) / 10,
        totalSeconds: Math.round(floorSeconds * 10) / 10,
      },
      ratioToFloor: Math.round((completionSeconds / floorSeconds) * 10) / 10,
    };
    console.log(JSON.stringify(results, null, 2));
    await mkdir(resultsDir, { recursive: true });
    await writeFile(`${resultsDir}backup.json`, `${JSON.stringify(results, null, 2)}\n`);
    await writeFile(
      `${resultsDir}backup.md`,
      `# Backup of ${tables.toLocaleString('en')} tables, end to end

${results.date}, Node ${results.node}; the local stack on one 2-core machine: the dispatcher and ${workers} workers (16 tasks each at a time) as processes, BigQuery extract jobs with zero latency, Avro files to the Cloud Storage emulator.

| measure | value |
|---|---|
| outcome | ${String(results.status)} (${JSON.stringify(results.summary)}) |
| plan and fan out (request published → every task document written and message published) | ${results.planAndFanOutSeconds} s |
| completion (request published → operation final, \`_backup.json\` written) | ${results.completionSeconds} s (${results.tablesPerSecond} tables/s) |
| dispatcher peak RSS | ${results.dispatcherPeakRssMB} MB |
| worker peak RSS | ${results.workerPeakRssMB.join(' MB, ')} MB |
| floor: publish + pull + ack of ${tables.toLocaleString('en')} messages | ${results.floor.pubsubPublishPullAckSeconds} s |
| floor: Firestore writes per task (create, RUNNING, SUCCEEDED) with BulkWriter | ${results.floor.firestoreTaskWritesSeconds} s |
| **ratio of completion to the floor** | **${results.ratioToFloor}×** |

The floor runs in the same environment right after the backup. Beyond it, each task costs a table metadata read, an extract job (created, polled), a listing of the written files, a \`_table.json\` upload and an event; the emulators all share the machine's two cores with the services.
`,
    );
    console.log(`results written to ${resultsDir}backup.md`);
  } finally {
    await environment.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
