// The stack's s3rver answers the S3 calls bqbr's S3 store makes the way S3 does: delimiter listings find
// every folder (also those whose objects all lie deeper down) and page by keys and folders alike, and
// incomplete multipart uploads can be listed (by prefix) and aborted.
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { startStack, type RunningStack } from '../src/stack/stack.js';
import { s3ClientConfig } from '../src/stack/aws-azure.js';

describe("the stack's s3rver", function () {
  let stack: RunningStack;
  let s3: S3Client;
  let bucket: string;

  before(async function () {
    stack = await startStack({ services: ['s3'], ports: { s3: 0 } });
    s3 = new S3Client(s3ClientConfig(stack.env));
    bucket = `s3rver-${randomUUID().slice(0, 8)}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const key of [
      // Folders whose only objects are two and three levels down: plain s3rver lists neither.
      'backups/20240101_000000/proj-a/_backup.json',
      'backups/20240101_000000/proj-b/sales/orders/_table.json',
      'backups/20240201_000000/proj-a/sales/orders/data-000000000000.avro',
      'backups/20240301_000000/note.txt',
      'backups/readme.txt',
      'backups/summary.json',
      'other/x',
    ]) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: key }));
    }
  });

  after(async function () {
    s3?.destroy();
    await stack?.stop();
  });

  it('lists every folder under a prefix, also those whose objects all lie deeper down', async function () {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: 'backups/', Delimiter: '/' }),
    );
    expect((page.CommonPrefixes ?? []).map((p) => p.Prefix)).to.deep.equal([
      'backups/20240101_000000/',
      'backups/20240201_000000/',
      'backups/20240301_000000/',
    ]);
    expect((page.Contents ?? []).map((o) => o.Key)).to.deep.equal([
      'backups/readme.txt',
      'backups/summary.json',
    ]);
    expect(page.KeyCount).to.equal(5);
    expect(page.IsTruncated).to.equal(false);

    const root = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Delimiter: '/' }));
    expect((root.CommonPrefixes ?? []).map((p) => p.Prefix)).to.deep.equal(['backups/', 'other/']);
  });

  it('pages a delimiter listing like S3: keys and folders count alike, and no folder comes twice', async function () {
    const pages: string[][] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: 'backups/',
          Delimiter: '/',
          MaxKeys: 2,
          ContinuationToken,
        }),
      );
      pages.push([
        ...(page.CommonPrefixes ?? []).map((p) => p.Prefix!),
        ...(page.Contents ?? []).map((o) => o.Key!),
      ]);
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    expect(pages).to.deep.equal([
      ['backups/20240101_000000/', 'backups/20240201_000000/'],
      ['backups/20240301_000000/', 'backups/readme.txt'],
      ['backups/summary.json'],
    ]);

    // ListObjects (v1) pages by NextMarker.
    const v1 = await s3.send(
      new ListObjectsCommand({ Bucket: bucket, Prefix: 'backups/', Delimiter: '/', MaxKeys: 1 }),
    );
    expect(v1.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['backups/20240101_000000/']);
    expect(v1.IsTruncated).to.equal(true);
    const next = await s3.send(
      new ListObjectsCommand({
        Bucket: bucket,
        Prefix: 'backups/',
        Delimiter: '/',
        MaxKeys: 1,
        Marker: v1.NextMarker,
      }),
    );
    expect(next.CommonPrefixes?.map((p) => p.Prefix)).to.deep.equal(['backups/20240201_000000/']);
  });

  it('lists incomplete multipart uploads by prefix and aborts them', async function () {
    const started = await Promise.all(
      ['t/1/a.avro', 't/2/b.avro', 'u/c.avro'].map(async (Key) => {
        const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key }));
        return { Key, UploadId: UploadId! };
      }),
    );
    const uploads = async (Prefix?: string): Promise<string[]> =>
      ((await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix }))).Uploads ?? []).map(
        (u) => u.Key!,
      );
    expect(await uploads()).to.deep.equal(['t/1/a.avro', 't/2/b.avro', 'u/c.avro']);
    expect(await uploads('t/')).to.deep.equal(['t/1/a.avro', 't/2/b.avro']);

    await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...started[0]! }));
    expect(await uploads()).to.deep.equal(['t/2/b.avro', 'u/c.avro']);
    // An upload that is not there (any more), or under another key, is NoSuchUpload, as on S3.
    for (const attempt of [started[0]!, { Key: 'elsewhere', UploadId: started[1]!.UploadId }]) {
      let error: unknown;
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, ...attempt })).catch((err: unknown) => {
        error = err;
      });
      expect((error as { name?: string } | undefined)?.name).to.equal('NoSuchUpload');
    }
    expect(await uploads()).to.deep.equal(['t/2/b.avro', 'u/c.avro']);
  });
});
