// The local stand-ins for destinations outside Google Cloud, made ready for `npm start`: the S3 bucket
// on s3rver, the Azure container on Azurite and a directory under BQBR_FILE_ROOTS, plus a backup and a
// restore request for each, written beside `.stack/env`.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { s3ClientConfig } from '@bqbr/emulators';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Bucket and container names of the local destinations. */
export const LOCAL_DESTINATION = 'bqbr-local-backups';

export type LocalDestination = 's3' | 'azure' | 'file';

/** The request fields (without exportOptions) of each local destination, from the stack's settings. */
export function localDestinations(
  env: Readonly<Record<string, string | undefined>>,
): Partial<Record<LocalDestination, Record<string, unknown>>> {
  const out: Partial<Record<LocalDestination, Record<string, unknown>>> = {};
  if (env['BQBR_S3_ENDPOINT'])
    out.s3 = { bucket: LOCAL_DESTINATION, endpoint: env['BQBR_S3_ENDPOINT'], forcePathStyle: true };
  if (env['BQBR_AZURE_ACCOUNT_URL'])
    out.azure = { container: LOCAL_DESTINATION, accountUrl: env['BQBR_AZURE_ACCOUNT_URL'] };
  const root = env['BQBR_FILE_ROOTS']?.split(':')[0];
  if (root) out.file = { path: join(root, LOCAL_DESTINATION) };
  return out;
}

/** Creates the bucket, the container and the directory (each left as it is when it exists). */
export async function prepareLocalDestinations(
  env: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const where = localDestinations(env);
  if (where.s3) {
    const s3 = new S3Client(s3ClientConfig(env));
    try {
      await s3.send(new CreateBucketCommand({ Bucket: LOCAL_DESTINATION }));
    } catch (err) {
      const name = (err as { name?: string }).name;
      if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw err;
    } finally {
      s3.destroy();
    }
  }
  if (where.azure && env['AZURE_STORAGE_CONNECTION_STRING'])
    await BlobServiceClient.fromConnectionString(env['AZURE_STORAGE_CONNECTION_STRING'])
      .getContainerClient(LOCAL_DESTINATION)
      .createIfNotExists();
  if (where.file) await mkdir(where.file['path'] as string, { recursive: true });
}

/** Writes `demo-backup-<kind>.json` and `demo-restore-<kind>.json` for each local destination; their names. */
export async function writeDestinationRequests(
  dir: string,
  projectId: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string[]> {
  const written: string[] = [];
  for (const [kind, location] of Object.entries(localDestinations(env))) {
    const field = `${kind}Options`;
    const backup = {
      bigQuery: { projectId },
      backupStorage: { [field]: { ...location, exportOptions: { format: 'AVRO', overwrite: true } } },
    };
    const restore = {
      bigQuery: { projectId, targetDatasetPrefix: `restored_${kind}_` },
      restoreStorage: {
        [field]: { ...location, backupTimestamp: 'latest', projectIdOfBackup: projectId },
      },
    };
    for (const [name, body] of [
      [`demo-backup-${kind}.json`, backup],
      [`demo-restore-${kind}.json`, restore],
    ] as const) {
      await writeFile(join(dir, name), `${JSON.stringify(body, null, 2)}\n`);
      written.push(name);
    }
  }
  return written;
}
