// The worker's HTTP side: Pub/Sub push deliveries of bqbr-tasks (Cloud Run) and a health check.
// Push semantics: a 2xx answer acks the message, anything else nacks it (the push retry policy backs off).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  BodyTooLarge,
  ValidationError,
  decodePushRequest,
  refuseUnauthenticated,
  toReceivedMessage,
  readHttpBody,
  type Authenticator,
  type Disposition,
  type Logger,
  type ReceivedMessage,
} from '@bqbr/shared';

export interface WorkerHttpOptions {
  readonly logger: Logger;
  /** Undefined in pull mode: the push route answers 404. */
  readonly handleTask?: (message: ReceivedMessage) => Promise<Disposition>;
  /** False once shutting down: health checks fail and new pushes are refused (nacked). */
  readonly isAccepting: () => boolean;
  /** Checks the pusher's ID token (docs/security.md#authentication); undefined: off. */
  readonly auth?: Authenticator;
}

function send(
  res: ServerResponse,
  status: number,
  body?: object,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function createWorkerHttpServer(options: WorkerHttpOptions): Server {
  const { logger } = options;

  async function pushTask(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const handleTask = options.handleTask;
    if (handleTask === undefined) return send(res, 404, { error: { message: 'push intake is not enabled' } });
    if (!options.isAccepting()) return send(res, 503, { error: { message: 'shutting down' } });
    let message: ReceivedMessage;
    try {
      message = toReceivedMessage(decodePushRequest(req.headers, await readHttpBody(req)));
    } catch (err) {
      if (err instanceof BodyTooLarge) return send(res, 413, { error: { message: 'body too large' } });
      if (err instanceof ValidationError) {
        logger.warn('bad push request', { error: err });
        return send(res, 400, { error: { message: err.message, issues: err.issues } });
      }
      throw err;
    }
    const disposition = await handleTask(message);
    if (disposition === 'ack') return send(res, 204);
    send(res, 500, { error: { message: 'task failed, will be retried' } });
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD'))
      return options.isAccepting()
        ? send(res, 200, { status: 'ok' })
        : send(res, 503, { status: 'stopping' });
    if (path === '/pubsub/tasks') {
      // Before anything of the request is read: a refused task is neither decoded nor handled.
      const refusal = await refuseUnauthenticated(options.auth, req.headers, path, logger);
      if (refusal) return send(res, refusal.status, { error: { message: refusal.message } }, refusal.headers);
      if (req.method !== 'POST') return send(res, 405, { error: { message: 'use POST' } });
      return pushTask(req, res);
    }
    send(res, 404, { error: { message: `no route for ${req.method ?? ''} ${path}` } });
  }

  return createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      logger.error('HTTP request failed', { error: err, path: req.url });
      if (!res.headersSent) send(res, 500, { error: { message: 'internal error' } });
      else res.destroy();
    });
  });
}
