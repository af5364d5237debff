// One copy run of the transfer benchmark (transfer-bench.ts), in its own process so that its peak memory
// is the copy's alone: files from a Cloud Storage folder to a destination, either by bqbr's code path
// (the worker's copyFiles between BackupStores) or by the floor (the simplest streaming copy with the
// official clients). Prints one line `RESULT {json}`: time, bytes, CPU and memory of this process.
// Usage (from transfer-bench.ts): node --import tsx test/bench/transfer-copy.ts '<CopyJob as JSON>'
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createWriteStream } from 'node:fs';
import { Storage } from '@google-cloud/storage';
import { crc32cGenerator, createStore, type DestinationSpec } from '@bqbr/shared';
import { copyFiles } from '@bqbr/worker/dist/transfer.js';

export interface BenchFile {
  /** Name in the staging folder, and under the destination's prefix. */
  readonly name: string;
  readonly bytes: number;
  /** base64 */
  readonly md5: string;
}

export interface CopyJob {
  readonly mode: 'floor' | 'bqbr';
  /** Files moved at once. */
  readonly concurrency: number;
  /** The staging folder: `gs://bucket/prefix/`. */
  readonly staging: { readonly bucket: string; readonly prefix: string };
  readonly destination: DestinationSpec;
  readonly files: readonly BenchFile[];
}

export interface CopyResult {
  readonly seconds: number;
  readonly bytes: number;
  readonly filesCopied: number;
  /** user + system CPU of this process during the copy. */
  readonly cpuSeconds: number;
  /** The system (kernel) part of cpuSeconds. */
  readonly systemCpuSeconds: number;
  /** ... and over its whole life (start-up included). */
  readonly processCpuSeconds: number;
  /** VmHWM once the clients and SDKs were loaded, before the first byte moved. */
  readonly baselinePeakRssMB: number;
  /** VmHWM at the end: the process's peak resident memory. */
  readonly peakRssMB: number;
}

/** A VmHWM / VmRSS line of /proc/self/status, in MB (MiB). */
function procStatusMB(field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kB = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? NaN);
  return Math.round((kB / 1024) * 10) / 10;
}

/** Runs `copy` over the files, `concurrency` at a time (the same lanes as copyFiles). */
async function inLanes(
  files: readonly BenchFile[],
  concurrency: number,
  copy: (file: BenchFile) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, files.length)) }, async () => {
      while (next < files.length) await copy(files[next++]!);
    }),
  );
}

const joinKey = (prefix: string | undefined, name: string): string =>
  prefix ? `${prefix.replace(/\/$/, '')}/${name}` : name;

/** The floor's writer for one destination: the simplest streaming upload its official client offers. */
async function floorWriter(
  destination: DestinationSpec,
  storage: Storage,
): Promise<(name: string, body: Readable, bytes: number) => Promise<void>> {
  switch (destination.kind) {
    case 's3': {
      const { S3Client, PutObjectCommand } = await import('@aws-sdk/client-s3');
      const s3 = new S3Client({
        region: destination.region ?? process.env['AWS_REGION'] ?? 'us-east-1',
        ...(destination.endpoint ? { endpoint: destination.endpoint } : {}),
        forcePathStyle: destination.forcePathStyle ?? false,
        // Without these the SDK frames a streamed body with checksums that S3-compatible servers store.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return async (name, body, bytes) => {
        await s3.send(
          new PutObjectCommand({
            Bucket: destination.bucket,
            Key: joinKey(destination.prefix, name),
            Body: body,
            ContentLength: bytes,
          }),
        );
      };
    }
    case 'azure': {
      const { BlobServiceClient } = await import('@azure/storage-blob');
      const connection = process.env['AZURE_STORAGE_CONNECTION_STRING'];
      if (!connection) throw new Error('AZURE_STORAGE_CONNECTION_STRING is not set');
      const container = BlobServiceClient.fromConnectionString(connection).getContainerClient(
        destination.container,
      );
      return async (name, body) => {
        // The SDK's defaults: 8 MiB blocks, 5 at once.
        await container.getBlockBlobClient(joinKey(destination.prefix, name)).uploadStream(body);
      };
    }
    case 'file':
      return async (name, body) => {
        const path = join(destination.path, name);
        await mkdir(dirname(path), { recursive: true });
        await pipeline(body, createWriteStream(path));
      };
    case 'gcs': {
      const { bucket, prefix } = parseGs(destination.uri);
      return async (name, body) => {
        await pipeline(body, storage.bucket(bucket).file(joinKey(prefix, name)).createWriteStream());
      };
    }
  }
}

function parseGs(uri: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!m) throw new Error(`not a gs:// URI: ${uri}`);
  return { bucket: m[1]!, prefix: m[2]! };
}

/** Loads the destination's SDK before the baseline, so both modes count it there and not in the copy. */
async function preload(destination: DestinationSpec): Promise<void> {
  if (destination.kind === 's3') await import('@aws-sdk/client-s3');
  if (destination.kind === 'azure') await import('@azure/storage-blob');
}

async function main(): Promise<void> {
  const job = JSON.parse(process.argv[2] ?? '') as CopyJob;
  const storage = new Storage({
    projectId: process.env['GOOGLE_CLOUD_PROJECT'] ?? 'bench',
    apiEndpoint: process.env['STORAGE_EMULATOR_HOST'],
  });
  await preload(job.destination);
  let copy: () => Promise<{ bytes: number; files: number }>;
  if (job.mode === 'bqbr') {
    // The Storage client as the worker's createClients builds it (its CRC32C for download checks).
    const workerStorage = new Storage({
      projectId: process.env['GOOGLE_CLOUD_PROJECT'] ?? 'bench',
      apiEndpoint: process.env['STORAGE_EMULATOR_HOST'],
      crc32cGenerator,
    });
    const deps = { storage: workerStorage, env: process.env };
    const from = createStore({ kind: 'gcs', uri: `gs://${job.staging.bucket}/${job.staging.prefix}` }, deps);
    const to = createStore(job.destination, deps);
    copy = async () => {
      const report = await copyFiles(
        from,
        to,
        job.files.map((f) => ({ from: f.name, to: f.name, bytes: f.bytes, md5: f.md5 })),
        { concurrency: job.concurrency },
      );
      return { bytes: report.bytes, files: report.copied };
    };
  } else {
    const write = await floorWriter(job.destination, storage);
    const source = storage.bucket(job.staging.bucket);
    copy = async () => {
      let bytes = 0;
      await inLanes(job.files, job.concurrency, async (file) => {
        // The client's defaults: the download is checked against the object's CRC32C.
        const body = source.file(joinKey(job.staging.prefix, file.name)).createReadStream();
        await write(file.name, body, file.bytes);
        bytes += file.bytes;
      });
      return { bytes, files: job.files.length };
    };
  }
  const baselinePeakRssMB = procStatusMB('VmHWM');
  const cpu = process.cpuUsage();
  const started = performance.now();
  const done = await copy();
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const result: CopyResult = {
    seconds,
    bytes: done.bytes,
    filesCopied: done.files,
    cpuSeconds: (used.user + used.system) / 1e6,
    systemCpuSeconds: used.system / 1e6,
    processCpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    baselinePeakRssMB,
    peakRssMB: procStatusMB('VmHWM'),
  };
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
