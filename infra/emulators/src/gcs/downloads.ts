import { pipeline } from 'node:stream/promises';
import { notFound, rangeNotSatisfiable } from './errors.js';
import type { RequestContext } from './http.js';
import type { StoredObject } from './object-store.js';
import { checkReadPreconditions, parseInteger, readPreconditions } from './preconditions.js';
import { objectEtag } from './resources.js';

/** `GET .../o/{object}?alt=media` (also under `/download/storage/v1`): the bytes, with `Range` support. */
export async function handleDownload(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  const { object, file } = await ctx.store.openObject(bucket, name);
  let range: { start: number; end: number } | undefined;
  try {
    checkGeneration(ctx.query, object);
    checkReadPreconditions(object, readPreconditions(ctx.query));
    range = parseRange(ctx.req.headers.range, object.size);
    writeHead(ctx, object, range);
  } catch (err) {
    await file.close();
    throw err;
  }
  if (range === undefined && object.size === 0) {
    await file.close();
    ctx.res.end();
    return;
  }
  const { start, end } = range ?? { start: 0, end: object.size - 1 };
  const body = file.createReadStream({ start, end, highWaterMark: 1024 * 1024 });
  try {
    await pipeline(body, ctx.res);
  } catch (err) {
    // The client stopped reading (closed the connection); nothing to answer.
    ctx.logger.debug('download interrupted', { bucket, name, error: String(err) });
  }
}

function writeHead(
  ctx: RequestContext,
  object: StoredObject,
  range: { start: number; end: number } | undefined,
): void {
  const headers: Record<string, string> = {
    'Content-Type': headerValue(object.contentType),
    ETag: `"${objectEtag(object)}"`,
    'Last-Modified': new Date(object.updated).toUTCString(),
    'Accept-Ranges': 'bytes',
    'x-goog-hash': object.md5Hash
      ? `crc32c=${object.crc32c},md5=${object.md5Hash}`
      : `crc32c=${object.crc32c}`,
    'x-goog-generation': object.generation,
    'x-goog-metageneration': String(object.metageneration),
    'x-goog-stored-content-length': String(object.size),
    // Bytes are served as stored (no decompressive transcoding), so the client may validate them.
    'x-goog-stored-content-encoding': headerValue(object.contentEncoding ?? 'identity'),
    ...(object.contentEncoding ? { 'Content-Encoding': headerValue(object.contentEncoding) } : {}),
    ...(object.cacheControl ? { 'Cache-Control': headerValue(object.cacheControl) } : {}),
    ...(object.contentDisposition ? { 'Content-Disposition': headerValue(object.contentDisposition) } : {}),
    ...(object.contentLanguage ? { 'Content-Language': headerValue(object.contentLanguage) } : {}),
  };
  const { start, end } = range ?? { start: 0, end: object.size - 1 };
  headers['Content-Length'] = String(end - start + 1);
  if (range) headers['Content-Range'] = `bytes ${start}-${end}/${object.size}`;
  ctx.res.writeHead(range ? 206 : 200, headers);
}

/**
 * Node writes header strings as Latin-1 and refuses other characters: metadata values go out as
 * their UTF-8 bytes (as GCS sends them), without the control characters HTTP forbids.
 */
function headerValue(value: string): string {
  return Buffer.from(value, 'utf8')
    .toString('latin1')
    .replace(/[^\t\x20-\x7e\x80-\xff]/g, '');
}

/** The `generation` parameter must name the live generation: older ones are not kept. */
export function checkGeneration(query: URLSearchParams, object: StoredObject): void {
  const generation = query.get('generation');
  if (generation !== null && parseInteger('generation', generation) !== object.generation) {
    throw notFound(`No such object: ${object.bucket}/${object.name}`);
  }
}

/** One `bytes=a-b`, `bytes=a-` or `bytes=-n` range; other forms are ignored (whole object), as HTTP allows. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (header === undefined || size === 0) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) throw rangeNotSatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) throw rangeNotSatisfiable();
  return { start, end };
}
