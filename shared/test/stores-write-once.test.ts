// Write-once objects on the stand-ins of Cloud Storage, S3 and Azure: a locked object can be neither
// deleted nor overwritten before its time, through bqbr's store and through the service's own client;
// afterwards it can. Retentions here last a few seconds, and each test waits them out once.
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  azureStore,
  fileStore,
  gcsStore,
  PermanentError,
  s3Store,
  type BackupStore,
  type ObjectRetention,
} from '../src/index.js';
import {
  startAzurite,
  startS3rver,
  withProcessEnv,
  type RunningAzurite,
  type RunningS3rver,
} from './support/emulated-stores.js';
import { rejection } from './support/rejection.js';

const body = (text: string): Readable => Readable.from([Buffer.from(text)]);
const md5 = (text: string): string => createHash('md5').update(text).digest('base64');
const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

/** A lock ending `seconds` from now, on a whole second (Azure's headers carry no milliseconds). */
function lockFor(seconds: number, mode: ObjectRetention['mode'] = 'GOVERNANCE'): ObjectRetention {
  return { mode, retainUntil: new Date(Math.ceil(Date.now() / 1000 + seconds) * 1000).toISOString() };
}

/** Resolves once `retention` is over (the services compare against their own clock, the same one). */
const outlived = (retention: ObjectRetention): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, Date.parse(retention.retainUntil) - Date.now() + 250));

async function expectLocked(promise: Promise<unknown>, retention: ObjectRetention): Promise<void> {
  const err = await rejection(promise);
  expect(err).to.be.instanceOf(PermanentError);
  expect((err as PermanentError).reason).to.equal('retentionLocked');
  expect(err.message).to.include(retention.retainUntil);
}

interface Subject {
  readonly store: BackupStore;
  /** The service's own client deleting / overwriting the object at `path`: what it answered. */
  readonly deleteDirectly: (path: string) => Promise<unknown>;
  readonly overwriteDirectly: (path: string) => Promise<unknown>;
}

/** What every store must do with a locked object, run against one of them. */
async function behavesWriteOnce(subject: Subject): Promise<void> {
  const { store } = subject;
  const retention = lockFor(3);
  await store.put('b/data-0.avro', body('locked bytes'), { retention, expectedMd5: md5('locked bytes') });
  const stat = await store.stat('b/data-0.avro');
  expect(stat?.retention).to.deep.equal(retention);

  await expectLocked(store.delete('b/data-0.avro'), retention);
  await expectLocked(store.put('b/data-0.avro', body('other bytes')), retention);
  const direct = await rejection(subject.deleteDirectly('b/data-0.avro'));
  expect(direct.message).to.not.equal('expected a rejection');
  await rejection(subject.overwriteDirectly('b/data-0.avro'));
  expect((await store.stat('b/data-0.avro'))?.md5).to.equal(md5('locked bytes'));

  // An object another writer made is locked after the fact (BigQuery's extract files in Cloud Storage).
  await store.put('b/data-1.avro', body('written unlocked'));
  expect((await store.stat('b/data-1.avro'))?.retention).to.equal(undefined);
  await store.lock!('b/data-1.avro', retention);
  expect((await store.stat('b/data-1.avro'))?.retention).to.deep.equal(retention);
  await expectLocked(store.delete('b/data-1.avro'), retention);

  await outlived(retention);
  await store.put('b/data-0.avro', body('replaced after the retention'));
  await store.delete('b/data-0.avro');
  await store.delete('b/data-1.avro');
  expect(await store.list('b/')).to.deep.equal([]);
}

describe('write-once stores', function () {
  this.timeout(60_000);

  describe('Cloud Storage (object retention)', () => {
    let emulator: RunningGcsEmulator;
    let storage: Storage;

    before(async () => {
      emulator = await startGcsEmulator({ port: 0 });
      storage = new Storage({ apiEndpoint: emulator.url, projectId: 'write-once' });
    });
    after(() => emulator.close());

    it('refuses delete and overwrite of a locked object until its retain-until time', async () => {
      const bucket = unique('retained');
      await storage.createBucket(bucket, { enableObjectRetention: true });
      const [metadata] = await storage.bucket(bucket).getMetadata();
      expect(metadata.objectRetention).to.deep.equal({ mode: 'Enabled' });
      const file = (path: string) => storage.bucket(bucket).file(`root/${path}`);
      await behavesWriteOnce({
        store: gcsStore(storage, `gs://${bucket}/root`),
        deleteDirectly: async (path) => {
          const err = await rejection(file(path).delete());
          // As Cloud Storage answers: 403 retentionPolicyNotMet.
          expect((err as { code?: number }).code).to.equal(403);
          throw err;
        },
        overwriteDirectly: (path) => file(path).save('overwritten', { resumable: false }),
      });
    });

    it('keeps a Locked (COMPLIANCE) retention from being shortened, and needs the override for an Unlocked one', async () => {
      const bucket = unique('retained');
      await storage.createBucket(bucket, { enableObjectRetention: true });
      const store = gcsStore(storage, `gs://${bucket}`);
      const compliance = lockFor(60, 'COMPLIANCE');
      await store.put('locked', body('x'), { retention: compliance });
      const shorten = {
        retention: { mode: 'Locked', retainUntilTime: new Date(Date.now() + 5000).toISOString() },
      };
      expect(
        (await rejection(storage.bucket(bucket).file('locked').setMetadata(shorten))).message,
      ).to.include('only be extended');
      const governance = lockFor(60);
      await store.put('unlocked', body('x'), { retention: governance });
      const removed = { retention: null };
      expect(
        (await rejection(storage.bucket(bucket).file('unlocked').setMetadata(removed))).message,
      ).to.include('overrideUnlockedRetention');
      await storage.bucket(bucket).file('unlocked').setMetadata(removed, { overrideUnlockedRetention: true });
      await store.delete('unlocked');
    });

    it('refuses a retention in a bucket created without object retention', async () => {
      const bucket = unique('plain');
      await storage.createBucket(bucket);
      const err = await rejection(
        gcsStore(storage, `gs://${bucket}`).put('x', body('x'), { retention: lockFor(60) }),
      );
      expect(err.message).to.include('Object retention is not enabled');
    });
  });

  describe('S3 (Object Lock)', () => {
    let s3rver: RunningS3rver;
    let s3: S3Client;
    let restoreEnv: () => void;

    before(async () => {
      s3rver = await startS3rver();
      restoreEnv = withProcessEnv(s3rver.env);
      s3 = new S3Client({
        endpoint: s3rver.endpoint,
        region: s3rver.env['AWS_REGION']!,
        forcePathStyle: true,
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
    });
    after(async () => {
      s3.destroy();
      restoreEnv();
      await s3rver.stop();
    });

    const storeIn = (bucket: string): BackupStore =>
      s3Store({
        bucket,
        prefix: 'root',
        endpoint: s3rver.endpoint,
        forcePathStyle: true,
        partSize: 5 * 1024 * 1024,
      });

    it('refuses delete and overwrite of a locked object until its retain-until date', async () => {
      const Bucket = unique('locked');
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      await behavesWriteOnce({
        store: storeIn(Bucket),
        deleteDirectly: async (path) => {
          const err = await rejection(s3.send(new DeleteObjectCommand({ Bucket, Key: `root/${path}` })));
          expect(err.name).to.equal('AccessDenied');
          throw err;
        },
        overwriteDirectly: (path) =>
          s3.send(
            new PutObjectCommand({
              Bucket,
              Key: `root/${path}`,
              Body: 'overwritten',
              ContentMD5: md5('overwritten'),
            }),
          ),
      });
    });

    it('returns the lock headers on HeadObject and lifts GOVERNANCE for a bypassing delete only', async () => {
      const Bucket = unique('locked');
      await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
      const retention = lockFor(60);
      await storeIn(Bucket).put('governed', body('x'), { retention });
      const head = await s3.send(new HeadObjectCommand({ Bucket, Key: 'root/governed' }));
      expect(head.ObjectLockMode).to.equal('GOVERNANCE');
      expect(head.ObjectLockRetainUntilDate?.toISOString()).to.equal(retention.retainUntil);
      await s3.send(
        new DeleteObjectCommand({ Bucket, Key: 'root/governed', BypassGovernanceRetention: true }),
      );
      expect(await storeIn(Bucket).stat('governed')).to.equal(undefined);
    });

    it('refuses a lock in a bucket created without Object Lock', async () => {
      const Bucket = unique('plain');
      await s3.send(new CreateBucketCommand({ Bucket }));
      const err = await rejection(storeIn(Bucket).put('x', body('x'), { retention: lockFor(60) }));
      expect(err.message).to.include('Object Lock');
    });
  });

  describe('Azure (version-level immutability policies)', () => {
    let azurite: RunningAzurite;

    before(async () => {
      azurite = await startAzurite();
    });
    after(() => azurite.stop());

    it('refuses delete and overwrite of an immutable blob until its policy expires', async () => {
      const container = unique('immutable');
      await azurite.createContainer(container);
      const client = BlobServiceClient.fromConnectionString(
        azurite.env['AZURE_STORAGE_CONNECTION_STRING']!,
      ).getContainerClient(container);
      await behavesWriteOnce({
        store: azureStore({ container, prefix: 'root' }, azurite.env),
        deleteDirectly: async (path) => {
          const err = await rejection(client.getBlobClient(`root/${path}`).delete());
          expect((err as { statusCode?: number }).statusCode).to.equal(409);
          expect((err as { code?: string }).code).to.equal('BlobImmutableDueToPolicy');
          throw err;
        },
        overwriteDirectly: (path) => client.getBlockBlobClient(`root/${path}`).upload('overwritten', 11),
      });
    });

    it('keeps a Locked policy from being removed or shortened', async () => {
      const container = unique('immutable');
      await azurite.createContainer(container);
      const store = azureStore({ container }, azurite.env);
      await store.put('locked', body('x'), { retention: lockFor(60, 'COMPLIANCE') });
      const blob = BlobServiceClient.fromConnectionString(azurite.env['AZURE_STORAGE_CONNECTION_STRING']!)
        .getContainerClient(container)
        .getBlobClient('locked');
      const properties = await blob.getProperties();
      expect(properties.immutabilityPolicyMode).to.equal('Locked');
      await rejection(blob.deleteImmutabilityPolicy());
      await rejection(
        blob.setImmutabilityPolicy({ expiriesOn: new Date(Date.now() + 5000), policyMode: 'Locked' }),
      );
      expect((await store.stat('locked'))?.retention?.mode).to.equal('COMPLIANCE');
    });
  });

  it('a directory refuses a retention lock', async () => {
    const root = await mkdtemp(join(tmpdir(), 'write-once-file-'));
    try {
      const store = fileStore(root, 'backups', [root]);
      const err = await rejection(store.put('x', body('x'), { retention: lockFor(60) }));
      expect((err as PermanentError).reason).to.equal('invalid');
      expect(err.message).to.include('cannot hold a retention lock');
      expect(await store.list('')).to.deep.equal([]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
