// The transfer benchmark's view of each destination, through the official clients (not bqbr's stores,
// which are what is measured): set up, list and read back what landed, clear it between runs.
import { createReadStream, readFileSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { Readable } from 'node:stream';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import type { Storage } from '@google-cloud/storage';
import type { DestinationSpec } from '@bqbr/shared';

export type Kind = DestinationSpec['kind'];
export const KINDS: readonly Kind[] = ['s3', 'azure', 'file', 'gcs'];
export const KIND_LABEL: Record<Kind, string> = {
  s3: 'S3 (s3rver)',
  azure: 'Azure Blob (Azurite)',
  file: 'file (local directory)',
  gcs: 'Cloud Storage (same emulator, another bucket)',
};

/** The environment a local stack with s3rver and Azurite gives (RunningStack.env). */
export type StackEnv = Readonly<Record<string, string>>;

export interface Destination {
  readonly kind: Kind;
  /** Where bqbr's stores write (a DestinationSpec, no credentials). */
  readonly spec: DestinationSpec;
  /** The same place as a request's `<kind>Options` (without exportOptions). */
  readonly requestOptions: Record<string, unknown>;
  /** Paths of every object under the prefix, relative to it (recursive, '/'-separated). */
  list(): Promise<string[]>;
  read(path: string): Promise<Readable>;
  /** Deletes every object under the prefix. */
  clear(): Promise<void>;
  /** The process serving it (s3rver, Azurite), for its CPU time; none for files and Cloud Storage. */
  readonly serverPid?: number;
}

export interface DestinationOptions {
  readonly env: StackEnv;
  readonly storage: Storage;
  /** Bucket (S3, Cloud Storage), container (Azure), or folder under BQBR_FILE_ROOTS (files); created here. */
  readonly place: string;
  /** The prefix under it: a table folder for a copy, a backup root for a backup. */
  readonly prefix: string;
  /** s3rver's and Azurite's node processes, for their CPU time. */
  readonly serverPids?: Partial<Record<Kind, number>>;
}

/** A destination of `kind`, with its bucket, container or folder created. */
export async function openDestination(kind: Kind, options: DestinationOptions): Promise<Destination> {
  switch (kind) {
    case 's3':
      return s3Destination(options);
    case 'azure':
      return azureDestination(options);
    case 'file':
      return fileDestination(options);
    case 'gcs':
      return gcsDestination(options);
  }
}

const pid = (options: DestinationOptions, kind: Kind): { serverPid?: number } => {
  const found = options.serverPids?.[kind];
  return found === undefined ? {} : { serverPid: found };
};

async function s3Destination(options: DestinationOptions): Promise<Destination> {
  const { env, place: Bucket, prefix } = options;
  const endpoint = env['BQBR_S3_ENDPOINT']!;
  const s3 = new S3Client({
    region: env['AWS_REGION']!,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: env['AWS_ACCESS_KEY_ID']!, secretAccessKey: env['AWS_SECRET_ACCESS_KEY']! },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  await s3.send(new CreateBucketCommand({ Bucket })).catch((err: { name?: string }) => {
    if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
  });
  const list = async (): Promise<string[]> => {
    const keys: string[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket,
          Prefix: `${prefix}/`,
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      );
      keys.push(...(page.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return keys;
  };
  return {
    kind: 's3',
    spec: { kind: 's3', bucket: Bucket, prefix, endpoint, forcePathStyle: true },
    requestOptions: { bucket: Bucket, prefix, endpoint, forcePathStyle: true },
    list,
    read: async (path) => {
      const object = await s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}/${path}` }));
      return object.Body as Readable;
    },
    clear: async () => {
      for (const path of await list())
        await s3.send(new DeleteObjectCommand({ Bucket, Key: `${prefix}/${path}` }));
    },
    ...pid(options, 's3'),
  };
}

async function azureDestination(options: DestinationOptions): Promise<Destination> {
  const { env, place, prefix } = options;
  const container = BlobServiceClient.fromConnectionString(
    env['AZURE_STORAGE_CONNECTION_STRING']!,
  ).getContainerClient(place);
  await container.createIfNotExists();
  const list = async (): Promise<string[]> => {
    const names: string[] = [];
    for await (const blob of container.listBlobsFlat({ prefix: `${prefix}/` })) {
      names.push(blob.name.slice(prefix.length + 1));
    }
    return names;
  };
  return {
    kind: 'azure',
    spec: { kind: 'azure', container: place, prefix },
    requestOptions: { container: place, prefix, accountUrl: env['BQBR_AZURE_ACCOUNT_URL'] },
    list,
    read: async (path) => {
      const download = await container.getBlockBlobClient(`${prefix}/${path}`).download();
      return download.readableStreamBody as Readable;
    },
    clear: async () => {
      for (const path of await list()) await container.deleteBlob(`${prefix}/${path}`);
    },
    ...pid(options, 'azure'),
  };
}

async function fileDestination(options: DestinationOptions): Promise<Destination> {
  const root = options.env['BQBR_FILE_ROOTS']!.split(':')[0]!;
  await mkdir(join(root, options.place), { recursive: true });
  const directory = join(root, options.place, options.prefix);
  const list = async (): Promise<string[]> => {
    try {
      const entries = await readdir(directory, { recursive: true, withFileTypes: true });
      return entries
        .filter((e) => e.isFile())
        .map((e) => relative(directory, join(e.parentPath, e.name)).split('\\').join('/'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  };
  return {
    kind: 'file',
    spec: { kind: 'file', path: directory },
    requestOptions: { path: directory },
    list,
    read: (path) => Promise.resolve(createReadStream(join(directory, path))),
    clear: () => rm(directory, { recursive: true, force: true }),
  };
}

async function gcsDestination(options: DestinationOptions): Promise<Destination> {
  const { storage, place, prefix } = options;
  const bucket = storage.bucket(place);
  const [exists] = await bucket.exists();
  if (!exists) await storage.createBucket(place);
  const list = async (): Promise<string[]> => {
    const [files] = await bucket.getFiles({ prefix: `${prefix}/` });
    return files.map((f) => f.name.slice(prefix.length + 1));
  };
  return {
    kind: 'gcs',
    spec: { kind: 'gcs', uri: `gs://${place}/${prefix}` },
    requestOptions: { uri: `gs://${place}/${prefix}` },
    list,
    read: (path) => Promise.resolve(bucket.file(`${prefix}/${path}`).createReadStream({ validation: false })),
    clear: async () => {
      for (const path of await list()) await bucket.file(`${prefix}/${path}`).delete();
    },
  };
}

/** Size and MD5 (base64) of an object, read to its end. */
export async function digestOf(
  destination: Destination,
  path: string,
): Promise<{ bytes: number; md5: string }> {
  const { createHash } = await import('node:crypto');
  const hash = createHash('md5');
  let bytes = 0;
  for await (const chunk of await destination.read(path)) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { bytes, md5: hash.digest('base64') };
}

// ---- processes ---------------------------------------------------------------------------------------

/** The node process a stack service or bqbr service runs as, under its sh guard (the guard's child). */
export function childPidOf(guardPid: number): number | undefined {
  try {
    const children = readFileSync(`/proc/${guardPid}/task/${guardPid}/children`, 'utf8').trim().split(/\s+/);
    return children[0] ? Number(children[0]) : undefined;
  } catch {
    return undefined;
  }
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; 0 once it is gone. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (which may hold spaces): field 3 is the state, 14 utime, 15 stime (ticks).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** A process's peak resident memory so far (VmHWM), in MB (MiB); NaN once it is gone. */
export function peakRssMBOf(pid: number | 'self'): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Math.round((Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) / 1024) * 10) / 10;
  } catch {
    return NaN;
  }
}
