// Benchmark of the Cloud Storage emulator run as its own process, driven by @google-cloud/storage:
// one large resumable upload and streaming download, then many small objects.
// Usage: node infra/emulators/dist/bench/gcs-bench.js [--size-gb N]
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Storage } from '@google-cloud/storage';
import { crc32cGenerator } from '@bqbr/shared';
import { freePort } from '../stack/readiness.js';
import { round, writeBenchResults } from './results.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const MiB = 1024 * 1024;
const SMALL_OBJECT_BYTES = 4 * 1024;
const SMALL_CONCURRENCY = 16;
const RSS_SAMPLE_MS = 100;

const emulatorMain = fileURLToPath(new URL('../gcs/main.js', import.meta.url));

interface BenchResults {
  readonly date: string;
  readonly node: string;
  readonly largeObject: {
    readonly bytes: number;
    readonly uploadSeconds: number;
    readonly uploadMBps: number;
    readonly downloadSeconds: number;
    readonly downloadMBps: number;
    readonly md5Verified: boolean;
  };
  readonly smallObjects: {
    readonly count: number;
    readonly bytesEach: number;
    readonly concurrency: number;
    readonly uploadObjectsPerSecond: number;
    readonly listSeconds: number;
    /** A restart on the same data dir, until it answers: the index is rebuilt from disk. */
    readonly restartSeconds: number;
  };
  readonly emulatorMemory: {
    readonly peakRssMB: number;
    readonly maxSampledRssMB: number;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      'size-gb': { type: 'string', default: '2' },
      'small-objects': { type: 'string', default: '10000' },
    },
  });
  const sizeGb = Number(values['size-gb']);
  if (!(sizeGb > 0)) throw new Error(`Invalid --size-gb: ${values['size-gb']}`);
  const SMALL_OBJECTS = Number(values['small-objects']);
  if (!Number.isInteger(SMALL_OBJECTS) || SMALL_OBJECTS < 1) {
    throw new Error(`Invalid --small-objects: ${values['small-objects']}`);
  }
  const totalBytes = Math.round(sizeGb * 1024 * MiB);

  const dataDir = await mkdtemp(join(tmpdir(), 'gcs-bench-'));
  const port = await freePort();
  const startEmulator = (): ChildProcess =>
    spawn(process.execPath, [emulatorMain, '--port', String(port), '--data-dir', dataDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  let child = startEmulator();
  const sampler = new RssSampler(child.pid!);
  try {
    const url = await waitForListening(child);
    sampler.start();
    const storage = new Storage({
      apiEndpoint: url,
      projectId: 'bench-project',
      // The client's own CRC32C would be what this measures: the shared slicing-by-8 one keeps the checks
      // on both sides without hiding the emulator behind them.
      crc32cGenerator,
    });
    const [bucket] = await storage.createBucket('gcs-bench');

    console.log(`large object: ${(totalBytes / MiB).toFixed(0)} MiB`);
    const file = bucket.file('large/object.bin');
    const uploadHash = createHash('md5');
    let started = performance.now();
    await pipeline(generatedData(totalBytes, uploadHash), file.createWriteStream({ resumable: true }));
    const uploadSeconds = (performance.now() - started) / 1000;
    const expectedMd5 = uploadHash.digest('base64');

    const downloadHash = createHash('md5');
    started = performance.now();
    await pipeline(file.createReadStream(), hashSink(downloadHash));
    const downloadSeconds = (performance.now() - started) / 1000;
    const md5Verified = downloadHash.digest('base64') === expectedMd5;
    if (!md5Verified) throw new Error('downloaded MD5 differs from the uploaded one');
    await file.delete();

    console.log(
      `small objects: ${SMALL_OBJECTS} x ${SMALL_OBJECT_BYTES} B, concurrency ${SMALL_CONCURRENCY}`,
    );
    const payload = Buffer.alloc(SMALL_OBJECT_BYTES, 'x');
    let next = 0;
    started = performance.now();
    await Promise.all(
      Array.from({ length: SMALL_CONCURRENCY }, async () => {
        while (next < SMALL_OBJECTS) {
          const i = next++;
          await bucket.file(`small/${String(i).padStart(6, '0')}`).save(payload, { resumable: false });
        }
      }),
    );
    const smallSeconds = (performance.now() - started) / 1000;
    started = performance.now();
    const [listed] = await bucket.getFiles({ prefix: 'small/' });
    const listSeconds = (performance.now() - started) / 1000;
    if (listed.length !== SMALL_OBJECTS)
      throw new Error(`listed ${listed.length} of ${SMALL_OBJECTS} objects`);

    sampler.stop();
    const peakRssMB = (await sampler.peakRssKb()) / 1024;

    await stopChild(child);
    started = performance.now();
    child = startEmulator();
    await waitForListening(child);
    const restartSeconds = (performance.now() - started) / 1000;
    const [relisted] = await bucket.getFiles({ prefix: 'small/' });
    if (relisted.length !== SMALL_OBJECTS) {
      throw new Error(`after the restart, listed ${relisted.length} of ${SMALL_OBJECTS} objects`);
    }
    const results: BenchResults = {
      date: new Date().toISOString(),
      node: process.version,
      largeObject: {
        bytes: totalBytes,
        uploadSeconds: round(uploadSeconds),
        uploadMBps: round(totalBytes / MiB / uploadSeconds),
        downloadSeconds: round(downloadSeconds),
        downloadMBps: round(totalBytes / MiB / downloadSeconds),
        md5Verified,
      },
      smallObjects: {
        count: SMALL_OBJECTS,
        bytesEach: SMALL_OBJECT_BYTES,
        concurrency: SMALL_CONCURRENCY,
        uploadObjectsPerSecond: round(SMALL_OBJECTS / smallSeconds),
        listSeconds: round(listSeconds),
        restartSeconds: round(restartSeconds),
      },
      emulatorMemory: { peakRssMB: round(peakRssMB), maxSampledRssMB: round(sampler.maxSampledKb / 1024) },
    };
    await writeBenchResults('gcs', results, markdown(results));
    console.log(markdown(results));
  } finally {
    sampler.stop();
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** `total` bytes made on the fly (a random block, stamped with the chunk index so no two chunks match). */
function generatedData(total: number, hash: ReturnType<typeof createHash>): Readable {
  const block = Buffer.alloc(MiB);
  for (let i = 0; i < block.length; i += 4) block.writeUInt32LE((Math.random() * 0x100000000) >>> 0, i);
  let produced = 0;
  let index = 0;
  return new Readable({
    highWaterMark: 4 * MiB,
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const chunk = Buffer.from(block.subarray(0, Math.min(MiB, total - produced)));
      if (chunk.length >= 8) chunk.writeDoubleLE(index++, 0);
      produced += chunk.length;
      hash.update(chunk);
      this.push(chunk);
    },
  });
}

function hashSink(hash: ReturnType<typeof createHash>): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done();
    },
  });
}

/** Samples the child's VmRSS; the kernel's VmHWM gives the true peak at the end. */
class RssSampler {
  maxSampledKb = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number) {}

  start(): void {
    this.timer = setInterval(() => {
      this.read('VmRSS')
        .then((kb) => (this.maxSampledKb = Math.max(this.maxSampledKb, kb)))
        .catch(() => undefined);
    }, RSS_SAMPLE_MS);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  async peakRssKb(): Promise<number> {
    return Math.max(await this.read('VmHWM'), this.maxSampledKb);
  }

  private async read(field: 'VmRSS' | 'VmHWM'): Promise<number> {
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
    return match ? Number(match[1]) : 0;
  }
}

function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /listening on (http:\/\/\S+)/.exec(output);
      if (match) resolve(match[1]!);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited with ${code} before listening`)));
  });
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid!, 'SIGTERM');
  await exited;
}

function markdown(r: BenchResults): string {
  const gib = (r.largeObject.bytes / 1024 / MiB).toFixed(2);
  return [
    `# Cloud Storage emulator benchmark`,
    ``,
    `${r.date}, Node ${r.node}; emulator in its own process, client @google-cloud/storage (CRC32C checked both ways, with a fast CRC32C implementation plugged into the client).`,
    ``,
    `| measure | value |`,
    `|---|---|`,
    `| large object | ${gib} GiB |`,
    `| resumable upload | ${r.largeObject.uploadMBps} MB/s (${r.largeObject.uploadSeconds} s) |`,
    `| streaming download (MD5 verified) | ${r.largeObject.downloadMBps} MB/s (${r.largeObject.downloadSeconds} s) |`,
    `| emulator peak RSS (VmHWM) | ${r.emulatorMemory.peakRssMB} MB |`,
    `| small objects (${r.smallObjects.count} x ${r.smallObjects.bytesEach} B, concurrency ${r.smallObjects.concurrency}) | ${r.smallObjects.uploadObjectsPerSecond} objects/s |`,
    `| list of the ${r.smallObjects.count} small objects (pages of 1000) | ${r.smallObjects.listSeconds} s |`,
    `| restart with the ${r.smallObjects.count} objects, until listening | ${r.smallObjects.restartSeconds} s |`,
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
