// What makes two requests for one operation id the same request: a fingerprint of the decoded request,
// kept on the operation (docs/contracts.md, "Errors"). The same body again is a redelivery; another is a
// conflict.
import type { OperationDoc } from '@bqbr/shared';
import { createHash } from 'node:crypto';
import type { KindName } from './operation-kind.js';

/**
 * sha256 of the kind and the request as canonical JSON (keys sorted, `operationId` and `kind` left out:
 * they may come as attributes or in the body alike).
 */
export function requestFingerprint(kind: KindName, request: unknown): string {
  const fields = isRecord(request) ? withoutIds(request) : request;
  return sha256(canonicalJson({ kind, request: fields ?? null }));
}

/** A body that was not read (nested too deep, not JSON): its bytes are its identity. */
export const rawFingerprint = (data: Buffer): string => sha256(data);

/** Whether `incoming` names an operation that exists for another request (of another kind, or another body). */
export function conflicts(
  existing: Pick<OperationDoc, 'kind' | 'requestFingerprint'>,
  incoming: { readonly kind: KindName; readonly requestFingerprint?: string },
): boolean {
  if (existing.kind !== incoming.kind) return true;
  // Operations recorded before fingerprints were kept have none: a request naming them is a redelivery.
  return (
    existing.requestFingerprint !== undefined &&
    incoming.requestFingerprint !== undefined &&
    existing.requestFingerprint !== incoming.requestFingerprint
  );
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

function withoutIds(request: Record<string, unknown>): Record<string, unknown> {
  const { operationId: _operationId, kind: _kind, ...fields } = request;
  return fields;
}

/** JSON with every object's keys in order, and without undefined fields (as JSON.stringify drops them). */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v ?? null)).join(',')}]`;
  if (isRecord(value)) {
    const entries = Object.keys(value)
      .filter((key) => value[key] !== undefined)
      .sort()
      .map((key) => `${JSON.stringify(key)}:${canonicalJson(value[key])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
