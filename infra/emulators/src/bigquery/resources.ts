// Helpers for BigQuery's REST resources: references, ids, etags, paging, request field readers.
import { createHash } from 'node:crypto';
import { invalid } from './api-error.js';

export interface DatasetRef {
  readonly projectId: string;
  readonly datasetId: string;
}

export interface TableRef extends DatasetRef {
  readonly tableId: string;
}

export const DEFAULT_LOCATION = 'US';

/** Seven days: BigQuery's default (and maximum) time travel window. */
export const TIME_TRAVEL_WINDOW_MS = 7 * 24 * 3600 * 1000;

export const tableName = (ref: TableRef): string => `${ref.projectId}:${ref.datasetId}.${ref.tableId}`;
export const datasetName = (ref: DatasetRef): string => `${ref.projectId}:${ref.datasetId}`;

const DATASET_ID = /^[A-Za-z0-9_]{1,1024}$/;
const TABLE_ID = /^[\p{L}\p{M}\p{N}\p{Pc}\p{Pd}\p{Zs}]{1,1024}$/u;
const PROJECT_ID = /^[a-z0-9][a-z0-9.:-]{0,127}$/i;

export function checkProjectId(projectId: string): void {
  if (!PROJECT_ID.test(projectId)) throw invalid(`Invalid project ID '${projectId}'.`);
}

export function checkDatasetId(datasetId: string): void {
  if (!DATASET_ID.test(datasetId))
    throw invalid(
      `Invalid dataset ID "${datasetId}". Dataset IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long.`,
    );
}

export function checkTableId(tableId: string): void {
  if (!TABLE_ID.test(tableId))
    throw invalid(
      `Invalid table ID "${tableId}". Table IDs must be alphanumeric (plus underscores) and must be at most 1024 characters long. Also, Table decorators cannot be used.`,
    );
}

export const etagOf = (...parts: unknown[]): string =>
  createHash('md5').update(JSON.stringify(parts)).digest('base64');

/** Page tokens are opaque to clients; ours is the offset into a stable ordering. */
export function page<T>(
  items: readonly T[],
  query: URLSearchParams,
  defaultMax = 1000,
): { items: T[]; nextPageToken?: string } {
  const start = decodePageToken(query.get('pageToken'));
  const maxText = query.get('maxResults');
  const max = maxText === null ? defaultMax : Number.parseInt(maxText, 10);
  if (!Number.isInteger(max) || max < 0) throw invalid(`Invalid value for maxResults: ${maxText}`);
  const end = Math.min(items.length, start + (max === 0 ? defaultMax : max));
  return {
    items: items.slice(start, end),
    ...(end < items.length ? { nextPageToken: encodePageToken(end) } : {}),
  };
}

export const encodePageToken = (offset: number): string => Buffer.from(String(offset)).toString('base64url');

export function decodePageToken(token: string | null): number {
  if (!token) return 0;
  const n = Number.parseInt(Buffer.from(token, 'base64url').toString('utf8'), 10);
  if (!Number.isInteger(n) || n < 0) throw invalid(`Invalid page token: ${token}`);
  return n;
}

// ---- Readers for fields of JSON request bodies (the REST edge) ----

export type Json = Record<string, unknown>;

/** A request value as text for messages and string fields: objects as JSON, never "[object Object]". */
export const textOf = (value: unknown): string =>
  typeof value === 'string' ? value : value === undefined ? 'undefined' : JSON.stringify(value);

export function optString(body: Json, key: string): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid value for ${key}: expected a string.`);
  return v;
}

export function optObject(body: Json, key: string): Json | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v))
    throw invalid(`Invalid value for ${key}: expected an object.`);
  return v as Json;
}

/** int64 fields arrive as strings or numbers. */
export function optInt(body: Json, key: string): number | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n))
    throw invalid(`Invalid value for ${key}: ${JSON.stringify(v)}`);
  return n;
}

export function optBool(body: Json, key: string): boolean | undefined {
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw invalid(`Invalid value for ${key}: expected a boolean.`);
}

export function labelsOf(body: Json): Record<string, string> | undefined {
  const labels = optObject(body, 'labels');
  if (labels === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (!/^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u.test(k))
      throw invalid(
        `Invalid label key "${k}": keys must start with a lowercase letter and be at most 63 characters.`,
      );
    if (v === null) continue; // patching a label to null removes it
    if (typeof v !== 'string' || !/^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u.test(v))
      throw invalid(`Invalid label value for "${k}": ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out;
}

export function tableRefOf(value: unknown, what: string, defaultProject?: string): TableRef {
  if (typeof value !== 'object' || value === null) throw invalid(`Required parameter is missing: ${what}`);
  const v = value as Json;
  const projectId =
    typeof v['projectId'] === 'string' && v['projectId'] !== '' ? v['projectId'] : defaultProject;
  const datasetId = v['datasetId'];
  const tableId = v['tableId'];
  if (typeof projectId !== 'string' || typeof datasetId !== 'string' || typeof tableId !== 'string')
    throw invalid(`Invalid ${what}: projectId, datasetId and tableId are required.`);
  return { projectId, datasetId, tableId };
}

export function datasetRefOf(value: unknown, what: string, defaultProject?: string): DatasetRef {
  if (typeof value !== 'object' || value === null) throw invalid(`Required parameter is missing: ${what}`);
  const v = value as Json;
  const projectId =
    typeof v['projectId'] === 'string' && v['projectId'] !== '' ? v['projectId'] : defaultProject;
  const datasetId = v['datasetId'];
  if (typeof projectId !== 'string' || typeof datasetId !== 'string')
    throw invalid(`Invalid ${what}: projectId and datasetId are required.`);
  return { projectId, datasetId };
}
