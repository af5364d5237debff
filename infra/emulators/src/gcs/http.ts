import type { Logger } from '@bqbr/shared';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GcsError, invalid, parseError } from './errors.js';
import type { ObjectStore } from './object-store.js';

/** Everything a route handler needs about one request. */
export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
  /** `http://host:port` as the client addressed us: links in resources point back here. */
  readonly baseUrl: string;
  readonly store: ObjectStore;
  readonly logger: Logger;
}

const MAX_JSON_BODY = 16 * 1024 * 1024;

/** Reads a JSON object body; an empty body is `{}`. */
export async function readJsonObject(req: IncomingMessage): Promise<Record<string, unknown>> {
  const text = await readText(req, MAX_JSON_BODY);
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw parseError();
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid('The request body must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

export async function readText(req: IncomingMessage, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new GcsError(413, 'uploadTooLarge', 'The request body is too large.');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Consumes and discards the rest of a request body, so the connection can be reused. */
export async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  for await (const _chunk of req) {
    // discarded
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const payload = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'application/json; charset=UTF-8',
    'Content-Length': Buffer.byteLength(payload),
  });
  res.end(payload);
}

export function sendEmpty(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...headers, 'Content-Length': '0' });
  res.end();
}

export function sendError(res: ServerResponse, err: GcsError): void {
  if (res.headersSent) {
    res.destroy(err);
    return;
  }
  if (err.status === 304) sendEmpty(res, 304);
  else sendJson(res, err.status, err.toJSON());
}

export function queryFlag(query: URLSearchParams, name: string): boolean {
  return query.get(name) === 'true';
}
