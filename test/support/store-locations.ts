// Backup locations of every kind in an e2e environment started with `destinations: true`: a Cloud Storage
// bucket, an S3 bucket (s3rver), an Azure container (Azurite) and a directory under BQBR_FILE_ROOTS; the
// request fields that name one, and the store that reads and changes what the services wrote there.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { s3ClientConfig } from '@bqbr/emulators';
import { createStore, type BackupManifest, type BackupStore, type DestinationSpec } from '@bqbr/shared';
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { Environment } from './e2e.js';

export const STORE_KINDS = ['gcs', 's3', 'azure', 'file'] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

const BUCKET = 'bqbr-e2e-locations';

export class StoreLocations {
  constructor(private readonly environment: Environment) {}

  private get env(): Record<string, string> {
    return this.environment.env;
  }

  /** Creates the bucket of each kind, the container and the directory (idempotent). */
  async prepare(): Promise<void> {
    const [exists] = await this.environment.storage.bucket(BUCKET).exists();
    if (!exists) await this.environment.storage.createBucket(BUCKET);
    const s3 = new S3Client(s3ClientConfig(this.env));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((err: { name?: string }) => {
      if (err.name !== 'BucketAlreadyOwnedByYou' && err.name !== 'BucketAlreadyExists') throw err;
    });
    s3.destroy();
    await BlobServiceClient.fromConnectionString(this.env['AZURE_STORAGE_CONNECTION_STRING']!)
      .getContainerClient(BUCKET)
      .createIfNotExists();
    await mkdir(this.directory(''), { recursive: true });
    // The S3 store of this process reads its credentials from the environment (the AWS SDK's chain).
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'])
      process.env[name] = this.env[name];
  }

  private directory(prefix: string): string {
    return join(this.env['BQBR_FILE_ROOTS']!, 'e2e-locations', prefix);
  }

  /** The fields of `backupStorage.<kind>Options` (without export options) for a location at `prefix`. */
  fields(kind: StoreKind, prefix: string): Record<string, unknown> {
    switch (kind) {
      case 'gcs':
        return { uri: `gs://${BUCKET}/${prefix}` };
      case 's3':
        return { bucket: BUCKET, prefix, endpoint: this.env['BQBR_S3_ENDPOINT'], forcePathStyle: true };
      case 'azure':
        return { container: BUCKET, prefix, accountUrl: this.env['BQBR_AZURE_ACCOUNT_URL'] };
      case 'file':
        return { path: this.directory(prefix) };
    }
  }

  /** `{ <kind>Options: fields }`, with `extra` fields (e.g. exportOptions) added. */
  storage(kind: StoreKind, prefix: string, extra: object = {}): Record<string, unknown> {
    return { [`${kind}Options`]: { ...this.fields(kind, prefix), ...extra } };
  }

  /** The store at the location, as the services see it. */
  store(kind: StoreKind, prefix: string): BackupStore {
    const spec = { kind, ...this.fields(kind, prefix) } as DestinationSpec;
    return createStore(spec, { storage: this.environment.storage, env: this.env });
  }
}

/** An object's bytes, read through the store as the services read it. */
export const readObject = async (store: BackupStore, path: string): Promise<Buffer> =>
  Buffer.concat((await (await store.get(path)).toArray()) as Buffer[]);

/**
 * Replaces a table's `_table.json` in the backup folder `root` (`backups/<folder>/<project>`) and records its
 * new MD5 in `_backup.json`, as a forger who knows the layout would: every manifest check still passes.
 */
export async function replaceTableManifest(
  store: BackupStore,
  root: string,
  datasetId: string,
  tableId: string,
  manifest: object,
): Promise<void> {
  const bytes = Buffer.from(JSON.stringify(manifest));
  await store.put(`${root}/${datasetId}/${tableId}/_table.json`, Readable.from([bytes]));
  const summary = JSON.parse((await readObject(store, `${root}/_backup.json`)).toString()) as BackupManifest;
  const md5 = createHash('md5').update(bytes).digest('base64');
  const tables = summary.tables.map((t) =>
    t.datasetId === datasetId && t.tableId === tableId ? { ...t, manifestMd5: md5 } : t,
  );
  await store.put(
    `${root}/_backup.json`,
    Readable.from([Buffer.from(JSON.stringify({ ...summary, tables }))]),
  );
}
