// s3rver and Azurite for tests, started the way the stack starts them (the same patched s3rver), on
// free ports and in temporary folders that are removed on stop.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import {
  azuriteAccountUrl,
  azuriteBlobCommand,
  azuriteConnectionString,
  freePort,
  s3rverCommand,
  S3RVER_ACCESS_KEY_ID,
  S3RVER_REGION,
  S3RVER_SECRET_ACCESS_KEY,
  startProcess,
  waitForHttp,
  type ManagedProcess,
} from '@bqbr/emulators';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HOST = '127.0.0.1';

async function started(server: ManagedProcess, url: string): Promise<void> {
  await waitForHttp(url, { timeoutMs: 20_000, isAlive: () => server.isRunning() }).catch(
    async (err: Error) => {
      const output = server.recentOutput();
      await server.stop();
      throw new Error(`${err.message}\n${output}`);
    },
  );
}

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  /** What the S3 store's default credential chain reads, for this server. */
  readonly env: Readonly<Record<string, string>>;
  createBucket(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS3rver(): Promise<RunningS3rver> {
  const directory = await mkdtemp(join(tmpdir(), 's3rver-'));
  const port = await freePort();
  const endpoint = `http://${HOST}:${port}`;
  const server = startProcess({ name: 's3rver', ...s3rverCommand(HOST, port, directory) });
  try {
    await started(server, endpoint);
  } catch (err) {
    await rm(directory, { recursive: true, force: true });
    throw err;
  }
  const s3 = new S3Client({
    endpoint,
    region: S3RVER_REGION,
    credentials: { accessKeyId: S3RVER_ACCESS_KEY_ID, secretAccessKey: S3RVER_SECRET_ACCESS_KEY },
    forcePathStyle: true,
  });
  return {
    endpoint,
    env: {
      AWS_ACCESS_KEY_ID: S3RVER_ACCESS_KEY_ID,
      AWS_SECRET_ACCESS_KEY: S3RVER_SECRET_ACCESS_KEY,
      AWS_REGION: S3RVER_REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      BQBR_S3_ENDPOINT: endpoint,
    },
    createBucket: async (name) => {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
    },
    stop: async () => {
      s3.destroy();
      await server.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/**
 * Sets `env` in process.env (the AWS SDK's default credential chain reads only process.env) and returns
 * the function that puts the previous values back.
 */
export function withProcessEnv(env: Readonly<Record<string, string>>): () => void {
  const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
  Object.assign(process.env, env);
  return () => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

export interface RunningAzurite {
  /** `http://127.0.0.1:<port>/devstoreaccount1` */
  readonly accountUrl: string;
  /** AZURE_STORAGE_CONNECTION_STRING for the development account. */
  readonly env: Readonly<Record<string, string>>;
  createContainer(name: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startAzurite(): Promise<RunningAzurite> {
  const location = await mkdtemp(join(tmpdir(), 'azurite-'));
  const port = await freePort();
  const accountUrl = azuriteAccountUrl(HOST, port);
  const server = startProcess({ name: 'azurite', ...azuriteBlobCommand(HOST, port, location) });
  try {
    await started(server, accountUrl);
  } catch (err) {
    await rm(location, { recursive: true, force: true });
    throw err;
  }
  const connectionString = azuriteConnectionString(HOST, port);
  return {
    accountUrl,
    env: { AZURE_STORAGE_CONNECTION_STRING: connectionString },
    createContainer: async (name) => {
      await BlobServiceClient.fromConnectionString(connectionString).getContainerClient(name).create();
    },
    stop: async () => {
      await server.stop();
      await rm(location, { recursive: true, force: true });
    },
  };
}
