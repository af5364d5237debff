import { copyFile, link, unlink, writeFile } from 'node:fs/promises';
import type { ObjectHashes } from './checksums.js';
import { ObjectHasher } from './checksums.js';
import { appendToFile } from './disk-writer.js';
import { GcsError, invalid, required } from './errors.js';
import type { RequestContext } from './http.js';
import { drain, readJsonObject, sendEmpty, sendError, sendJson } from './http.js';
import { multipartBoundary, readMultipartUpload } from './multipart.js';
import type { StoredObject } from './object-store.js';
import type { Preconditions } from './preconditions.js';
import { checkWritePreconditions, readPreconditions } from './preconditions.js';
import type { ObjectMetadataInput } from './resources.js';
import { applyObjectMetadata, decodeObjectMetadata, objectResource } from './resources.js';
import type { UploadSession, UploadSessions } from './upload-sessions.js';
import { checkNewRetention, checkNotRetained } from './retention.js';

/** `POST /upload/storage/v1/b/{bucket}/o`: a media, multipart or resumable-session-start upload. */
export async function handleUploadStart(
  ctx: RequestContext,
  sessions: UploadSessions,
  bucket: string,
): Promise<void> {
  ctx.store.getBucket(bucket);
  const uploadType =
    ctx.query.get('uploadType') ??
    (multipartBoundary(ctx.req.headers['content-type']) ? 'multipart' : 'media');
  switch (uploadType) {
    case 'media':
      return mediaUpload(ctx, bucket);
    case 'multipart':
      return multipartUpload(ctx, bucket);
    case 'resumable':
      return startResumableUpload(ctx, sessions, bucket);
    default:
      throw invalid(`Invalid upload type: ${uploadType}`);
  }
}

async function mediaUpload(ctx: RequestContext, bucket: string): Promise<void> {
  const name = ctx.query.get('name');
  if (!name) throw required('parameter: name');
  const preconditions = readPreconditions(ctx.query);
  checkWritePreconditions(ctx.store.objects(bucket).get(name), preconditions);
  const metadata: ObjectMetadataInput = {
    contentType: ctx.req.headers['content-type'] ?? null,
    contentEncoding: ctx.query.get('contentEncoding'),
  };
  await uploadBody(ctx, ctx.req, { bucket, name, metadata, preconditions });
}

async function multipartUpload(ctx: RequestContext, bucket: string): Promise<void> {
  const boundary = multipartBoundary(ctx.req.headers['content-type']);
  if (!boundary) throw invalid('A multipart upload needs a multipart/related body with a boundary.');
  const upload = await readMultipartUpload(ctx.req, boundary);
  const metadata = decodeObjectMetadata(upload.metadata);
  const bodyName = upload.metadata['name'];
  const name = ctx.query.get('name') ?? (typeof bodyName === 'string' ? bodyName : undefined);
  if (!name) throw required('parameter: name');
  const preconditions = readPreconditions(ctx.query);
  checkWritePreconditions(ctx.store.objects(bucket).get(name), preconditions);
  await uploadBody(ctx, upload.media, {
    bucket,
    name,
    metadata,
    preconditions,
    contentType: upload.mediaContentType,
  });
}

interface UploadTarget {
  readonly bucket: string;
  readonly name: string;
  readonly metadata: ObjectMetadataInput;
  readonly preconditions: Preconditions;
  /** Used when the metadata has no contentType. */
  readonly contentType?: string;
}

/** Streams a one-request upload to a temp file, then commits it (or drops it if the client left). */
async function uploadBody(
  ctx: RequestContext,
  body: AsyncIterable<Buffer>,
  target: UploadTarget,
): Promise<void> {
  const tempPath = ctx.store.tempPath();
  const hasher = new ObjectHasher();
  try {
    const { sourceError } = await appendToFile(body, tempPath, hasher);
    if (sourceError instanceof GcsError) throw sourceError;
    if (sourceError !== undefined) {
      ctx.logger.debug('upload abandoned by the client', { bucket: target.bucket, name: target.name });
      return;
    }
    const object = await commitUpload(ctx, target, tempPath, hasher.result(), ctx.req.headers['x-goog-hash']);
    sendJson(ctx.res, 200, objectResource(object, ctx.baseUrl));
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
}

/** Checks the client's checksums and the preconditions (at commit time), then makes the object live. */
async function commitUpload(
  ctx: RequestContext,
  target: UploadTarget,
  dataPath: string,
  hashes: ObjectHashes,
  googHash: string | string[] | undefined,
): Promise<StoredObject> {
  verifyClientHashes(hashes, target.metadata, googHash);
  const bucket = ctx.store.getBucket(target.bucket);
  checkNewRetention(bucket, target.metadata.retention);
  return ctx.store.commitObject(target.bucket, target.name, dataPath, (current) => {
    checkWritePreconditions(current, target.preconditions);
    checkNotRetained(current);
    const now = new Date().toISOString();
    const fields = applyObjectMetadata(
      { contentType: target.contentType ?? 'application/octet-stream', storageClass: bucket.storageClass },
      { ...target.metadata, contentType: target.metadata.contentType ?? target.contentType ?? null },
      'replace',
    );
    return {
      ...fields,
      bucket: target.bucket,
      name: target.name,
      generation: ctx.store.nextGeneration(),
      metageneration: 1,
      size: hashes.size,
      crc32c: hashes.crc32c,
      ...(hashes.md5Hash ? { md5Hash: hashes.md5Hash } : {}),
      ...(target.metadata.retention ? { retention: target.metadata.retention } : {}),
      timeCreated: now,
      updated: now,
    };
  });
}

function verifyClientHashes(
  hashes: ObjectHashes,
  metadata: ObjectMetadataInput,
  googHash: string | string[] | undefined,
): void {
  const claimed: { md5?: string; crc32c?: string } = { md5: metadata.md5Hash, crc32c: metadata.crc32c };
  for (const header of [googHash ?? []].flat()) {
    for (const pair of header.split(',')) {
      const eq = pair.indexOf('=');
      const key = pair.slice(0, eq).trim();
      if (key === 'md5' || key === 'crc32c') claimed[key] = pair.slice(eq + 1).trim();
    }
  }
  if (claimed.md5 !== undefined && claimed.md5 !== hashes.md5Hash) {
    throw invalid(
      `Provided MD5 hash "${claimed.md5}" doesn't match calculated MD5 hash "${hashes.md5Hash}".`,
    );
  }
  if (claimed.crc32c !== undefined && claimed.crc32c !== hashes.crc32c) {
    throw invalid(`Provided CRC32C "${claimed.crc32c}" doesn't match calculated CRC32C "${hashes.crc32c}".`);
  }
}

async function startResumableUpload(
  ctx: RequestContext,
  sessions: UploadSessions,
  bucket: string,
): Promise<void> {
  const body = await readJsonObject(ctx.req);
  const metadata = decodeObjectMetadata(body);
  const bodyName = body['name'];
  const name = ctx.query.get('name') ?? (typeof bodyName === 'string' ? bodyName : undefined);
  if (!name) throw required('parameter: name');
  const preconditions = readPreconditions(ctx.query);
  // Checked now to fail fast, and again at finalization, when it decides.
  checkWritePreconditions(ctx.store.objects(bucket).get(name), preconditions);
  checkNewRetention(ctx.store.getBucket(bucket), metadata.retention);
  checkNotRetained(ctx.store.objects(bucket).get(name));
  const contentType = ctx.req.headers['x-upload-content-type'];
  const session = await sessions.create({
    bucket,
    name,
    metadata,
    preconditions,
    ...(typeof contentType === 'string' ? { contentType } : {}),
  });
  const location =
    `${ctx.baseUrl}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable` +
    `&name=${encodeURIComponent(name)}&upload_id=${session.id}`;
  sendEmpty(ctx.res, 200, { Location: location });
}

type ContentRange =
  | { readonly kind: 'status'; readonly total?: number }
  | { readonly kind: 'data'; readonly start: number; readonly end?: number; readonly total?: number };

// Content-Range: `bytes */N` (or `bytes */*`) asks for the status; `bytes a-b/N` carries data, where
// `b` and `N` may be `*`; no header means the body is the whole object.
function parseContentRange(header: string | undefined): ContentRange {
  if (header === undefined) return { kind: 'data', start: 0 };
  const status = /^bytes \*\/(\d+|\*)$/.exec(header.trim());
  if (status) return status[1] === '*' ? { kind: 'status' } : { kind: 'status', total: Number(status[1]) };
  // An empty last chunk comes as `bytes N-(N-1)/N` from the Node client (`bytes 0--1/0` for no data).
  const data = /^bytes (\d+)-(-?\d+|\*)\/(\d+|\*)$/.exec(header.trim());
  if (!data) throw invalid(`Failed to parse Content-Range header: ${header}`);
  return {
    kind: 'data',
    start: Number(data[1]),
    ...(data[2] === '*' ? {} : { end: Number(data[2]) }),
    ...(data[3] === '*' ? {} : { total: Number(data[3]) }),
  };
}

/** `PUT`/`POST` on a session URI: a chunk, a status query, or the final chunk; `DELETE` cancels. */
export async function handleSessionRequest(
  ctx: RequestContext,
  sessions: UploadSessions,
  uploadId: string,
): Promise<void> {
  if (ctx.req.method === 'DELETE') {
    await sessions.withSession(uploadId, (session) => sessions.remove(session.id));
    // GCS answers a cancelled session with 499 (Client Closed Request).
    sendEmpty(ctx.res, 499);
    return;
  }
  await sessions.withSession(uploadId, async (session) => {
    if (session.result) {
      await drain(ctx.req);
      sendJson(ctx.res, 200, objectResource(session.result, ctx.baseUrl));
      return;
    }
    const range = parseContentRange(ctx.req.headers['content-range']);
    let persisted = await sessions.persistedBytes(session.id);
    if (range.kind === 'status' || range.start > persisted) {
      await drain(ctx.req);
      if (range.kind === 'status' && range.total === persisted) {
        await finalizeSession(ctx, sessions, session, persisted);
      } else {
        sendIncomplete(ctx, persisted);
      }
      return;
    }
    await sessions.detachData(session.id);
    const hasher = await sessions.hasherAt(session.id, persisted);
    let appended: number;
    try {
      const result = await appendToFile(
        ctx.req,
        sessions.dataPath(session.id),
        hasher,
        persisted - range.start,
      );
      if (result.sourceError !== undefined) {
        ctx.logger.debug('upload chunk interrupted; received bytes kept', {
          uploadId,
          bytes: result.appended,
        });
        return;
      }
      appended = result.appended;
    } catch (err) {
      sessions.forgetHasher(session.id);
      throw err;
    }
    persisted += appended;
    // An open-ended range with an unknown total (`bytes a-*/*`) means this request carried the rest.
    const total = range.total ?? (range.end === undefined ? persisted : undefined);
    if (total === undefined || persisted < total) {
      sendIncomplete(ctx, persisted);
      return;
    }
    if (persisted > total)
      throw invalid(`The upload has ${persisted} bytes, more than the declared ${total}.`);
    await finalizeSession(ctx, sessions, session, persisted);
  });
}

function sendIncomplete(ctx: RequestContext, persisted: number): void {
  sendEmpty(ctx.res, 308, persisted > 0 ? { Range: `bytes=0-${persisted - 1}` } : {});
}

async function finalizeSession(
  ctx: RequestContext,
  sessions: UploadSessions,
  session: UploadSession,
  size: number,
): Promise<void> {
  const hasher = await sessions.hasherAt(session.id, size);
  const target: UploadTarget = {
    bucket: session.bucket,
    name: session.name,
    metadata: session.metadata,
    preconditions: session.preconditions,
    ...(session.contentType ? { contentType: session.contentType } : {}),
  };
  // A hard link, not a move: if the commit fails (or the process dies) the session keeps its bytes.
  // An empty upload finalized by `bytes */0` never created the session's data file.
  const tempPath = ctx.store.tempPath();
  if (size === 0) await writeFile(tempPath, '');
  else {
    const dataPath = sessions.dataPath(session.id);
    // A filesystem without hard links (some container volume mounts) gets a copy.
    await link(dataPath, tempPath).catch(() => copyFile(dataPath, tempPath));
  }
  let object: StoredObject;
  try {
    object = await commitUpload(ctx, target, tempPath, hasher.result(), ctx.req.headers['x-goog-hash']);
  } catch (err) {
    if (err instanceof GcsError) {
      // A refused finalization (precondition, checksum, bucket gone) ends the session, as in GCS.
      await sessions.remove(session.id);
      sendError(ctx.res, err);
      return;
    }
    // A server-side failure keeps the session, so the client can retry; the hasher was finished.
    sessions.forgetHasher(session.id);
    throw err;
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
  await sessions.complete(session, object);
  sendJson(ctx.res, 200, objectResource(object, ctx.baseUrl));
}
