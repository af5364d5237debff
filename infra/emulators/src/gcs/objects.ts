import { unlink } from 'node:fs/promises';
import { ObjectHasher } from './checksums.js';
import { appendToFile } from './disk-writer.js';
import { conditionNotMet, invalid, noSuchObject, required } from './errors.js';
import { checkGeneration } from './downloads.js';
import { globToRegExp } from './glob.js';
import type { RequestContext } from './http.js';
import { queryFlag, readJsonObject, sendEmpty, sendJson } from './http.js';
import type { StoredObject } from './object-store.js';
import {
  checkReadPreconditions,
  checkWritePreconditions,
  parseInteger,
  readPreconditions,
} from './preconditions.js';
import type { Preconditions } from './preconditions.js';
import { applyObjectMetadata, decodeObjectMetadata, objectResource } from './resources.js';
import { changedRetention, checkNewRetention, checkNotRetained } from './retention.js';

const DEFAULT_PAGE_SIZE = 1000;
const MAX_COMPOSE_SOURCES = 32;
const MAX_COMPONENT_COUNT = 1024;

/** `GET /storage/v1/b/{bucket}/o/{object}`: the object resource. */
export function getObjectMetadata(ctx: RequestContext, bucket: string, name: string): void {
  const object = ctx.store.getObject(bucket, name);
  checkGeneration(ctx.query, object);
  checkReadPreconditions(object, readPreconditions(ctx.query));
  sendJson(ctx.res, 200, objectResource(object, ctx.baseUrl));
}

/** `GET /storage/v1/b/{bucket}/o`: one page of objects (and common prefixes, with a delimiter). */
export function listObjects(ctx: RequestContext, bucket: string): void {
  const q = ctx.query;
  const index = ctx.store.objects(bucket);
  const maxResults = q.has('maxResults')
    ? Number(parseInteger('maxResults', q.get('maxResults')!))
    : DEFAULT_PAGE_SIZE;
  if (maxResults < 1) throw invalid('Invalid value for maxResults: it must be at least 1.');
  const pageToken = q.get('pageToken');
  const glob = q.get('matchGlob');
  const page = index.list({
    prefix: q.get('prefix') ?? '',
    ...optional('delimiter', q.get('delimiter') || undefined),
    ...optional('startOffset', q.get('startOffset') || undefined),
    ...optional('endOffset', q.get('endOffset') || undefined),
    ...optional('glob', glob ? globToRegExp(glob) : undefined),
    ...optional('cursor', pageToken ? decodePageToken(pageToken) : undefined),
    includeTrailingDelimiter: queryFlag(q, 'includeTrailingDelimiter'),
    maxResults: Math.min(maxResults, DEFAULT_PAGE_SIZE),
  });
  sendJson(ctx.res, 200, {
    kind: 'storage#objects',
    ...(page.nextCursor !== undefined
      ? { nextPageToken: Buffer.from(page.nextCursor).toString('base64url') }
      : {}),
    ...(page.prefixes.length > 0 ? { prefixes: page.prefixes } : {}),
    ...(page.items.length > 0 ? { items: page.items.map((o) => objectResource(o, ctx.baseUrl)) } : {}),
  });
}

function decodePageToken(token: string): string {
  const cursor = Buffer.from(token, 'base64url').toString('utf8');
  if (cursor === '' || Buffer.from(cursor).toString('base64url') !== token)
    throw invalid('Invalid page token.');
  return cursor;
}

/** `PATCH` merges the given fields (`null` clears); `PUT` replaces all settable fields. */
export async function updateObjectMetadata(
  ctx: RequestContext,
  bucket: string,
  name: string,
  mode: 'merge' | 'replace',
): Promise<void> {
  const input = decodeObjectMetadata(await readJsonObject(ctx.req));
  const preconditions = readPreconditions(ctx.query);
  const bucketMeta = ctx.store.getBucket(bucket);
  const override = queryFlag(ctx.query, 'overrideUnlockedRetention');
  const object = await ctx.store.updateObject(bucket, name, (current) => {
    checkGeneration(ctx.query, current);
    checkWritePreconditions(current, preconditions);
    const retention = changedRetention(bucketMeta, current.retention, input.retention, mode, override);
    return {
      ...withoutSettable(current),
      ...applyObjectMetadata(current, input, mode),
      ...(retention ? { retention } : {}),
      metageneration: current.metageneration + 1,
      updated: new Date().toISOString(),
    };
  });
  sendJson(ctx.res, 200, objectResource(object, ctx.baseUrl));
}

export async function deleteObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  const preconditions = readPreconditions(ctx.query);
  await ctx.store.deleteObject(bucket, name, (current) => {
    checkGeneration(ctx.query, current);
    checkWritePreconditions(current, preconditions);
    checkNotRetained(current);
  });
  sendEmpty(ctx.res, 204);
}

/**
 * `POST .../o/{src}/rewriteTo/b/{dstBucket}/o/{dst}` and `.../copyTo/...`: the bytes are copied in
 * one call (rewrite answers `done: true`); metadata given in the body overrides the source's.
 */
export async function copyObject(
  ctx: RequestContext,
  source: { bucket: string; name: string },
  destination: { bucket: string; name: string },
  style: 'rewrite' | 'copy',
): Promise<void> {
  const input = decodeObjectMetadata(await readJsonObject(ctx.req));
  const destinationPreconditions = readPreconditions(ctx.query);
  const sourcePreconditions = readPreconditions(ctx.query, 'ifSource');
  const sourceGeneration = ctx.query.get('sourceGeneration');
  const destBucket = ctx.store.getBucket(destination.bucket);
  checkNewRetention(destBucket, input.retention);
  checkSource(ctx.store.getObject(source.bucket, source.name), sourceGeneration, sourcePreconditions);
  checkWritePreconditions(
    ctx.store.objects(destination.bucket).get(destination.name),
    destinationPreconditions,
  );
  const { object: src, tempPath } = await ctx.store.copyObjectData(source.bucket, source.name);
  try {
    checkSource(src, sourceGeneration, sourcePreconditions);
    const object = await ctx.store.commitObject(destination.bucket, destination.name, tempPath, (current) => {
      checkWritePreconditions(current, destinationPreconditions);
      checkNotRetained(current);
      const now = new Date().toISOString();
      return {
        ...withoutSettable(src),
        // A copy carries only the retention its request gives.
        ...(input.retention ? { retention: input.retention } : {}),
        ...applyObjectMetadata({ ...src, storageClass: destBucket.storageClass }, input, 'merge'),
        bucket: destination.bucket,
        name: destination.name,
        generation: ctx.store.nextGeneration(),
        metageneration: 1,
        timeCreated: now,
        updated: now,
      };
    });
    const resource = objectResource(object, ctx.baseUrl);
    if (style === 'copy') {
      sendJson(ctx.res, 200, resource);
      return;
    }
    sendJson(ctx.res, 200, {
      kind: 'storage#rewriteResponse',
      totalBytesRewritten: String(object.size),
      objectSize: String(object.size),
      done: true,
      resource,
    });
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
}

function checkSource(src: StoredObject, generation: string | null, preconditions: Preconditions): void {
  if (generation !== null && parseInteger('sourceGeneration', generation) !== src.generation) {
    throw noSuchObject(src.bucket, src.name);
  }
  checkWritePreconditions(src, preconditions);
}

interface ComposeSource {
  readonly name: string;
  readonly generation?: string;
  readonly ifGenerationMatch?: string;
}

/** `POST .../o/{destination}/compose`: concatenates up to 32 objects of the bucket. */
export async function composeObject(ctx: RequestContext, bucket: string, name: string): Promise<void> {
  const body = await readJsonObject(ctx.req);
  const sources = decodeComposeSources(body['sourceObjects']);
  const destination = body['destination'];
  const input = decodeObjectMetadata(
    typeof destination === 'object' && destination !== null ? (destination as Record<string, unknown>) : {},
  );
  const preconditions = readPreconditions(ctx.query);
  const destBucket = ctx.store.getBucket(bucket);
  checkWritePreconditions(ctx.store.objects(bucket).get(name), preconditions);
  checkNewRetention(destBucket, input.retention);

  const tempPath = ctx.store.tempPath();
  // Composite objects carry no MD5 in GCS; only CRC32C is computed over the concatenation.
  const hasher = new ObjectHasher({ md5: false });
  let componentCount = 0;
  try {
    for (const source of sources) {
      const { object, file } = await ctx.store.openObject(bucket, source.name);
      try {
        if (source.generation !== undefined && source.generation !== object.generation) {
          throw noSuchObject(bucket, source.name);
        }
        if (source.ifGenerationMatch !== undefined && source.ifGenerationMatch !== object.generation) {
          throw conditionNotMet();
        }
        componentCount += object.componentCount ?? 1;
        const { appended } = await appendToFile(
          file.createReadStream({ autoClose: false }),
          tempPath,
          hasher,
        );
        if (appended !== object.size) throw new Error(`Component ${source.name} changed while being read`);
      } finally {
        await file.close();
      }
    }
    if (componentCount > MAX_COMPONENT_COUNT) {
      throw invalid(
        `The composite object would have ${componentCount} components, more than ${MAX_COMPONENT_COUNT}.`,
      );
    }
    const hashes = hasher.result();
    const object = await ctx.store.commitObject(bucket, name, tempPath, (current) => {
      checkWritePreconditions(current, preconditions);
      checkNotRetained(current);
      const now = new Date().toISOString();
      return {
        ...(input.retention ? { retention: input.retention } : {}),
        ...applyObjectMetadata(
          { contentType: 'application/octet-stream', storageClass: destBucket.storageClass },
          input,
          'replace',
        ),
        bucket,
        name,
        generation: ctx.store.nextGeneration(),
        metageneration: 1,
        size: hashes.size,
        crc32c: hashes.crc32c,
        componentCount,
        timeCreated: now,
        updated: now,
      };
    });
    sendJson(ctx.res, 200, objectResource(object, ctx.baseUrl));
  } finally {
    await unlink(tempPath).catch(() => undefined);
  }
}

function decodeComposeSources(value: unknown): ComposeSource[] {
  if (!Array.isArray(value) || value.length === 0) throw required('field: sourceObjects');
  if (value.length > MAX_COMPOSE_SOURCES) {
    throw invalid(
      `The number of source components provided (${value.length}) exceeds the maximum (${MAX_COMPOSE_SOURCES}).`,
    );
  }
  return value.map((raw: unknown, i) => {
    const entry = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const name = entry['name'];
    if (typeof name !== 'string' || name === '') throw required(`field: sourceObjects[${i}].name`);
    const generation = entry['generation'];
    const conditions = entry['objectPreconditions'] as Record<string, unknown> | undefined;
    const ifGenerationMatch = conditions?.['ifGenerationMatch'];
    return {
      name,
      ...(generation !== undefined && generation !== null
        ? { generation: parseInteger(`sourceObjects[${i}].generation`, generation as string) }
        : {}),
      ...(ifGenerationMatch !== undefined && ifGenerationMatch !== null
        ? {
            ifGenerationMatch: parseInteger(
              `sourceObjects[${i}].objectPreconditions.ifGenerationMatch`,
              ifGenerationMatch as string,
            ),
          }
        : {}),
    };
  });
}

/** The object without its settable fields, so a replace does not keep cleared ones. */
function withoutSettable(
  o: StoredObject,
): Omit<StoredObject, keyof ReturnType<typeof applyObjectMetadata> | 'retention'> {
  const {
    contentType: _contentType,
    contentEncoding: _contentEncoding,
    contentDisposition: _contentDisposition,
    contentLanguage: _contentLanguage,
    cacheControl: _cacheControl,
    customTime: _customTime,
    storageClass: _storageClass,
    metadata: _metadata,
    retention: _retention,
    ...rest
  } = o;
  return rest;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}
