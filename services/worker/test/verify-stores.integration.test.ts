// The verify step against every kind of store on its local stand-in: Cloud Storage (bqbr's emulator),
// S3 (s3rver), Azure Blob Storage (Azurite) and a directory. A whole table verifies; a changed byte, a
// deleted file, a file the manifest does not name and an altered `_table.json` are each found and named.
import { randomBytes, randomUUID } from 'node:crypto';
import { startStack, type RunningStack } from '@bqbr/emulators';
import { createStore, type BackupStore, type DestinationSpec } from '@bqbr/shared';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import { s3ClientConfig } from '@bqbr/emulators';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { join } from 'node:path';
import { TABLE_PATH, dataFile, put, verifyFixture, writeTableBackup } from './verify-support.js';

const BUCKET = 'verify-stores';

describe('verify step against the real stores (gcs, s3, azure, file)', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let storage: Storage;
  const saved: Record<string, string | undefined> = {};

  before(async function () {
    stack = await startStack({
      services: ['storage', 's3', 'azure'],
      ports: { storage: 0, s3: 0, azure: 0 },
    });
    storage = new Storage({ apiEndpoint: stack.env['STORAGE_EMULATOR_HOST'], projectId: 'verify-stores' });
    await storage.createBucket(BUCKET);
    const s3 = new S3Client(s3ClientConfig(stack.env));
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
    s3.destroy();
    await BlobServiceClient.fromConnectionString(stack.env['AZURE_STORAGE_CONNECTION_STRING']!)
      .getContainerClient(BUCKET)
      .create();
    // The S3 store reads its credentials from the process environment (the AWS SDK's chain).
    for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_REGION']) {
      saved[name] = process.env[name];
      process.env[name] = stack.env[name];
    }
  });

  after(async function () {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await stack?.stop();
  });

  const homes: Record<string, (prefix: string) => DestinationSpec> = {
    gcs: (prefix) => ({ kind: 'gcs', uri: `gs://${BUCKET}/${prefix}` }),
    s3: (prefix) => ({
      kind: 's3',
      bucket: BUCKET,
      prefix,
      endpoint: stack.env['BQBR_S3_ENDPOINT']!,
      forcePathStyle: true,
    }),
    azure: (prefix) => ({
      kind: 'azure',
      container: BUCKET,
      prefix,
      accountUrl: stack.env['BQBR_AZURE_ACCOUNT_URL']!,
    }),
    file: (prefix) => ({ kind: 'file', path: join(stack.filesDir, prefix) }),
  };

  for (const [kind, homeAt] of Object.entries(homes)) {
    it(`${kind}: a whole table verifies; damaged, missing, unexpected files and an altered manifest are named`, async function () {
      const home = homeAt(`t-${randomUUID().slice(0, 8)}`);
      const storeOf = (where: DestinationSpec): BackupStore =>
        createStore(where, { storage, env: stack.env });
      const store = storeOf(home);
      const f = verifyFixture(storeOf);
      // One file large enough to go up in several parts (S3 multipart, Azure blocks).
      const files = [randomBytes(9 * 1024 * 1024), randomBytes(2048), randomBytes(2048)];
      const spec = await writeTableBackup(store, home, files);

      const good = (await f.verify(spec)).task;
      expect(good, JSON.stringify(good.error)).to.include({
        status: 'SUCCEEDED',
        fileCount: 3,
        bytes: files.reduce((n, data) => n + data.length, 0),
      });

      const changed = Buffer.from(files[0]!);
      changed[changed.length - 1] = changed[changed.length - 1]! ^ 0x01;
      await put(store, `${TABLE_PATH}/${dataFile(0)}`, changed);
      await store.delete(`${TABLE_PATH}/${dataFile(1)}`);
      await put(store, `${TABLE_PATH}/${dataFile(7)}`, randomBytes(16));
      const bad = (await f.verify(spec)).task;
      expect(bad.status).to.equal('FAILED');
      const issues = new Map(bad.error?.issues?.map((issue) => [issue.path, issue.message]));
      expect([...issues.keys()].sort()).to.deep.equal([dataFile(0), dataFile(1), dataFile(7)]);
      expect(issues.get(dataFile(0))).to.match(
        /^damaged: MD5 expected .+, got .+; CRC32C expected .+, got .+$/,
      );
      expect(issues.get(dataFile(1))).to.equal('missing');
      expect(issues.get(dataFile(7))).to.equal('unexpected file: not in the manifest');

      await put(store, spec.manifestPath, Buffer.from('{}'));
      const altered = (await f.verify(spec)).task;
      expect(altered.status).to.equal('FAILED');
      expect(altered.error?.issues?.map((issue) => issue.path)).to.deep.equal(['_table.json']);
    });
  }
});
