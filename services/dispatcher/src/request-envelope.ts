// What an incoming request message (pull, push, Eventarc, a dead letter) says, decoded at the edge:
// the operation it names, its kind and project, and the request or why it is refused. Its size and
// nesting are checked before anything parses or decodes it (request-limits.ts).
import {
  OperationId,
  REQUEST_KINDS,
  ValidationError,
  decodeRequest,
  type DecodedRequest,
  type RequestKind,
  type ReceivedMessage,
} from '@bqbr/shared';
import { notStoredRequest } from './engine/operation-doc.js';
import { rawFingerprint, requestFingerprint } from './engine/request-fingerprint.js';
import { parseRequestJson, tooLarge, type RequestTooLarge } from './request-limits.js';

/** What an incoming request message says, before anything is decided. */
export interface RequestEnvelope {
  /** The operation it starts or continues: attribute or body `operationId`, else the message id. */
  readonly operationId: string;
  readonly kind: RequestKind;
  readonly projectId: string;
  /** The body as parsed, to keep on a refused request's operation; a note of its size when it cannot be kept. */
  readonly body: unknown;
  /** requestFingerprint of the decoded request (or of the body as parsed; of its bytes when not parsed). */
  readonly fingerprint: string;
  readonly decoded?: DecodedRequest;
  /** Why it is invalid: bad fields, not JSON, nested too deep. */
  readonly error?: ValidationError;
  /** Set instead when it is over the request size limit. */
  readonly tooLarge?: RequestTooLarge;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a request message: JSON, kind, operation id and the decoded request (or why it is refused). */
export function readRequest(
  message: Pick<ReceivedMessage, 'data' | 'attributes' | 'messageId'>,
): RequestEnvelope {
  const parsed = parseRequestJson(message.data);
  const body = parsed.ok ? parsed.value : undefined;
  const fields = isRecord(body) ? body : {};
  const attributeId = message.attributes.operationId;
  const bodyId = typeof fields.operationId === 'string' ? fields.operationId : undefined;
  const candidate = attributeId ?? bodyId;
  const operationId = candidate !== undefined && isValidId(candidate) ? candidate : message.messageId;
  const kindHint = message.attributes.kind ?? fields.kind;
  const kind: RequestKind = REQUEST_KINDS.includes(kindHint as RequestKind)
    ? (kindHint as RequestKind)
    : kindHint === undefined && fields.restoreStorage !== undefined
      ? 'restore'
      : 'backup';
  const bigQuery = isRecord(fields.bigQuery) ? fields.bigQuery : {};
  const projectId = typeof bigQuery.projectId === 'string' ? bigQuery.projectId : '';
  const fingerprint = parsed.ok ? requestFingerprint(kind, body) : rawFingerprint(message.data);
  const base = { operationId, kind, projectId, body, fingerprint } as const;
  const bytes = message.data.length;
  const oversized = tooLarge(message.data);
  if (oversized) return { ...base, body: notStoredRequest('tooLarge', bytes), tooLarge: oversized };
  if (!parsed.ok) {
    // A body too deep to keep (Firestore stores 20 levels) is noted by its size.
    const kept = parsed.why === 'tooDeep' ? notStoredRequest('tooDeep', bytes) : undefined;
    return { ...base, body: kept, error: parsed.error };
  }
  if (attributeId !== undefined && !isValidId(attributeId)) {
    return {
      ...base,
      error: new ValidationError('request', [
        {
          path: 'attributes.operationId',
          message: 'expected an operation id (1-128 letters, digits, _, . or -)',
        },
      ]),
    };
  }
  try {
    const decoded = decodeRequest(body, message.attributes);
    return { ...base, fingerprint: requestFingerprint(decoded.kind, decoded.request), decoded };
  } catch (err) {
    if (err instanceof ValidationError) return { ...base, error: err };
    throw err;
  }
}

function isValidId(id: string): boolean {
  return OperationId.decode(id)._tag === 'Right';
}
