import type { Logger } from '@bqbr/shared';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BigQueryError, invalid } from './api-error.js';
import type { Json } from './resources.js';

/** Everything a REST handler needs about one request. */
export interface Request {
  readonly method: string;
  readonly query: URLSearchParams;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** `http://host:port/bigquery/v2` as the client addressed us, for selfLinks. */
  readonly apiBase: string;
  readonly logger: Logger;
}

const MAX_JSON_BODY = 100 * 1024 * 1024;

export async function readBody(req: IncomingMessage, limit = MAX_JSON_BODY): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new BigQueryError(413, 'invalid', 'Request payload size exceeds the limit.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** A JSON object body; an empty body is `{}`. */
export async function readJson(req: IncomingMessage): Promise<Json> {
  const text = (await readBody(req)).toString('utf8');
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new BigQueryError(400, 'parseError', 'Parse Error');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid('The request body must be a JSON object.');
  return value as Json;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=UTF-8',
    'content-length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export function sendNoContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

export function sendError(res: ServerResponse, err: BigQueryError): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, err.status, err.toJSON());
}
