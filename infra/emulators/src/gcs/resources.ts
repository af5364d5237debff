import { invalid } from './errors.js';
import type { StoredBucket, StoredObject } from './object-store.js';
import { decodeRetention, type ObjectRetention } from './retention.js';

/** Object fields a client may set on upload, patch, update, copy and compose. `null` clears (patch). */
export interface ObjectMetadataInput {
  readonly contentType?: string | null;
  readonly contentEncoding?: string | null;
  readonly contentDisposition?: string | null;
  readonly contentLanguage?: string | null;
  readonly cacheControl?: string | null;
  readonly customTime?: string | null;
  readonly storageClass?: string | null;
  readonly metadata?: Readonly<Record<string, string | null>> | null;
  /** Object Retention Lock; `null` clears (retention.ts says who may). */
  readonly retention?: ObjectRetention | null;
  /** Checksums the client asserts for the uploaded bytes. */
  readonly md5Hash?: string;
  readonly crc32c?: string;
}

const SETTABLE_STRING_FIELDS = [
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
  'cacheControl',
  'customTime',
  'storageClass',
] as const;

/** Decodes the writable fields of an object resource from a request body; other fields are ignored. */
export function decodeObjectMetadata(body: Readonly<Record<string, unknown>>): ObjectMetadataInput {
  const out: Record<string, unknown> = {};
  for (const field of SETTABLE_STRING_FIELDS) {
    const value = body[field];
    if (value === undefined) continue;
    if (value !== null && typeof value !== 'string') throw invalid(`Invalid value for field '${field}'.`);
    out[field] = value;
  }
  for (const field of ['md5Hash', 'crc32c'] as const) {
    const value = body[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw invalid(`Invalid value for field '${field}'.`);
    out[field] = value;
  }
  const retention = decodeRetention(body['retention']);
  if (retention !== undefined) out['retention'] = retention;
  const metadata = body['metadata'];
  if (metadata === null) out['metadata'] = null;
  else if (metadata !== undefined) {
    if (typeof metadata !== 'object' || Array.isArray(metadata))
      throw invalid("Invalid value for field 'metadata'.");
    out['metadata'] = Object.fromEntries(
      Object.entries(metadata).map(([k, v]: [string, unknown]) => {
        if (v === null) return [k, null];
        // Clients send numbers and booleans too; GCS stores every custom metadata value as a string.
        if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return [k, String(v)];
        throw invalid(`Invalid value for field 'metadata.${k}'.`);
      }),
    );
  }
  return out;
}

export type SettableObjectFields = Pick<
  StoredObject,
  | 'contentType'
  | 'contentEncoding'
  | 'contentDisposition'
  | 'contentLanguage'
  | 'cacheControl'
  | 'customTime'
  | 'storageClass'
  | 'metadata'
>;

/**
 * The settable fields after applying `input` to `base`: in `merge` mode (patch) absent fields are
 * kept and `null` clears; in `replace` mode (update, upload) absent fields are cleared.
 */
export function applyObjectMetadata(
  base: SettableObjectFields,
  input: ObjectMetadataInput,
  mode: 'merge' | 'replace',
): SettableObjectFields {
  const pick = (field: (typeof SETTABLE_STRING_FIELDS)[number]): string | undefined => {
    const value = input[field];
    if (value === undefined) return mode === 'merge' ? base[field] : undefined;
    return value ?? undefined;
  };
  let metadata: Record<string, string> | undefined;
  if (input.metadata === undefined) metadata = mode === 'merge' ? { ...base.metadata } : undefined;
  else if (input.metadata !== null) {
    metadata = mode === 'merge' ? { ...base.metadata } : {};
    for (const [k, v] of Object.entries(input.metadata)) {
      if (v === null) delete metadata[k];
      else metadata[k] = v;
    }
  }
  return compact({
    contentType: pick('contentType') ?? 'application/octet-stream',
    contentEncoding: pick('contentEncoding'),
    contentDisposition: pick('contentDisposition'),
    contentLanguage: pick('contentLanguage'),
    cacheControl: pick('cacheControl'),
    customTime: pick('customTime'),
    storageClass: pick('storageClass') ?? base.storageClass,
    metadata: metadata && Object.keys(metadata).length > 0 ? metadata : undefined,
  });
}

export function objectEtag(o: Pick<StoredObject, 'generation' | 'metageneration'>): string {
  return Buffer.from(`${o.generation}/${o.metageneration}`).toString('base64');
}

export function objectPath(bucket: string, name: string): string {
  return `/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(name)}`;
}

export function objectResource(o: StoredObject, baseUrl: string): Record<string, unknown> {
  const path = objectPath(o.bucket, o.name);
  return compact({
    kind: 'storage#object',
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${baseUrl}/storage/v1${path}`,
    mediaLink: `${baseUrl}/download/storage/v1${path}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: String(o.metageneration),
    contentType: o.contentType,
    contentEncoding: o.contentEncoding,
    contentDisposition: o.contentDisposition,
    contentLanguage: o.contentLanguage,
    cacheControl: o.cacheControl,
    customTime: o.customTime,
    storageClass: o.storageClass,
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    componentCount: o.componentCount,
    etag: objectEtag(o),
    timeCreated: o.timeCreated,
    updated: o.updated,
    timeStorageClassUpdated: o.timeCreated,
    metadata: o.metadata,
    retention: o.retention,
  });
}

export function bucketResource(b: StoredBucket, baseUrl: string): Record<string, unknown> {
  return compact({
    ...b.extra,
    kind: 'storage#bucket',
    id: b.name,
    selfLink: `${baseUrl}/storage/v1/b/${encodeURIComponent(b.name)}`,
    projectNumber: projectNumber(b.project),
    name: b.name,
    timeCreated: b.timeCreated,
    updated: b.updated,
    metageneration: String(b.metageneration),
    location: b.location,
    locationType: b.location.includes('-') ? 'region' : 'multi-region',
    storageClass: b.storageClass,
    etag: Buffer.from(`${b.name}/${b.metageneration}`).toString('base64'),
    labels: b.labels && Object.keys(b.labels).length > 0 ? b.labels : undefined,
  });
}

/** A stable made-up project number: clients only echo it. */
function projectNumber(project: string): string {
  let h = 0;
  for (const c of project) h = (Math.imul(h, 31) + c.charCodeAt(0)) >>> 0;
  return String(100_000_000_000 + h);
}

function compact<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
