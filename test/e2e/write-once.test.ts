// Write-once backups, end to end: the services as processes back up with `writeOnce` to Cloud Storage
// (a bucket with object retention), S3 (a bucket with Object Lock, the stack's s3rver) and Azure (the
// stack's Azurite with immutability policies); every object a table step wrote is locked until the
// snapshot instant plus `retainFor`, and neither bqbr's store nor the service's own client can delete or
// overwrite it. (An overwrite by a later backup into a locked table folder is refused before its job:
// services/worker/test/write-once.test.ts, since every operation here writes a folder of its own.)
import { seedDemoData } from '@bqbr/local/demo-data';
import { s3ClientConfig } from '@bqbr/emulators';
import { createStore, PermanentError, type BackupStore, type DestinationSpec } from '@bqbr/shared';
import { BlobServiceClient } from '@azure/storage-blob';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  publishRequest,
  startEnvironment,
  tasksOf,
  unique,
  waitForOperation,
  type Environment,
} from '../support/e2e.js';

type Kind = 'gcs' | 's3' | 'azure';
const DAY = 86_400_000;
const md5 = (text: string): string => createHash('md5').update(text).digest('base64');

/** What rejected `promise` (the test fails if it resolved). */
async function refusal(promise: Promise<unknown>, what: string): Promise<Record<string, unknown>> {
  try {
    await promise;
  } catch (err) {
    return err as Record<string, unknown>;
  }
  throw new Error(`${what} was not refused`);
}

describe('write-once backups, end to end (Cloud Storage, S3, Azure)', function () {
  this.timeout(240_000);
  let environment: Environment;
  let sourceProject: string;
  let gcsBucket: string;
  let s3Bucket: string;
  let container: string;
  let s3: S3Client;

  before(async function () {
    environment = await startEnvironment({ destinations: true });
    sourceProject = unique('src').replaceAll('_', '-');
    await seedDemoData(environment.bigquery(sourceProject));
    gcsBucket = unique('worm').replaceAll('_', '-');
    await environment.storage.createBucket(gcsBucket, { enableObjectRetention: true });
    s3 = new S3Client(s3ClientConfig(environment.env));
    s3Bucket = unique('worm').replaceAll('_', '-');
    await s3.send(new CreateBucketCommand({ Bucket: s3Bucket, ObjectLockEnabledForBucket: true }));
    container = unique('worm').replaceAll('_', '-');
    await azure().create();
    // This process's own look at S3 reads its credentials from the environment.
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION'])
      process.env[name] = environment.env[name];
  });
  after(async function () {
    s3?.destroy();
    await environment?.stop();
  });

  const azure = () =>
    BlobServiceClient.fromConnectionString(
      environment.env['AZURE_STORAGE_CONNECTION_STRING']!,
    ).getContainerClient(container);

  const destination = (
    kind: Kind,
    prefix: string,
  ): { field: string; location: object; spec: DestinationSpec } => {
    switch (kind) {
      case 'gcs': {
        const location = { uri: `gs://${gcsBucket}/${prefix}` };
        return { field: 'gcsOptions', location, spec: { kind, ...location } };
      }
      case 's3': {
        const location = {
          bucket: s3Bucket,
          prefix,
          endpoint: environment.env['BQBR_S3_ENDPOINT']!,
          forcePathStyle: true,
        };
        return { field: 's3Options', location, spec: { kind, ...location } };
      }
      case 'azure': {
        const location = { container, prefix, accountUrl: environment.env['BQBR_AZURE_ACCOUNT_URL']! };
        return { field: 'azureOptions', location, spec: { kind, ...location } };
      }
    }
  };

  /** The service's own client deleting and overwriting `key` (the object's full name): both refused. */
  async function refusedByOwnClient(kind: Kind, key: string): Promise<void> {
    if (kind === 'gcs') {
      const file = environment.storage.bucket(gcsBucket).file(key);
      expect((await refusal(file.delete(), `deleting gs://${gcsBucket}/${key}`)).code).to.equal(403);
      await refusal(file.save('overwritten', { resumable: false }), `overwriting gs://${gcsBucket}/${key}`);
    } else if (kind === 's3') {
      const deleted = await refusal(s3.send(new DeleteObjectCommand({ Bucket: s3Bucket, Key: key })), key);
      expect(deleted.name).to.equal('AccessDenied');
      const put = new PutObjectCommand({
        Bucket: s3Bucket,
        Key: key,
        Body: 'overwritten',
        ContentMD5: md5('overwritten'),
      });
      expect((await refusal(s3.send(put), key)).name).to.equal('AccessDenied');
    } else {
      const blob = azure().getBlockBlobClient(key);
      expect((await refusal(blob.delete(), key)).code).to.equal('BlobImmutableDueToPolicy');
      expect((await refusal(blob.upload('overwritten', 11), key)).code).to.equal('BlobImmutableDueToPolicy');
    }
  }

  const cases: { kind: Kind; mode: 'GOVERNANCE' | 'COMPLIANCE' }[] = [
    { kind: 'gcs', mode: 'GOVERNANCE' },
    { kind: 's3', mode: 'COMPLIANCE' },
    { kind: 'azure', mode: 'COMPLIANCE' },
  ];
  for (const { kind, mode } of cases) {
    it(`${kind}: every object a table wrote is locked until snapshot + retainFor (${mode}), and stays`, async function () {
      const prefix = unique(`worm_${kind}`);
      const operationId = unique(`worm_${kind}`);
      const { field, location, spec } = destination(kind, prefix);
      await publishRequest(environment, {
        operationId,
        bigQuery: {
          projectId: sourceProject,
          tablesToBackup: [{ datasetName: 'sales', tables: ['customers', 'paid_orders'] }],
        },
        backupStorage: {
          [field]: { ...location, exportOptions: { format: 'AVRO' }, writeOnce: { retainFor: '1d', mode } },
        },
      });
      const operation = await waitForOperation(environment, operationId, undefined, 120_000);
      const tasks = await tasksOf(environment, operationId);
      expect(operation.status, JSON.stringify(tasks.map((t) => t.error))).to.equal('SUCCEEDED');
      // On the whole second at or after it (Azure keeps no milliseconds).
      const until = Math.ceil((operation.snapshotMillis! + DAY) / 1000) * 1000;
      const lock = { mode, retainUntil: new Date(until).toISOString() };

      const store: BackupStore = createStore(spec, { storage: environment.storage, env: environment.env });
      const objects = (await store.list('backups/')).filter((o) => !o.path.endsWith('/_backup.json'));
      const names = objects.map((o) => o.path.slice(o.path.indexOf('/sales/') + 1));
      expect(names).to.include.members(['sales/customers/_table.json', 'sales/paid_orders/_table.json']);
      expect(names.filter((n) => n.startsWith('sales/customers/data-'))).to.have.length.at.least(1);
      for (const object of objects) {
        expect((await store.stat(object.path))?.retention, object.path).to.deep.equal(lock);
        const err = await refusal(store.delete(object.path), `bqbr deleting ${object.path}`);
        expect(err).to.be.instanceOf(PermanentError);
        expect((err as unknown as PermanentError).reason).to.equal('retentionLocked');
      }
      const data = objects.find((o) => o.path.includes('/data-'))!;
      await refusedByOwnClient(kind, `${prefix}/${data.path}`);
      const overwrite = await refusal(store.put(data.path, Readable.from(['x'])), 'bqbr overwriting');
      expect((overwrite as unknown as PermanentError).reason).to.equal('retentionLocked');
      // Nothing changed: every object is still there with its bytes.
      const after = await store.list('backups/');
      for (const object of objects) {
        const now = after.find((o) => o.path === object.path);
        expect(now?.bytes, object.path).to.equal(object.bytes);
      }
      const catalogued = await environment.firestore.collection('backups').doc(operationId).get();
      expect(catalogued.get('retainUntil')).to.equal(lock.retainUntil);
    });
  }
});
