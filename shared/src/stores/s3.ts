// Backups in Amazon S3 (or an S3-compatible service). Bodies are cut into fixed-size parts here, so the
// MD5 of every part is known: each part is sent with Content-MD5 (S3 rejects a part that arrived
// different) and its ETag is compared with it; the object is committed only when every part is in and
// the caller's expectations hold. Credentials come only from the SDK's default provider chain.
// Write-once objects use S3 Object Lock (the bucket must be created with ObjectLockEnabledForBucket):
// the lock headers go with PutObject / CreateMultipartUpload, whose Content-MD5 S3 requires for them. S3
// locks versions, not keys: a DELETE without a version id only stacks a delete marker on a locked
// object, and a PUT stacks a new version. This store checks the lock (HeadObject) and refuses both, so a
// prune or an overwrite never hides a locked backup (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-lock.html).
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { ListObjectsV2CommandOutput, S3Client, S3ClientConfig, StorageClass } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { PermanentError, RetryableError } from '../errors.js';
import type { BackupStore, ObjectRetention, PutOptions, PutResult, StoredEntry } from './types.js';
import { refuseIfLocked } from './retention-lock.js';
import { checkFolder, checkObjectPath, checkPrefix, comparePaths, rootPrefix } from './paths.js';
import {
  httpStatusOf,
  permanent,
  retryable,
  shapeOfStatus,
  storeError,
  type ErrorShape,
} from './store-errors.js';
import {
  checkedDownload,
  checkExpected,
  fixedParts,
  md5Of,
  MiB,
  positive,
  Tally,
  uploadConcurrently,
  type ExpectedContent,
} from './streams.js';

export interface S3StoreOptions {
  readonly bucket: string;
  readonly prefix?: string;
  /** Default: the SDK's (AWS_REGION, the profile); us-east-1 with a custom endpoint. */
  readonly region?: string;
  /** An S3-compatible service, e.g. `http://127.0.0.1:4568`. */
  readonly endpoint?: string;
  readonly forcePathStyle?: boolean;
  /** STANDARD, STANDARD_IA, GLACIER_IR, DEEP_ARCHIVE, ... */
  readonly storageClass?: string;
  readonly serverSideEncryption?: 'AES256' | 'aws:kms';
  /** Only with serverSideEncryption 'aws:kms'. */
  readonly kmsKeyId?: string;
  /** Bytes per part (default 16 MiB; S3 wants at least 5 MiB but for the last part). */
  readonly partSize?: number;
  /** Parts uploading at once (default 4): a put holds at most (queueSize + 1) × partSize bytes. */
  readonly queueSize?: number;
  /** Keys per listing page (default: the service's, 1000). */
  readonly pageSize?: number;
}

const DEFAULT_PART_SIZE = 16 * MiB;
const DEFAULT_QUEUE_SIZE = 4;
/** S3's limit on the parts of one upload. */
const MAX_PARTS = 10_000;
/** A plain ETag is the MD5 of the object for single-part, unencrypted or SSE-S3 objects. */
const MD5_ETAG = /^[0-9a-f]{32}$/;
const MULTIPART_ETAG = /^[0-9a-f]{32}-\d+$/;
/** Where the object's MD5 is kept when it is known before the upload (single-part objects). */
const MD5_METADATA = 'bqbr-md5';

type Sdk = typeof S3Sdk;

interface EncryptionInfo {
  readonly ServerSideEncryption?: string;
  readonly SSECustomerAlgorithm?: string;
}

export function s3Store(options: S3StoreOptions): BackupStore {
  if (!options.bucket) throw new PermanentError('invalid', 'An S3 destination needs a bucket');
  if (options.kmsKeyId !== undefined && options.serverSideEncryption !== 'aws:kms') {
    throw new PermanentError('invalid', "kmsKeyId needs serverSideEncryption 'aws:kms'");
  }
  const Bucket = options.bucket;
  const root = rootPrefix(options.prefix);
  const partSize = positive('partSize', options.partSize ?? DEFAULT_PART_SIZE);
  const queueSize = positive('queueSize', options.queueSize ?? DEFAULT_QUEUE_SIZE);
  const objectUri = (path: string): string => `s3://${Bucket}/${root}${path}`;
  const fail = (err: unknown, action: string, path: string): Error =>
    // The SDK's plain "Region is missing" would read as a transient fault and be retried for nothing.
    err instanceof Error && err.message === 'Region is missing'
      ? new PermanentError(
          'failedPrecondition',
          `cannot ${action} ${objectUri(path)}: no AWS region: give s3Options.region, or set AWS_REGION where bqbr runs`,
        )
      : storeError(err, `${action} ${objectUri(path)}`, s3Shape);

  // The SDK loads on first use: services that never write to S3 do not pay for it.
  let connection: Promise<{ sdk: Sdk; s3: S3Client }> | undefined;
  const connect = (): Promise<{ sdk: Sdk; s3: S3Client }> =>
    (connection ??= import('@aws-sdk/client-s3').then((sdk) => {
      const region = options.region ?? (options.endpoint ? 'us-east-1' : undefined);
      const config: S3ClientConfig = {
        ...(region ? { region } : {}),
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        ...(options.forcePathStyle !== undefined ? { forcePathStyle: options.forcePathStyle } : {}),
        followRegionRedirects: true,
        // Flexible checksums on streamed bodies would be stored inside S3-compatible services' objects;
        // every body here has its Content-MD5 instead.
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      };
      return { sdk, s3: new sdk.S3Client(config) };
    }));

  const writeOptions = (contentType: string | undefined, retention: ObjectRetention | undefined) => ({
    Bucket,
    ...(contentType ? { ContentType: contentType } : {}),
    ...(retention
      ? { ObjectLockMode: retention.mode, ObjectLockRetainUntilDate: new Date(retention.retainUntil) }
      : {}),
    ...(options.storageClass ? { StorageClass: options.storageClass as StorageClass } : {}),
    ...(options.serverSideEncryption ? { ServerSideEncryption: options.serverSideEncryption } : {}),
    ...(options.kmsKeyId ? { SSEKMSKeyId: options.kmsKeyId } : {}),
  });

  /** Whether this response's ETags are MD5s (not with SSE-KMS or SSE-C). */
  const etagsAreMd5 = (response: EncryptionInfo): boolean =>
    options.serverSideEncryption !== 'aws:kms' &&
    !response.ServerSideEncryption?.startsWith('aws:kms') &&
    !response.SSECustomerAlgorithm;

  async function putSingle(key: string, path: string, data: Buffer, put?: PutOptions): Promise<PutResult> {
    const { sdk, s3 } = await connect();
    const md5 = md5Of(data);
    checkExpected(data.length, md5, put, objectUri(path));
    const response = await s3.send(
      new sdk.PutObjectCommand({
        ...writeOptions(put?.contentType, put?.retention),
        Key: key,
        Body: data,
        ContentLength: data.length,
        ContentMD5: md5.toString('base64'),
        Metadata: { [MD5_METADATA]: md5.toString('base64') },
      }),
    );
    const etag = unquote(response.ETag);
    if (etagsAreMd5(response) && MD5_ETAG.test(etag) && etag !== md5.toString('hex')) {
      await s3.send(new sdk.DeleteObjectCommand({ Bucket, Key: key })).catch(() => undefined);
      throw new RetryableError(
        'checksumMismatch',
        `${objectUri(path)}: S3 stored ETag ${etag}, sent MD5 ${md5.toString('hex')}`,
      );
    }
    return { bytes: data.length, md5: md5.toString('base64') };
  }

  async function putMultipart(
    key: string,
    path: string,
    parts: AsyncIterable<Buffer>,
    put?: PutOptions,
  ): Promise<PutResult> {
    const { sdk, s3 } = await connect();
    const created = await s3.send(
      new sdk.CreateMultipartUploadCommand({ ...writeOptions(put?.contentType, put?.retention), Key: key }),
    );
    const UploadId = created.UploadId;
    if (!UploadId) throw new RetryableError('backendError', `${objectUri(path)}: S3 returned no upload id`);
    const tally = new Tally();
    const partMd5s: Buffer[] = [];
    const etags: string[] = [];
    let completed = false;
    try {
      const count = await uploadConcurrently(parts, queueSize, async (part, index) => {
        if (index >= MAX_PARTS) {
          throw new PermanentError(
            'invalid',
            `${objectUri(path)}: more than ${MAX_PARTS} parts of ${partSize} bytes`,
          );
        }
        // Parts arrive in order and this runs before the first await: the tally sees them in order.
        tally.add(part);
        const md5 = md5Of(part);
        partMd5s[index] = md5;
        const response = await s3.send(
          new sdk.UploadPartCommand({
            Bucket,
            Key: key,
            UploadId,
            PartNumber: index + 1,
            Body: part,
            ContentLength: part.length,
            ContentMD5: md5.toString('base64'),
          }),
        );
        const etag = unquote(response.ETag);
        if (!response.ETag)
          throw new RetryableError('backendError', `${objectUri(path)}: part ${index + 1} has no ETag`);
        if (etagsAreMd5(response) && MD5_ETAG.test(etag) && etag !== md5.toString('hex')) {
          throw new RetryableError(
            'checksumMismatch',
            `${objectUri(path)}: part ${index + 1} stored as ETag ${etag}, sent MD5 ${md5.toString('hex')}`,
          );
        }
        etags[index] = response.ETag;
      });
      checkExpected(tally.bytes, tally.md5(), put, objectUri(path));
      const done = await s3.send(
        new sdk.CompleteMultipartUploadCommand({
          Bucket,
          Key: key,
          UploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      );
      completed = true;
      const etag = unquote(done.ETag);
      // S3 answers md5(concat(part MD5s))-N; some compatible services the MD5 of the whole object.
      const composite = `${md5Of(Buffer.concat(partMd5s)).toString('hex')}-${count}`;
      const whole = tally.md5().toString('hex');
      if (
        etagsAreMd5(done) &&
        (MULTIPART_ETAG.test(etag) || MD5_ETAG.test(etag)) &&
        etag !== composite &&
        etag !== whole
      ) {
        await s3.send(new sdk.DeleteObjectCommand({ Bucket, Key: key })).catch(() => undefined);
        throw new RetryableError(
          'checksumMismatch',
          `${objectUri(path)}: S3 assembled ETag ${etag}, expected ${composite}`,
        );
      }
      return { bytes: tally.bytes, md5: tally.md5().toString('base64') };
    } catch (err) {
      if (!completed) {
        // Best effort: the error that matters is the one that stopped the upload.
        await s3
          .send(new sdk.AbortMultipartUploadCommand({ Bucket, Key: key, UploadId }))
          .catch(() => undefined);
      }
      throw err;
    }
  }

  /** What the store knows of an object's content: its size, and its MD5 when kept or given by the ETag. */
  const contentOf = (
    response: EncryptionInfo & { ContentLength?: number; ETag?: string; Metadata?: Record<string, string> },
  ): ExpectedContent => {
    const etag = unquote(response.ETag);
    const md5 =
      response.Metadata?.[MD5_METADATA] ??
      (etagsAreMd5(response) && MD5_ETAG.test(etag)
        ? Buffer.from(etag, 'hex').toString('base64')
        : undefined);
    return {
      ...(response.ContentLength !== undefined ? { bytes: response.ContentLength } : {}),
      ...(md5 ? { md5 } : {}),
    };
  };

  /** The object's lock as HeadObject reports it; undefined when it has none or cannot be seen. */
  async function lockOf(key: string): Promise<ObjectRetention | undefined> {
    const { sdk, s3 } = await connect();
    try {
      return retentionOf(await s3.send(new sdk.HeadObjectCommand({ Bucket, Key: key })));
    } catch (err) {
      // Missing, or not visible without s3:ListBucket (a missing key then answers 403): nothing to keep.
      const status = httpStatusOf(err);
      if (status === 404 || status === 403) return undefined;
      throw err;
    }
  }

  async function listPages<T>(
    prefix: string,
    delimiter: boolean,
    take: (page: ListObjectsV2CommandOutput) => T[],
  ): Promise<T[]> {
    const { sdk, s3 } = await connect();
    const found: T[] = [];
    let ContinuationToken: string | undefined;
    do {
      const page = await s3.send(
        new sdk.ListObjectsV2Command({
          Bucket,
          Prefix: root + prefix,
          ...(delimiter ? { Delimiter: '/' } : {}),
          ...(options.pageSize ? { MaxKeys: options.pageSize } : {}),
          ...(ContinuationToken ? { ContinuationToken } : {}),
        }),
      );
      found.push(...take(page));
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
    return found;
  }

  return {
    kind: 's3',
    uri: objectUri,

    async put(path: string, body: Readable, put?: PutOptions): Promise<PutResult> {
      const key = root + checkObjectPath(path);
      try {
        refuseIfLocked(objectUri(path), await lockOf(key), 'overwrite');
        const cut = await firstParts(fixedParts(body, partSize));
        if (cut.single) return await putSingle(key, path, cut.single, put);
        return await putMultipart(key, path, cut.parts!, put);
      } catch (err) {
        throw fail(err, 'writing', path);
      }
    },

    async get(path: string): Promise<Readable> {
      const key = root + checkObjectPath(path);
      try {
        const { sdk, s3 } = await connect();
        const response = await s3.send(new sdk.GetObjectCommand({ Bucket, Key: key }));
        if (!response.Body)
          throw new RetryableError('backendError', `${objectUri(path)}: S3 returned no body`);
        return checkedDownload(response.Body as Readable, contentOf(response), objectUri(path), s3Shape);
      } catch (err) {
        throw fail(err, 'reading', path);
      }
    },

    async stat(path: string): Promise<StoredEntry | undefined> {
      const key = root + checkObjectPath(path);
      try {
        const { sdk, s3 } = await connect();
        const response = await s3.send(new sdk.HeadObjectCommand({ Bucket, Key: key }));
        const content = contentOf(response);
        const retention = retentionOf(response);
        return {
          path,
          bytes: content.bytes ?? 0,
          ...(content.md5 ? { md5: content.md5 } : {}),
          ...(retention ? { retention } : {}),
        };
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw fail(err, 'reading the metadata of', path);
      }
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      checkPrefix(prefix);
      try {
        // No MD5 here: a listing does not say whether an ETag is one (SSE-KMS, multipart).
        const entries = await listPages(prefix, false, (page) =>
          (page.Contents ?? []).map((o) => ({ path: (o.Key ?? '').slice(root.length), bytes: o.Size ?? 0 })),
        );
        return entries.sort((a, b) => comparePaths(a.path, b.path));
      } catch (err) {
        throw fail(err, 'listing', prefix);
      }
    },

    async listFolders(prefix: string): Promise<string[]> {
      checkFolder(prefix);
      try {
        const folders = await listPages(prefix, true, (page) =>
          (page.CommonPrefixes ?? []).flatMap((p) => (p.Prefix ? [p.Prefix.slice(root.length)] : [])),
        );
        return folders.sort(comparePaths);
      } catch (err) {
        throw fail(err, 'listing the folders of', prefix);
      }
    },

    async delete(path: string): Promise<void> {
      const key = root + checkObjectPath(path);
      try {
        refuseIfLocked(objectUri(path), await lockOf(key), 'delete');
        const { sdk, s3 } = await connect();
        await s3.send(new sdk.DeleteObjectCommand({ Bucket, Key: key }));
      } catch (err) {
        if (httpStatusOf(err) === 404) return;
        throw fail(err, 'deleting', path);
      }
    },

    async lock(path: string, retention: ObjectRetention): Promise<void> {
      const key = root + checkObjectPath(path);
      try {
        const { sdk, s3 } = await connect();
        await s3.send(
          new sdk.PutObjectRetentionCommand({
            Bucket,
            Key: key,
            Retention: { Mode: retention.mode, RetainUntilDate: new Date(retention.retainUntil) },
          }),
        );
      } catch (err) {
        throw fail(err, 'locking', path);
      }
    },

    async clearIncomplete(prefix: string): Promise<number> {
      checkFolder(prefix);
      try {
        const { sdk, s3 } = await connect();
        let aborted = 0;
        let KeyMarker: string | undefined;
        let UploadIdMarker: string | undefined;
        do {
          const page = await s3.send(
            new sdk.ListMultipartUploadsCommand({
              Bucket,
              Prefix: root + prefix,
              ...(KeyMarker ? { KeyMarker } : {}),
              ...(UploadIdMarker ? { UploadIdMarker } : {}),
            }),
          );
          for (const upload of page.Uploads ?? []) {
            if (!upload.Key || !upload.UploadId) continue;
            await s3.send(
              new sdk.AbortMultipartUploadCommand({ Bucket, Key: upload.Key, UploadId: upload.UploadId }),
            );
            aborted++;
          }
          const more = page.IsTruncated === true;
          KeyMarker = more ? page.NextKeyMarker : undefined;
          UploadIdMarker = more ? page.NextUploadIdMarker : undefined;
        } while (KeyMarker);
        return aborted;
      } catch (err) {
        throw fail(err, 'clearing incomplete uploads under', prefix);
      }
    },
  };
}

/**
 * One part (the whole body), or all parts when there are several: the first two are read before the
 * upload starts, and dropped as soon as they are handed on (a suspended caller would keep them).
 */
async function firstParts(
  parts: AsyncGenerator<Buffer>,
): Promise<{ single?: Buffer; parts?: AsyncGenerator<Buffer> }> {
  const first = await parts.next();
  if (first.done) return { single: Buffer.alloc(0) };
  const second = await parts.next();
  if (second.done) return { single: first.value };
  const ahead: (Buffer | undefined)[] = [first.value, second.value];
  const all = async function* (): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; i < ahead.length; i++) {
        const part = ahead[i]!;
        ahead[i] = undefined;
        yield part;
      }
      yield* parts;
    } finally {
      // Stopped early (a part failed): stop reading the body too.
      await parts.return(undefined);
    }
  };
  return { parts: all() };
}

/** HeadObject's lock headers (x-amz-object-lock-mode, x-amz-object-lock-retain-until-date). */
function retentionOf(response: {
  ObjectLockMode?: string;
  ObjectLockRetainUntilDate?: Date;
}): ObjectRetention | undefined {
  const until = response.ObjectLockRetainUntilDate;
  if (
    until === undefined ||
    (response.ObjectLockMode !== 'GOVERNANCE' && response.ObjectLockMode !== 'COMPLIANCE')
  )
    return undefined;
  return { mode: response.ObjectLockMode, retainUntil: until.toISOString() };
}

const unquote = (etag: string | undefined): string => (etag ?? '').replace(/"/g, '').toLowerCase();

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound', 'NoSuchBucket', 'NoSuchUpload']);
const DENIED = new Set([
  'AccessDenied',
  'AllAccessDisabled',
  'AccountProblem',
  'InvalidAccessKeyId',
  'InvalidToken',
  'SignatureDoesNotMatch',
]);
const RETRYABLE = new Set([
  'SlowDown',
  'ServiceUnavailable',
  'InternalError',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'ExpiredToken',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
]);

/** S3's error codes (the SDK's error names) first, then the HTTP status. */
function s3Shape(err: unknown): ErrorShape | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, message, $retryable } = err as { name?: unknown; message?: unknown; $retryable?: unknown };
  if (typeof name === 'string') {
    if (NOT_FOUND.has(name)) return permanent('notFound');
    if (DENIED.has(name)) return permanent('accessDenied');
    if (name === 'BadDigest' || name === 'InvalidDigest') return retryable('checksumMismatch');
    if (RETRYABLE.has(name)) return retryable(name);
    if (name === 'CredentialsProviderError') return permanent('unauthenticated');
  }
  if (typeof message === 'string' && message.startsWith('Region is missing')) return permanent('invalid');
  if ($retryable) return retryable('backendError');
  const status = httpStatusOf(err);
  return shapeOfStatus(status) ?? (status !== undefined && status >= 400 ? permanent('invalid') : undefined);
}
