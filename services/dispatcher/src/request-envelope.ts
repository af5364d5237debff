// What an incoming request message (pull, push, Eventarc, a dead letter) says, decoded at the edge:
// the operation it names, its kind and project, and the request or why it is invalid.
import {
  OperationId,
  ValidationError,
  decodeRequest,
  type DecodedRequest,
  type ReceivedMessage,
} from '@bqbr/shared';
import { parseJson } from './handler.js';

/** What an incoming request message says, before anything is decided. */
export interface RequestEnvelope {
  /** The operation it starts or continues: attribute or body `operationId`, else the message id. */
  readonly operationId: string;
  readonly kind: 'backup' | 'restore';
  readonly projectId: string;
  readonly body: unknown;
  readonly decoded?: DecodedRequest;
  readonly error?: ValidationError;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Reads a request message: JSON, kind, operation id and the decoded request (or why it is invalid). */
export function readRequest(
  message: Pick<ReceivedMessage, 'data' | 'attributes' | 'messageId'>,
): RequestEnvelope {
  const parsed = parseJson(message.data);
  const body = parsed.ok ? parsed.value : undefined;
  const fields = isRecord(body) ? body : {};
  const attributeId = message.attributes.operationId;
  const bodyId = typeof fields.operationId === 'string' ? fields.operationId : undefined;
  const candidate = attributeId ?? bodyId;
  const operationId = candidate !== undefined && isValidId(candidate) ? candidate : message.messageId;
  const kindHint = message.attributes.kind ?? fields.kind;
  const kind =
    kindHint === 'restore' || (kindHint === undefined && fields.restoreStorage !== undefined)
      ? 'restore'
      : 'backup';
  const bigQuery = isRecord(fields.bigQuery) ? fields.bigQuery : {};
  const projectId = typeof bigQuery.projectId === 'string' ? bigQuery.projectId : '';
  const base = { operationId, kind, projectId, body } as const;
  if (!parsed.ok) {
    return {
      ...base,
      error: new ValidationError('request', [{ path: '', message: `not JSON: ${parsed.error}` }]),
    };
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
    return { ...base, decoded: decodeRequest(body, message.attributes) };
  } catch (err) {
    if (err instanceof ValidationError) return { ...base, error: err };
    throw err;
  }
}

function isValidId(id: string): boolean {
  return OperationId.decode(id)._tag === 'Right';
}
