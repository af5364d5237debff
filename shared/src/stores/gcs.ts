// Backups in Cloud Storage through the official client: uploads stream (resumable unless the object is
// known to be small) with the client's MD5 validation, downloads are validated by the client too.
// Write-once objects use Object Retention Lock (https://cloud.google.com/storage/docs/object-lock; the
// bucket must be created with it enabled): Cloud Storage itself refuses their deletion and replacement
// with 403 retentionPolicyNotMet, which this store turns into `retentionLocked` with the instant.
import type { File, Storage } from '@google-cloud/storage';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PermanentError } from '../errors.js';
import { parseGcsUri } from '../storage-layout.js';
import type { BackupStore, ObjectRetention, PutOptions, PutResult, StoredEntry } from './types.js';
import { retentionLocked } from './retention-lock.js';
import { checkFolder, checkObjectPath, checkPrefix, comparePaths, rootPrefix } from './paths.js';
import {
  httpStatusOf,
  permanent,
  retryable,
  shapeOfStatus,
  storeError,
  type ErrorShape,
} from './store-errors.js';
import { ExpectationCheck, MiB } from './streams.js';

export interface GcsStoreOptions {
  /** Objects per listing page (default: the service's, 1000). */
  readonly pageSize?: number;
  /** Objects known to be smaller than this go in one request; others, and those of unknown size, resumable. */
  readonly resumableThreshold?: number;
}

const DEFAULT_RESUMABLE_THRESHOLD = 8 * MiB;

/** A store under `gs://bucket/prefix`. */
export function gcsStore(storage: Storage, uri: string, options: GcsStoreOptions = {}): BackupStore {
  let location: ReturnType<typeof parseGcsUri>;
  try {
    location = parseGcsUri(uri);
  } catch {
    throw new PermanentError('invalid', `Not a gs:// URI: ${uri}`);
  }
  const bucket = storage.bucket(location.bucket);
  const root = rootPrefix(location.name);
  const resumableThreshold = options.resumableThreshold ?? DEFAULT_RESUMABLE_THRESHOLD;
  const pageSize = options.pageSize === undefined ? {} : { maxResults: options.pageSize };
  const objectUri = (path: string): string => `gs://${location.bucket}/${root}${path}`;
  const fail = (err: unknown, action: string, path: string): Error =>
    storeError(err, `${action} ${objectUri(path)}`, gcsShape);
  /** A refusal for retention, with the instant the object's metadata gives; other failures as `fail`. */
  const refusal = async (err: unknown, action: 'delete' | 'overwrite', path: string): Promise<Error> => {
    if (gcsShape(err)?.reason !== 'retentionLocked')
      return fail(err, `${action === 'delete' ? 'deleting' : 'writing'}`, path);
    const [metadata] = await bucket
      .file(root + path)
      .getMetadata()
      .catch(() => [undefined]);
    const retention = metadata && retentionOf(metadata);
    return retention
      ? retentionLocked(objectUri(path), retention, action)
      : storeError(err, `${action} ${objectUri(path)}`, gcsShape);
  };

  return {
    kind: 'gcs',
    uri: objectUri,

    async put(path: string, body: Readable, put?: PutOptions): Promise<PutResult> {
      const file = bucket.file(root + checkObjectPath(path));
      const resumable = put?.expectedBytes === undefined || put.expectedBytes >= resumableThreshold;
      const check = new ExpectationCheck(put, objectUri(path));
      const upload = file.createWriteStream({
        resumable,
        validation: 'md5',
        metadata: {
          ...(put?.contentType ? { contentType: put.contentType } : {}),
          // Cloud Storage checks it too before the object becomes visible.
          ...(put?.expectedMd5 ? { md5Hash: put.expectedMd5 } : {}),
          ...(put?.retention ? { retention: gcsRetention(put.retention) } : {}),
        },
      });
      try {
        await pipeline(body, check, upload);
      } catch (err) {
        throw await refusal(err, 'overwrite', path);
      }
      return { bytes: check.tally.bytes, md5: check.tally.md5().toString('base64') };
    },

    async get(path: string): Promise<Readable> {
      // The bytes as stored (no gunzip of gzip-encoded objects), checked against their CRC32C, which
      // every object has (composite objects have no MD5).
      const source = bucket
        .file(root + checkObjectPath(path))
        .createReadStream({ validation: 'crc32c', decompress: false });
      const out = new PassThrough();
      source.once('error', (err) => out.destroy(fail(err, 'reading', path)));
      out.once('close', () => {
        if (!source.destroyed) source.destroy();
      });
      // The client sends the request once the stream is read; its response (or error) says whether
      // the object exists, and the caller gets the error from this promise rather than mid-stream.
      const answered = new Promise<void>((resolve, reject) => {
        source.once('response', (res: { statusCode?: number; status?: number }) => {
          // An error status is followed by the client's error.
          if ((res.statusCode ?? res.status ?? 200) < 300) resolve();
        });
        out.once('error', reject);
      });
      source.pipe(out);
      await answered;
      return out;
    },

    async stat(path: string): Promise<StoredEntry | undefined> {
      try {
        const [metadata] = await bucket.file(root + checkObjectPath(path)).getMetadata();
        return entry(path, metadata);
      } catch (err) {
        if (httpStatusOf(err) === 404) return undefined;
        throw fail(err, 'reading the metadata of', path);
      }
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      checkPrefix(prefix);
      const entries: StoredEntry[] = [];
      try {
        let pageToken: string | undefined;
        do {
          const [files, next] = await bucket.getFiles({
            prefix: root + prefix,
            autoPaginate: false,
            ...pageSize,
            ...(pageToken ? { pageToken } : {}),
          });
          entries.push(...files.map((file: File) => entry(file.name.slice(root.length), file.metadata)));
          pageToken = (next as { pageToken?: string } | null)?.pageToken;
        } while (pageToken);
      } catch (err) {
        throw fail(err, 'listing', prefix);
      }
      return entries.sort((a, b) => comparePaths(a.path, b.path));
    },

    async listFolders(prefix: string): Promise<string[]> {
      checkFolder(prefix);
      const folders: string[] = [];
      try {
        // Page by page: with autoPaginate the client returns only the last page's prefixes.
        let pageToken: string | undefined;
        do {
          const [, next, response] = await bucket.getFiles({
            prefix: root + prefix,
            delimiter: '/',
            autoPaginate: false,
            ...pageSize,
            ...(pageToken ? { pageToken } : {}),
          });
          const prefixes = (response as { prefixes?: string[] } | undefined)?.prefixes ?? [];
          folders.push(...prefixes.map((p) => p.slice(root.length)));
          pageToken = (next as { pageToken?: string } | null)?.pageToken;
        } while (pageToken);
      } catch (err) {
        throw fail(err, 'listing the folders of', prefix);
      }
      return folders.sort(comparePaths);
    },

    async delete(path: string): Promise<void> {
      try {
        await bucket.file(root + checkObjectPath(path)).delete({ ignoreNotFound: true });
      } catch (err) {
        throw await refusal(err, 'delete', path);
      }
    },

    async lock(path: string, retention: ObjectRetention): Promise<void> {
      // objects.patch: extending (or setting) a retention needs no override, shortening would.
      try {
        await bucket.file(root + checkObjectPath(path)).setMetadata({ retention: gcsRetention(retention) });
      } catch (err) {
        throw fail(err, 'locking', path);
      }
    },

    clearIncomplete(prefix: string): Promise<number> {
      // An unfinished resumable upload is never an object, and its session expires within a week.
      return Promise.resolve(prefix).then((folder) => {
        checkFolder(folder);
        return 0;
      });
    },
  };
}

interface ObjectMetadata {
  readonly size?: string | number;
  readonly md5Hash?: string;
  readonly crc32c?: string;
  readonly retention?: { readonly mode?: string; readonly retainUntilTime?: string } | null;
}

function entry(path: string, metadata: ObjectMetadata): StoredEntry {
  const retention = retentionOf(metadata);
  return {
    path,
    bytes: Number(metadata.size ?? 0),
    ...(metadata.md5Hash ? { md5: metadata.md5Hash } : {}),
    ...(metadata.crc32c ? { crc32c: metadata.crc32c } : {}),
    ...(retention ? { retention } : {}),
  };
}

/** Cloud Storage's JSON API names S3's GOVERNANCE mode Unlocked and COMPLIANCE Locked (its XML API uses S3's). */
const gcsRetention = (retention: ObjectRetention): { mode: string; retainUntilTime: string } => ({
  mode: retention.mode === 'COMPLIANCE' ? 'Locked' : 'Unlocked',
  retainUntilTime: retention.retainUntil,
});

function retentionOf(metadata: ObjectMetadata): ObjectRetention | undefined {
  const until = metadata.retention?.retainUntilTime;
  if (!until) return undefined;
  const mode = metadata.retention?.mode === 'Locked' ? 'COMPLIANCE' : 'GOVERNANCE';
  return { mode, retainUntil: new Date(until).toISOString() };
}

/** The client's own failures: a validation mismatch (the object was deleted) is worth another try. */
function gcsShape(err: unknown): ErrorShape | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'FILE_NO_UPLOAD' || code === 'FILE_NO_UPLOAD_DELETE' || code === 'CONTENT_DOWNLOAD_MISMATCH') {
    return retryable('checksumMismatch');
  }
  const reasons = reasonsOf(err);
  // 403 retentionPolicyNotMet: an object (or bucket) retention still holds.
  if (reasons.includes('retentionPolicyNotMet')) return permanent('retentionLocked');
  // classifyError knows Cloud Storage's reasons; the status alone decides only when there is no reason.
  return reasons.length > 0 ? undefined : shapeOfStatus(httpStatusOf(err));
}

/** `errors[].reason` of an ApiError (JSON calls), or of a GaxiosError's body (uploads). */
function reasonsOf(err: unknown): string[] {
  const e = (err ?? {}) as { errors?: unknown; response?: { data?: { error?: { errors?: unknown } } } };
  return [e.errors, e.response?.data?.error?.errors].flatMap((list) =>
    Array.isArray(list)
      ? list.map((r) => (r as { reason?: unknown })?.reason).filter((r): r is string => typeof r === 'string')
      : [],
  );
}
