// The one place an operation document is made: every kind, and every way an operation starts
// (planned, a dry run, refused before it starts) (docs/contracts.md, "Operation state").
import { redact, type OperationDoc } from '@bqbr/shared';
import type { KindName } from './operation-kind.js';

export interface NewOperation {
  readonly operationId: string;
  readonly kind: KindName;
  readonly projectId: string;
  /** The decoded request (or, for a refused one, the body as received); kept redacted (redact). */
  readonly request: unknown;
  readonly requestMessageId?: string;
  /** requestFingerprint of the request (rawFingerprint of a body that was not read). */
  readonly requestFingerprint?: string;
  readonly dryRun?: boolean;
}

/** What an operation keeps instead of a request body it cannot store: why, and how large it was. */
export const notStoredRequest = (reason: string, bytes: number): { notStored: string; bytes: number } => ({
  notStored: reason,
  bytes,
});

/**
 * A new operation document: PLANNING (started now) unless `extra` says otherwise; `extra` adds the
 * kind's own fields (snapshot, location) or ends it at once (status, error, finishedAt). Its request
 * and error are kept redacted: no credential a request carried is stored (docs/security.md, "Credentials").
 */
export function newOperationDoc(
  start: NewOperation,
  now: Date,
  extra: Partial<OperationDoc> = {},
): OperationDoc {
  const at = now.toISOString();
  const status = extra.status ?? 'PLANNING';
  return {
    operationId: start.operationId,
    kind: start.kind,
    status,
    projectId: start.projectId,
    request: redact(start.request ?? null),
    dryRun: start.dryRun ?? false,
    ...(start.requestMessageId !== undefined ? { requestMessageId: start.requestMessageId } : {}),
    ...(start.requestFingerprint !== undefined ? { requestFingerprint: start.requestFingerprint } : {}),
    taskTotal: 0,
    fanOutComplete: false,
    createdAt: at,
    updatedAt: at,
    ...(status === 'PLANNING' ? { startedAt: at } : {}),
    ...extra,
    ...(extra.error !== undefined ? { error: redact(extra.error) } : {}),
  };
}
