// Which kind of request a message carries, and its decoded body.
import { decode, show, ValidationError } from '../decode.js';
import { BackupRequest } from './backup-request.js';
import { RestoreRequest } from './restore-request.js';

export type RequestKind = 'backup' | 'restore';

export type DecodedRequest =
  | { readonly kind: 'backup'; readonly request: BackupRequest }
  | { readonly kind: 'restore'; readonly request: RestoreRequest };

const isKind = (value: unknown): value is RequestKind => value === 'backup' || value === 'restore';

/**
 * Decodes a request body (parsed JSON). The kind comes from the message attribute `kind`, else the
 * body's top-level `kind`, else its shape: `backupStorage` means backup, `restoreStorage` restore.
 */
export function decodeRequest(
  body: unknown,
  attributes: Readonly<Record<string, string>> = {},
): DecodedRequest {
  const kind = requestKind(body, attributes);
  return kind === 'backup'
    ? { kind, request: decode(BackupRequest, body, 'backup request') }
    : { kind, request: decode(RestoreRequest, body, 'restore request') };
}

function requestKind(body: unknown, attributes: Readonly<Record<string, string>>): RequestKind {
  const attribute = attributes.kind;
  if (attribute !== undefined) {
    if (isKind(attribute)) return attribute;
    throw new ValidationError('request', [
      { path: 'attributes.kind', message: `expected one of backup, restore, got ${show(attribute)}` },
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
      { path: 'kind', message: `expected one of backup, restore, got ${show(fields.kind)}` },
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
