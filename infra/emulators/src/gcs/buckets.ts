import { conditionNotMet, invalid, required } from './errors.js';
import type { RequestContext } from './http.js';
import { queryFlag, readJsonObject, sendEmpty, sendJson } from './http.js';
import type { StoredBucket } from './object-store.js';
import { parseInteger } from './preconditions.js';
import { bucketResource } from './resources.js';
import { OBJECT_RETENTION_ENABLED, retentionEnabled } from './retention.js';

const BUCKET_NAME = /^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/;
const DEFAULT_PAGE_SIZE = 1000;
/** Fields the server owns: a client cannot set them through insert, patch or update. */
const READ_ONLY_FIELDS = new Set([
  'kind',
  'id',
  'selfLink',
  'projectNumber',
  'name',
  'timeCreated',
  'updated',
  'metageneration',
  'etag',
  'location',
  'locationType',
  'labels',
  'storageClass',
  'owner',
  'acl',
  'defaultObjectAcl',
  // Set only at creation, by the enableObjectRetention parameter.
  'objectRetention',
]);

export async function insertBucket(ctx: RequestContext): Promise<void> {
  const project = ctx.query.get('project');
  if (!project) throw required('parameter: project');
  const body = await readJsonObject(ctx.req);
  const name = body['name'];
  if (typeof name !== 'string' || name === '') throw required('field: name');
  if (!BUCKET_NAME.test(name) || name.includes('..')) throw invalid(`Invalid bucket name: '${name}'`);
  const now = new Date().toISOString();
  const bucket = await ctx.store.createBucket({
    name,
    project,
    location: (stringField(body, 'location') ?? 'US').toUpperCase(),
    storageClass: stringField(body, 'storageClass') ?? 'STANDARD',
    metageneration: 1,
    labels: mergeLabels({}, body['labels']),
    extra: {
      ...extraFields(body, {}),
      ...(queryFlag(ctx.query, 'enableObjectRetention') ? { objectRetention: OBJECT_RETENTION_ENABLED } : {}),
    },
    timeCreated: now,
    updated: now,
  });
  sendJson(ctx.res, 200, bucketResource(bucket, ctx.baseUrl));
}

export function getBucket(ctx: RequestContext, name: string): void {
  const bucket = ctx.store.getBucket(name);
  checkMetageneration(ctx.query, bucket);
  sendJson(ctx.res, 200, bucketResource(bucket, ctx.baseUrl));
}

/** `GET /storage/v1/b?project=`: buckets in name order, paged by name. */
export function listBuckets(ctx: RequestContext): void {
  const project = ctx.query.get('project');
  if (!project) throw required('parameter: project');
  const prefix = ctx.query.get('prefix') ?? '';
  const maxResults = ctx.query.has('maxResults')
    ? Number(parseInteger('maxResults', ctx.query.get('maxResults')!))
    : DEFAULT_PAGE_SIZE;
  const after = ctx.query.get('pageToken');
  const from = after ? Buffer.from(after, 'base64url').toString('utf8') : '';
  const matching = ctx.store.listBuckets(project).filter((b) => b.name.startsWith(prefix) && b.name >= from);
  const page = matching.slice(0, Math.max(1, maxResults));
  const next = matching[page.length];
  sendJson(ctx.res, 200, {
    kind: 'storage#buckets',
    ...(next ? { nextPageToken: Buffer.from(next.name).toString('base64url') } : {}),
    ...(page.length > 0 ? { items: page.map((b) => bucketResource(b, ctx.baseUrl)) } : {}),
  });
}

/** `PATCH` merges (labels key by key, `null` removes); `PUT` replaces labels and the other settable fields. */
export async function updateBucket(
  ctx: RequestContext,
  name: string,
  mode: 'merge' | 'replace',
): Promise<void> {
  const body = await readJsonObject(ctx.req);
  const bucket = await ctx.store.updateBucket(name, (current) => {
    checkMetageneration(ctx.query, current);
    return {
      ...current,
      storageClass: stringField(body, 'storageClass') ?? current.storageClass,
      labels: mergeLabels(mode === 'merge' ? (current.labels ?? {}) : {}, body['labels']),
      extra: {
        ...extraFields(body, mode === 'merge' ? (current.extra ?? {}) : {}),
        // Read-only once set: an update that replaces the other fields keeps it.
        ...(retentionEnabled(current) ? { objectRetention: OBJECT_RETENTION_ENABLED } : {}),
      },
      metageneration: current.metageneration + 1,
      updated: new Date().toISOString(),
    };
  });
  sendJson(ctx.res, 200, bucketResource(bucket, ctx.baseUrl));
}

export async function deleteBucket(ctx: RequestContext, name: string): Promise<void> {
  await ctx.store.deleteBucket(name, (current) => checkMetageneration(ctx.query, current));
  sendEmpty(ctx.res, 204);
}

function checkMetageneration(query: URLSearchParams, bucket: StoredBucket): void {
  const match = query.get('ifMetagenerationMatch');
  const notMatch = query.get('ifMetagenerationNotMatch');
  const current = String(bucket.metageneration);
  if (match !== null && parseInteger('ifMetagenerationMatch', match) !== current) throw conditionNotMet();
  if (notMatch !== null && parseInteger('ifMetagenerationNotMatch', notMatch) === current)
    throw conditionNotMet();
}

function mergeLabels(base: Readonly<Record<string, string>>, input: unknown): Record<string, string> {
  if (input === undefined || input === null) return { ...base };
  if (typeof input !== 'object' || Array.isArray(input)) throw invalid("Invalid value for field 'labels'.");
  const labels = { ...base };
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === null) delete labels[key];
    else if (typeof value === 'string') labels[key] = value;
    else throw invalid(`Invalid value for field 'labels.${key}'.`);
  }
  return labels;
}

/** Keeps the other bucket settings (versioning, cors, lifecycle...) as given; `null` removes one. */
function extraFields(
  body: Readonly<Record<string, unknown>>,
  base: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const extra = { ...base };
  for (const [key, value] of Object.entries(body)) {
    if (READ_ONLY_FIELDS.has(key)) continue;
    if (value === null) delete extra[key];
    else extra[key] = value;
  }
  return extra;
}

function stringField(body: Readonly<Record<string, unknown>>, field: string): string | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw invalid(`Invalid value for field '${field}'.`);
  return value;
}
