// Benchmark: carrying an extract's files from Cloud Storage staging to each destination outside it (S3 on
// s3rver, Azure on Azurite, a directory; Cloud Storage too), bqbr's copy (the worker's copyFiles between
// BackupStores) against the floor (the simplest streaming copy with the official clients), each run in
// its own process so its peak memory is the copy's alone. Every run is checked (each file at the
// destination with its size and MD5) and cleared before the next. Then, when the services support it,
// one backup of a multi-GB table through the dispatcher and a worker to each destination.
// Results: bench-results/transfer.{json,md}.
// Usage: node --import tsx test/bench/transfer-bench.ts [--gib N] [--files N] [--destinations s3,azure,file,gcs] [--no-full-path]
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, statfs, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CRC32C, Storage } from '@google-cloud/storage';
import { startStack } from '@bqbr/emulators';
import { Crc32c } from '@bqbr/shared';
import { WORKER_DEFAULTS } from '@bqbr/worker/dist/config.js';
import type { BenchFile, CopyJob, CopyResult } from './transfer-copy.js';
import {
  KINDS,
  KIND_LABEL,
  childPidOf,
  cpuSecondsOf,
  digestOf,
  openDestination,
  type Destination,
  type Kind,
} from './transfer-destinations.js';
import { fullPathMarkdown, fullPathRuns, type FullPathOutcome } from './transfer-full-path.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const resultsDir = fileURLToPath(new URL('../../bench-results/', import.meta.url));
const copyScript = fileURLToPath(new URL('./transfer-copy.ts', import.meta.url));
const CHUNK = MiB;
const RUN_TIMEOUT_MS = 30 * 60_000;
const STAGING_BUCKET = 'transfer-staging';
const STAGING_PREFIX = 'staging/op/ds/big_table/';
/** Where the files go at every destination: a backup's table folder. */
const DESTINATION_PREFIX = 'backups/op/ds/big_table';

interface Run {
  readonly destination: Kind;
  readonly copier: 'floor' | 'bqbr';
  readonly concurrency: number;
  readonly seconds: number;
  readonly mibPerSecond: number;
  readonly copierCpuSeconds: number;
  /** Of which in the kernel (system time). */
  readonly copierSystemCpuSeconds: number;
  /** The Cloud Storage emulator runs in this process: this process's CPU during the run. */
  readonly gcsEmulatorCpuSeconds: number;
  /** s3rver's or Azurite's process; 0 for files (the kernel) and Cloud Storage (counted above). */
  readonly destinationServerCpuSeconds: number;
  readonly baselinePeakRssMB: number;
  readonly peakRssMB: number;
  readonly verified: string;
  /** CPU the rest of the machine used meanwhile (other helpers' work shares it): all busy CPU less ours. */
  readonly otherCpuSeconds: number;
}

const round1 = (value: number): number => Math.round(value * 10) / 10;

// ---- processes -------------------------------------------------------------------------------------

/** CPU seconds the whole machine has spent busy (all cores), from /proc/stat. */
function machineBusySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100;
}

/** Runs one copy in a child process (transfer-copy.ts) and returns what it measured. */
async function runCopy(job: CopyJob, env: NodeJS.ProcessEnv): Promise<CopyResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', copyScript, JSON.stringify(job)], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString('utf8')).slice(-8_000)));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve)).finally(() =>
    clearTimeout(timer),
  );
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || line === undefined) {
    throw new Error(`${job.mode} copy to ${job.destination.kind} exited with ${code}:\n${stderr}${stdout}`);
  }
  return JSON.parse(line.slice('RESULT '.length)) as CopyResult;
}

// ---- the staged files ------------------------------------------------------------------------------

/** `bytes` random bytes, made a chunk at a time (never all in memory), with their MD5 once read. */
function randomBody(bytes: number): { body: Readable; md5: () => string } {
  const hash = createHash('md5');
  let digest: string | undefined;
  function* chunks(): Generator<Buffer> {
    for (let left = bytes; left > 0; left -= CHUNK) {
      const chunk = randomBytes(Math.min(CHUNK, left));
      hash.update(chunk);
      yield chunk;
    }
  }
  return { body: Readable.from(chunks()), md5: () => (digest ??= hash.digest('base64')) };
}

/** Writes the extract's files into the staging folder, as BigQuery names them. */
async function stageFiles(storage: Storage, totalBytes: number, count: number): Promise<BenchFile[]> {
  const bucket = storage.bucket(STAGING_BUCKET);
  const [exists] = await bucket.exists();
  if (!exists) await storage.createBucket(STAGING_BUCKET);
  const each = Math.floor(totalBytes / count);
  const files: BenchFile[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = i === count - 1 ? totalBytes - each * (count - 1) : each;
    const name = `data-${String(i).padStart(12, '0')}.avro`;
    const { body, md5 } = randomBody(bytes);
    const object = bucket.file(`${STAGING_PREFIX}${name}`);
    await pipeline(body, object.createWriteStream({ resumable: true, validation: 'md5' }));
    const [metadata] = await object.getMetadata();
    if (Number(metadata.size) !== bytes || metadata.md5Hash !== md5()) {
      throw new Error(`staging ${name}: stored ${metadata.size} bytes, MD5 ${metadata.md5Hash}`);
    }
    files.push({ name, bytes, md5: md5() });
  }
  return files;
}

// ---- checks --------------------------------------------------------------------------------------

/** Every file is at the destination, nothing else is, and each has the staged size and MD5. */
async function verify(destination: Destination, files: readonly BenchFile[]): Promise<string> {
  const found = (await destination.list()).sort();
  const expected = files.map((f) => f.name).sort();
  if (JSON.stringify(found) !== JSON.stringify(expected)) {
    throw new Error(
      `${destination.kind}: found ${JSON.stringify(found)}, expected ${JSON.stringify(expected)}`,
    );
  }
  for (const file of files) {
    const { bytes, md5 } = await digestOf(destination, file.name);
    if (bytes !== file.bytes || md5 !== file.md5) {
      throw new Error(
        `${destination.kind} ${file.name}: ${bytes} bytes, MD5 ${md5}; staged ${file.bytes}, ${file.md5}`,
      );
    }
  }
  return `${files.length} files, sizes and MD5s match`;
}

/** MD5 (node:crypto), the storage client's CRC32C and bqbr's over 256 MiB in 1 MiB chunks, MiB/s on one core (best of 3). */
function hashSpeeds(): Results['hashes'] {
  const chunk = randomBytes(MiB);
  const speed = (hash: () => { update(data: Buffer): unknown }): number => {
    let best = 0;
    for (let attempt = 0; attempt < 3; attempt++) {
      const started = performance.now();
      const h = hash();
      for (let i = 0; i < 256; i++) h.update(chunk);
      best = Math.max(best, 256 / ((performance.now() - started) / 1000));
    }
    return Math.round(best);
  };
  return {
    md5MiBps: speed(() => createHash('md5')),
    storageCrc32cMiBps: speed(() => new CRC32C()),
    bqbrCrc32cMiBps: speed(() => new Crc32c()),
  };
}

// ---- report ----------------------------------------------------------------------------------------

function machine(): { cpus: string; cores: number; memoryGiB: number; kernel: string } {
  const list = cpus();
  return {
    cpus: list[0]?.model ?? 'unknown',
    cores: list.length,
    memoryGiB: round1(totalmem() / GiB),
    kernel: release(),
  };
}

interface Results {
  readonly date: string;
  readonly node: string;
  readonly machine: ReturnType<typeof machine>;
  readonly loadAverageAtStart: number[];
  readonly totalBytes: number;
  readonly files: number;
  readonly fileBytes: number[];
  readonly workerTransferConcurrency: number;
  readonly stagingSeconds: number;
  readonly runs: Run[];
  readonly ratios: Record<
    string,
    { sameConcurrency: number; oneAtATime: number; cpuPerByte: number; addedRssMB: number }
  >;
  /** Single-core hashing speed here: what every copied byte costs at least once. */
  readonly hashes: { md5MiBps: number; storageCrc32cMiBps: number; bqbrCrc32cMiBps: number };
  readonly fullPath: FullPathOutcome;
}

function markdown(r: Results): string {
  const c = r.workerTransferConcurrency;
  const size = (bytes: number): string =>
    bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${(bytes / MiB).toFixed(2)} MiB`;
  const sizes = [...new Set(r.fileBytes)].map(size).join(' / ');
  const serverCpu = (run: Run): string =>
    run.destination === 's3' || run.destination === 'azure'
      ? String(round1(run.destinationServerCpuSeconds))
      : '–';
  const rows = r.runs.map(
    (run) =>
      `| ${KIND_LABEL[run.destination]} | ${run.copier === 'bqbr' ? '**bqbr**' : 'floor'} | ${run.concurrency} | ${run.copier === 'bqbr' ? `**${run.mibPerSecond}**` : run.mibPerSecond} | ${round1(run.seconds)} | ${round1(run.copierCpuSeconds)} | ${round1(run.gcsEmulatorCpuSeconds)} | ${serverCpu(run)} | ${round1(run.otherCpuSeconds)} | ${Math.round(run.peakRssMB)} (${Math.round(run.baselinePeakRssMB)}) |`,
  );
  const ratioRows = Object.entries(r.ratios).map(
    ([kind, ratio]) =>
      `| ${KIND_LABEL[kind as Kind]} | **${ratio.sameConcurrency}** | ${ratio.oneAtATime} | ${ratio.cpuPerByte} | ${ratio.addedRssMB} |`,
  );
  return `# Copy throughput to each destination, and the copier's memory

${r.date}, Node ${r.node}; one machine: ${r.machine.cores} cores (${r.machine.cpus}), ${r.machine.memoryGiB} GiB RAM, Linux ${r.machine.kernel}; load average at start ${r.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')}. The machine is shared with other work: the "other CPU" column is what the rest of the machine used during each run (all busy CPU less the copier's, the benchmark process's and the destination server's).

**What moved.** One table's extract as the worker finds it in its Cloud Storage staging folder: ${r.files} files \`data-000000000000.avro\` … of ${sizes} (${(r.totalBytes / GiB).toFixed(2)} GiB in all; random bytes, generated and uploaded in ${r.stagingSeconds} s), in our Cloud Storage emulator. Each run copies all of them to the destination; afterwards every file is read back with the destination's own client and checked (all there, nothing else there, size and MD5 as staged), then deleted before the next run.

**The two copiers**, each run in a node process of its own (\`test/bench/transfer-copy.ts\`, started with tsx), so that its peak RSS (VmHWM of \`/proc/self/status\` at the end) is the copy's alone; the figure in brackets is the same process's VmHWM with its clients and SDKs loaded, just before the first byte moved.
- **bqbr**: \`copyFiles(staging, destination, files, { concurrency })\` from services/worker/src/transfer.ts between the stores of @bqbr/shared (\`createStore\`), with the files' sizes and MD5s as the worker passes them: the worker's code path. ${c} files at once is the worker's default (\`BQBR_TRANSFER_CONCURRENCY\`). Inside each file the stores' defaults: S3 multipart, parts of 16 MiB, 4 at once, each sent with its Content-MD5 and its ETag compared; Azure blocks of 8 MiB, 4 at once, each with its MD5, then the block list with the blob's MD5, then its properties read back; files written to a temporary name, fsynced, re-read for their MD5, renamed, directory fsynced; Cloud Storage resumable uploads with MD5 validation. Every store also computes the whole file's MD5 to check it against the expected one. Downloads from staging are checked against their CRC32C.
- **floor**: the simplest streaming copy between the same endpoints with the official clients and their defaults: \`file.createReadStream()\` of @google-cloud/storage (which checks the CRC32C as well) piped into S3 \`PutObject\` with the stream and its ContentLength (one request per file; \`@aws-sdk/lib-storage\` is not installed), Azure \`BlockBlobClient.uploadStream\` (8 MiB blocks, 5 at once), \`fs.createWriteStream\`, or \`file.createWriteStream()\` (resumable, the client's default CRC32C validation). One file at a time, and ${c} at once like bqbr.

All servers share the ${r.machine.cores} cores with the copier: the Cloud Storage emulator runs inside the benchmark's process (its CPU column is that process's), s3rver and Azurite are node processes of their own; a file destination's server is the kernel, and Cloud Storage's is the same emulator. On this machine one core hashes ${r.hashes.md5MiBps} MiB/s of MD5 (node:crypto) and ${r.hashes.storageCrc32cMiBps} MiB/s of CRC32C with the storage client's own implementation, which the floor uses for every byte it downloads (bqbr's services give their Storage client @bqbr/shared's slicing-by-8 CRC32C instead: ${r.hashes.bqbrCrc32cMiBps} MiB/s): with two cores and three busy processes, the copy is CPU-bound and the CPU columns say where the time went.

| destination | copier | files at once | MiB/s | seconds | copier CPU s | GCS emulator CPU s | destination server CPU s | other CPU s | copier peak RSS MB (before the copy) |
|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

**bqbr against the floor** (throughput ratios: 1 = as fast as the floor):

| destination | bqbr ${c} at once / floor ${c} at once | bqbr ${c} at once / floor one at a time | copier CPU per byte, bqbr / floor (${c} at once) | bqbr's copy memory (peak − before, ${c} at once), MB |
|---|---|---|---|---|
${ratioRows.join('\n')}

${whereTheTimeGoes(r)}

${fullPathMarkdown(r.fullPath)}
`;
}

/** Per GiB copied: the copier's CPU seconds in one run. */
const cpuPerGiB = (r: Results, run: Run | undefined): string =>
  run === undefined ? '?' : (run.copierCpuSeconds / (r.totalBytes / GiB)).toFixed(1);

/** What a CPU profile of the copiers showed, with this run's figures. */
function whereTheTimeGoes(r: Results): string {
  const c = r.workerTransferConcurrency;
  const find = (kind: Kind, copier: string): Run | undefined =>
    r.runs.find((run) => run.destination === kind && run.copier === copier && run.concurrency === c);
  const crcPerGiB = (1024 / r.hashes.storageCrc32cMiBps).toFixed(1);
  const md5PerGiB = (1024 / r.hashes.md5MiBps).toFixed(1);
  const pair = (kind: Kind): string =>
    `${cpuPerGiB(r, find(kind, 'bqbr'))} CPU s per GiB against the floor's ${cpuPerGiB(r, find(kind, 'floor'))}`;
  const lines = [
    `**Where the time goes** (CPU profiles of the copier processes, and the CPU columns):`,
    `- Both copiers check the download from staging with a CRC32C in JavaScript: the floor with the storage client's own, about ${crcPerGiB} CPU s per GiB on one core here, bqbr with its own, about ${(1024 / r.hashes.bqbrCrc32cMiBps).toFixed(1)}. The copy runs on two cores shared with the servers, so CPU per byte decides the throughput.`,
  ];
  if (r.ratios['s3'])
    lines.push(
      `- S3: bqbr ${pair('s3')}. Per byte it computes the file's MD5 (to check the expected MD5 before completing the upload), each part's MD5 (Content-MD5, compared with the ETag), and the AWS SDK computes each part's SHA-256 for the SigV4 signature because the part is a Buffer (a streamed body, as the floor sends, goes as UNSIGNED-PAYLOAD); each pass costs about ${md5PerGiB} CPU s per GiB here. It also holds whole parts (see memory). s3rver then assembles the parts into the object, which costs it CPU and disk the floor's single PUT does not.`,
    );
  if (r.ratios['azure'])
    lines.push(
      `- Azure: bqbr ${pair('azure')}: the file's MD5 and each block's MD5 (the floor's \`uploadStream\` sends neither), then a properties read-back per blob.`,
    );
  if (r.ratios['file'])
    lines.push(
      `- Files: bqbr ${pair('file')}: MD5 while writing, fsync, then the whole file read back and hashed again before the rename; the floor only writes into the page cache.`,
    );
  if (r.ratios['gcs'])
    lines.push(
      `- Cloud Storage to Cloud Storage: bqbr ${pair('gcs')}: its uploads are validated by MD5 (node:crypto) where the floor's default upload validation is the client's JavaScript CRC32C again.`,
    );
  const bounds: [Kind, number][] = [
    ['s3', c * 80],
    ['azure', c * 40],
  ];
  const within = bounds
    .filter(([kind]) => r.ratios[kind] !== undefined)
    .map(
      ([kind, bound]) =>
        `${KIND_LABEL[kind]} ${r.ratios[kind]!.addedRssMB} MB against ${bound} MiB (${r.ratios[kind]!.addedRssMB <= bound * 1.048576 ? 'within' : '**above**'})`,
    );
  lines.push(
    `- Memory: the stores bound what one file holds, whatever its size: S3 at most (4 parts uploading + 1 being cut) × 16 MiB = 80 MiB, Azure (4 + 1) × 8 MiB = 40 MiB; files and Cloud Storage hold only stream buffers. With ${c} files at once: ${c * 80} MiB for S3, ${c * 40} MiB for Azure. Measured copy memory (peak − before): ${within.join('; ')}.`,
  );
  return lines.join('\n');
}

// ---- main --------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      gib: { type: 'string', default: '2' },
      files: { type: 'string', default: '8' },
      destinations: { type: 'string', default: KINDS.join(',') },
      'no-full-path': { type: 'boolean', default: false },
    },
  });
  const totalBytes = Math.round(Number(values.gib) * GiB);
  const fileCount = Number(values.files);
  const kinds = values.destinations.split(',').map((k) => k.trim()) as Kind[];
  for (const kind of kinds) if (!KINDS.includes(kind)) throw new Error(`unknown destination ${kind}`);
  if (!(totalBytes > 0) || !Number.isInteger(fileCount) || fileCount < 1)
    throw new Error('bad --gib or --files');
  const concurrency = (WORKER_DEFAULTS as { readonly transferConcurrency?: number }).transferConcurrency ?? 4;

  // The staged copy, one destination copy at a time, and what s3rver and Azurite keep meanwhile.
  const space = await statfs(tmpdir());
  const available = space.bavail * space.bsize;
  const needed = 4 * totalBytes + 2 * GiB;
  if (available < needed) {
    throw new Error(
      `${tmpdir()} has ${(available / GiB).toFixed(1)} GiB free; this run needs about ${(needed / GiB).toFixed(1)} GiB`,
    );
  }

  const hashes = hashSpeeds();
  const scratch = await mkdtemp(join(tmpdir(), 'bqbr-transfer-bench-'));
  const fileRoot = join(scratch, 'files');
  await mkdir(fileRoot);
  const date = new Date().toISOString();
  const loadAverageAtStart = loadavg();
  const runs: Run[] = [];
  let stagingSeconds = 0;
  let files: BenchFile[] = [];
  const stack = await startStack({
    services: ['storage'],
    s3: true,
    azure: true,
    ports: { storage: 0, s3: 0, azure: 0 },
    projectId: 'transfer-bench',
    dataDir: join(scratch, 'stack'),
    filesDir: fileRoot,
  });
  try {
    const storage = new Storage({
      projectId: stack.projectId,
      apiEndpoint: stack.env['STORAGE_EMULATOR_HOST']!,
    });
    const stagingStarted = Date.now();
    files = await stageFiles(storage, totalBytes, fileCount);
    stagingSeconds = round1((Date.now() - stagingStarted) / 1000);
    console.log(`staged ${fileCount} files (${(totalBytes / GiB).toFixed(2)} GiB) in ${stagingSeconds} s`);

    const env: NodeJS.ProcessEnv = { ...process.env, ...stack.env };
    const serverPids: Partial<Record<Kind, number>> = {};
    for (const service of ['s3', 'azure'] as const) {
      const guard = stack.endpoints.find((e) => e.service === service)?.pid;
      const pid = guard === undefined ? undefined : childPidOf(guard);
      if (pid !== undefined) serverPids[service] = pid;
    }
    const plan: { copier: 'floor' | 'bqbr'; concurrency: number }[] = [
      { copier: 'floor', concurrency: 1 },
      { copier: 'floor', concurrency },
      { copier: 'bqbr', concurrency },
      ...(concurrency === 1 ? [] : [{ copier: 'bqbr' as const, concurrency: 1 }]),
    ];
    for (const kind of kinds) {
      const destination = await openDestination(kind, {
        env: stack.env,
        storage,
        place: 'transfer-destination',
        prefix: DESTINATION_PREFIX,
        serverPids,
      });
      for (const step of plan) {
        const machineBusy = machineBusySeconds();
        const serverCpu = destination.serverPid === undefined ? 0 : cpuSecondsOf(destination.serverPid);
        const ownCpu = process.cpuUsage();
        const result = await runCopy(
          {
            mode: step.copier,
            concurrency: step.concurrency,
            staging: { bucket: STAGING_BUCKET, prefix: STAGING_PREFIX },
            destination: destination.spec,
            files,
          },
          env,
        );
        const machineBusyAfter = machineBusySeconds();
        const own = process.cpuUsage(ownCpu);
        const serverCpuSeconds =
          destination.serverPid === undefined ? 0 : cpuSecondsOf(destination.serverPid) - serverCpu;
        if (result.bytes !== totalBytes || result.filesCopied !== files.length) {
          throw new Error(
            `${step.copier} to ${kind}: moved ${result.bytes} bytes in ${result.filesCopied} files`,
          );
        }
        const verified = await verify(destination, files);
        await destination.clear();
        const run: Run = {
          destination: kind,
          copier: step.copier,
          concurrency: step.concurrency,
          seconds: Math.round(result.seconds * 100) / 100,
          mibPerSecond: round1(totalBytes / MiB / result.seconds),
          copierCpuSeconds: round1(result.cpuSeconds),
          copierSystemCpuSeconds: round1(result.systemCpuSeconds),
          gcsEmulatorCpuSeconds: round1((own.user + own.system) / 1e6),
          destinationServerCpuSeconds: round1(serverCpuSeconds),
          baselinePeakRssMB: result.baselinePeakRssMB,
          peakRssMB: result.peakRssMB,
          verified,
          otherCpuSeconds: round1(
            Math.max(
              0,
              machineBusyAfter -
                machineBusy -
                result.processCpuSeconds -
                (own.user + own.system) / 1e6 -
                serverCpuSeconds,
            ),
          ),
        };
        runs.push(run);
        console.log(
          `${kind} ${step.copier} x${step.concurrency}: ${run.mibPerSecond} MiB/s (${run.seconds} s), peak RSS ${run.peakRssMB} MB (baseline ${run.baselinePeakRssMB}), CPU ${run.copierCpuSeconds} s (system ${run.copierSystemCpuSeconds} s)`,
        );
      }
    }
  } finally {
    await stack.stop();
    await rm(scratch, { recursive: true, force: true });
  }

  const ratios: Results['ratios'] = {};
  for (const kind of kinds) {
    const of = (copier: string, n: number): Run =>
      runs.find((r) => r.destination === kind && r.copier === copier && r.concurrency === n)!;
    const bqbr = of('bqbr', concurrency);
    const floor = of('floor', concurrency);
    const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
    ratios[kind] = {
      sameConcurrency: ratio(bqbr.mibPerSecond, floor.mibPerSecond),
      oneAtATime: ratio(bqbr.mibPerSecond, of('floor', 1).mibPerSecond),
      cpuPerByte: ratio(bqbr.copierCpuSeconds, floor.copierCpuSeconds),
      addedRssMB: Math.round(bqbr.peakRssMB - bqbr.baselinePeakRssMB),
    };
  }

  let fullPath: FullPathOutcome;
  if (values['no-full-path']) {
    fullPath = { kind: 'skipped', reason: 'left out of this run (--no-full-path).' };
  } else {
    // The copy figures stand on their own: a failure here is reported, not thrown.
    fullPath = await fullPathRuns({ totalBytes, kinds, concurrency }).catch(
      (err: unknown): FullPathOutcome => {
        console.error('full path failed:', err);
        return { kind: 'skipped', reason: `the run failed: ${(err as Error).message.split('\n')[0]}` };
      },
    );
  }

  const results: Results = {
    date,
    node: process.version,
    machine: machine(),
    loadAverageAtStart: loadAverageAtStart.map((l) => Math.round(l * 100) / 100),
    totalBytes,
    files: files.length,
    fileBytes: files.map((f) => f.bytes),
    workerTransferConcurrency: concurrency,
    stagingSeconds,
    hashes,
    runs,
    ratios,
    fullPath,
  };
  await mkdir(resultsDir, { recursive: true });
  await writeFile(join(resultsDir, 'transfer.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeFile(join(resultsDir, 'transfer.md'), markdown(results));
  console.log(`results written to ${join(resultsDir, 'transfer.md')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
