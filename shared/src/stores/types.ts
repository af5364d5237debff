// Where backups live: Cloud Storage, or outside Google Cloud (Amazon S3, Azure Blob Storage, a local or
// network filesystem). BigQuery extracts only to Cloud Storage, so workers carry each file onward
// through this interface, and back for a restore. Paths are relative to the store's root (its bucket
// or container and prefix, or its directory) and use '/'.
import type { Readable } from 'node:stream';

export type StoreKind = 'gcs' | 's3' | 'azure' | 'file';

export interface StoredEntry {
  /** Path relative to the store's root. */
  readonly path: string;
  readonly bytes: number;
  /** MD5 of the content (base64), when the store keeps one for this object. */
  readonly md5?: string;
  /** CRC32C of the content (base64, big-endian), when the store keeps one: Cloud Storage, for every object. */
  readonly crc32c?: string;
  /**
   * A retention lock on the object (S3 Object Lock, Cloud Storage object retention, Azure immutability
   * policy): it can be neither deleted nor overwritten before `retainUntil` (ISO). Only `stat` reports it.
   */
  readonly retention?: ObjectRetention;
}

/** A write-once lock: GOVERNANCE can be lifted by whoever may bypass it, COMPLIANCE by nobody. */
export interface ObjectRetention {
  readonly mode: 'GOVERNANCE' | 'COMPLIANCE';
  readonly retainUntil: string;
}

export interface PutResult {
  readonly bytes: number;
  /** MD5 (base64) computed while the bytes went through. */
  readonly md5: string;
}

export interface PutOptions {
  readonly contentType?: string;
  /** The size the caller expects; a different count fails the put (nothing is left visible). */
  readonly expectedBytes?: number;
  /** The MD5 (base64) the caller expects; a different digest fails the put (nothing is left visible). */
  readonly expectedMd5?: string;
  /** Locks the object as it is written: it can be neither deleted nor overwritten until then. */
  readonly retention?: ObjectRetention;
}

export interface BackupStore {
  readonly kind: StoreKind;
  /** The path as users see it: `gs://b/p/x`, `s3://b/p/x`, `https://acct.blob.core.windows.net/c/p/x`, `file:///root/p/x`. */
  uri(path: string): string;
  /**
   * Streams `body` to `path` with bounded memory (multipart parts / blocks in parallel within limits).
   * The object becomes visible only whole: a multipart upload or block list committed at the end, a
   * temporary file renamed into place. The far side is checked before it is committed or returned
   * (S3: the ETag against the one computed locally per part; Azure: per-block transactional MD5 and
   * the blob's size; files: size and a re-read digest; GCS: the client's MD5/CRC32C validation).
   * A failure leaves no partial object at `path` and throws (retryable when a retry can help).
   */
  put(path: string, body: Readable, options?: PutOptions): Promise<PutResult>;
  /** The object's bytes as a stream; a missing object throws a PermanentError with reason notFound. */
  get(path: string): Promise<Readable>;
  /** The object's size (and MD5 if kept), or undefined when it does not exist. */
  stat(path: string): Promise<StoredEntry | undefined>;
  /** Every object whose path starts with `prefix`, all pages, in path order. */
  list(prefix: string): Promise<StoredEntry[]>;
  /** The immediate sub-folders of `prefix` (which ends with '/'), as full paths ending with '/'. */
  listFolders(prefix: string): Promise<string[]>;
  /**
   * Deletes the object; a missing one is fine. An object under a retention lock is not deleted: a
   * PermanentError with reason `retentionLocked` naming the instant it ends.
   */
  delete(path: string): Promise<void>;
  /**
   * Puts an existing object under a retention lock (or extends the one it has): for objects another
   * writer made, such as BigQuery's extract files in Cloud Storage. A lock is never shortened here.
   * All four stores have it (a directory refuses it); optional only for hand-written fakes.
   */
  lock?(path: string, retention: ObjectRetention): Promise<void>;
  /**
   * Removes what interrupted puts left in the folder `prefix` (ends with '/'): S3's incomplete multipart
   * uploads, a filesystem's temporary files. Returns how many it removed. Cloud Storage's resumable
   * sessions and Azure's uncommitted blocks are invisible and expire on their own: 0. Only for a folder
   * no other put is writing to (a task's own folder, on its redelivery).
   */
  clearIncomplete(prefix: string): Promise<number>;
}

/** Where a store is, as requests and task messages carry it (no credentials: those come from the environment). */
export type { DestinationSpec } from '../contracts/destination-spec.js';
