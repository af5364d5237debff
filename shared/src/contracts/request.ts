// Which kind of request a message carries, and its decoded body.
import { decode, show, ValidationError } from '../decode.js';
import { BackupRequest } from './backup-request.js';
import { PruneRequest, VerifyRequest } from './lifecycle-request.js';
import { RestoreRequest } from './restore-request.js';

export const REQUEST_KINDS = ['backup', 'restore', 'prune', 'verify'] as const;
export type RequestKind = (typeof REQUEST_KINDS)[number];

export type DecodedRequest =
  | { readonly kind: 'backup'; readonly request: BackupRequest }
  | { readonly kind: 'restore'; readonly request: RestoreRequest }
  | { readonly kind: 'prune'; readonly request: PruneRequest }
  | { readonly kind: 'verify'; readonly request: VerifyRequest };

const isKind = (value: unknown): value is RequestKind =>
  (REQUEST_KINDS as readonly unknown[]).includes(value);
const KIND_LIST = REQUEST_KINDS.join(', ');

/**
 * Decodes a request body (parsed JSON). The kind comes from the message attribute `kind`, else the
 * body's top-level `kind`, else its shape (the original service's requests carry no kind):
 * `backupStorage` means backup, `restoreStorage` restore. Prune and verify always name their kind.
 */
export function decodeRequest(
  body: unknown,
  attributes: Readonly<Record<string, string>> = {},
): DecodedRequest {
  const kind = requestKind(body, attributes);
  switch (kind) {
    case 'backup':
      return { kind, request: decode(BackupRequest, body, 'backup request') };
    case 'restore':
      return { kind, request: decode(RestoreRequest, body, 'restore request') };
    case 'prune':
      return { kind, request: decode(PruneRequest, withKind(body, kind), 'prune request') };
    case 'verify':
      return { kind, request: decode(VerifyRequest, withKind(body, kind), 'verify request') };
  }
}

/** A prune or verify body named by its attribute alone still decodes: the kind is part of its shape. */
const withKind = (body: unknown, kind: RequestKind): unknown =>
  typeof body === 'object' && body !== null && !Array.isArray(body) && !('kind' in body)
    ? { ...body, kind }
    : body;

function requestKind(body: unknown, attributes: Readonly<Record<string, string>>): RequestKind {
  const attribute = attributes.kind;
  if (attribute !== undefined) {
    if (isKind(attribute)) return attribute;
    throw new ValidationError('request', [
      { path: 'attributes.kind', message: `expected one of ${KIND_LIST}, got ${show(attribute)}` },
    ]);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ValidationError('request', [
      { path: '', message: `expected a JSON object, got ${show(body)}` },
    ]);
  }
  const fields = body as Record<string, unknown>;
  if (fields.kind !== undefined) {
    if (isKind(fields.kind)) return fields.kind;
    throw new ValidationError('request', [
      { path: 'kind', message: `expected one of ${KIND_LIST}, got ${show(fields.kind)}` },
    ]);
  }
  const isBackup = fields.backupStorage !== undefined;
  const isRestore = fields.restoreStorage !== undefined;
  if (isBackup !== isRestore) return isBackup ? 'backup' : 'restore';
  throw new ValidationError('request', [
    {
      path: '',
      message: isBackup
        ? 'has both backupStorage and restoreStorage: set kind to backup or restore'
        : 'expected backupStorage (a backup) or restoreStorage (a restore), or a kind of backup or restore',
    },
  ]);
}
