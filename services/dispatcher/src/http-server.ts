// The dispatcher's HTTP face: Pub/Sub push and Eventarc endpoints, the operations API and a health check.
import {
  BodyTooLarge,
  ValidationError,
  classifyError,
  decodePushRequest,
  refuseUnauthenticated,
  toReceivedMessage,
  readHttpBody,
  type Authenticator,
  type Logger,
  type RequestKind,
} from '@bqbr/shared';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { deliver } from './deliver.js';
import type { MessageHandler } from './handler.js';
import { badRequest, type ApiResponse, type OperationsApi } from './operations-api.js';
import { REQUEST_LIMITS, parseRequestJson } from './request-limits.js';

export interface HttpServerDeps {
  readonly api: OperationsApi;
  /** Push endpoints by path: `/pubsub/requests`, `/eventarc/requests`, `/pubsub/events`, ... */
  readonly push: Readonly<Record<string, MessageHandler>>;
  readonly logger: Logger;
  /** false once shutdown began: the health check fails so no new work is routed here. */
  readonly isHealthy: () => boolean;
  /** Checks the callers' ID tokens (docs/security.md#authentication); one left out is off. */
  readonly auth?: { readonly push?: Authenticator; readonly api?: Authenticator };
}

type HttpResponse = ApiResponse & { readonly headers?: Readonly<Record<string, string>> };

function send(res: ServerResponse, { status, body, headers }: HttpResponse): void {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

const errorBody = (status: number, message: string): ApiResponse => ({
  status,
  body: { error: { message } },
});

/** The body as JSON, its nesting bounded before it is parsed or decoded. */
function parseJsonBody(body: Buffer): unknown {
  const parsed = parseRequestJson(body);
  if (!parsed.ok) throw parsed.error;
  return parsed.value;
}

export function createHttpServer(deps: HttpServerDeps): Server {
  const logger = deps.logger.child({ component: 'http' });

  async function route(req: IncomingMessage): Promise<HttpResponse> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';

    if (path === '/healthz') {
      return deps.isHealthy() ? { status: 200, body: { status: 'ok' } } : errorBody(503, 'shutting down');
    }
    const pushHandler = deps.push[path];
    // Before anything of the request is read: a refused message is neither decoded nor delivered.
    const authenticator = pushHandler
      ? deps.auth?.push
      : path.startsWith('/api/')
        ? deps.auth?.api
        : undefined;
    const refusal = await refuseUnauthenticated(authenticator, req.headers, path, logger);
    if (refusal) return { ...errorBody(refusal.status, refusal.message), headers: refusal.headers };
    if (pushHandler) {
      if (method !== 'POST') return errorBody(405, `${path} takes POST`);
      const body = await readHttpBody(req);
      let decoded;
      try {
        decoded = decodePushRequest(req.headers, body);
      } catch (err) {
        if (err instanceof ValidationError) return badRequest(err);
        throw err;
      }
      const message = toReceivedMessage(decoded);
      // 2xx acks the push delivery; anything else makes Pub/Sub retry it with backoff.
      const outcome = await deliver(pushHandler, message, logger);
      return outcome === 'ack'
        ? { status: 204, body: undefined }
        : errorBody(503, 'not processed; retry later');
    }
    const submit = /^\/api\/v1\/(backup|restore|prune|verify)$/.exec(path);
    if (submit) {
      if (method !== 'POST') return errorBody(405, `${path} takes POST`);
      try {
        // A body over the request size limit is refused (413) before the rest of it is read.
        return await deps.api.submit(
          submit[1] as RequestKind,
          parseJsonBody(await readHttpBody(req, REQUEST_LIMITS.maxBytes)),
        );
      } catch (err) {
        if (err instanceof ValidationError) return badRequest(err);
        throw err;
      }
    }
    if (path === '/api/v1/operations') {
      if (method !== 'GET') return errorBody(405, `${path} takes GET`);
      return deps.api.listOperations(url.searchParams);
    }
    const operation = /^\/api\/v1\/operations\/([^/]+)$/.exec(path);
    if (operation) {
      if (method !== 'GET') return errorBody(405, `${path} takes GET`);
      return deps.api.getOperation(decodeURIComponent(operation[1]!));
    }
    return errorBody(404, `no route ${method} ${path}`);
  }

  return createServer((req, res) => {
    route(req).then(
      (response) => send(res, response),
      (err: unknown) => {
        if (err instanceof BodyTooLarge) {
          send(res, errorBody(413, err.message));
          return;
        }
        const failure = classifyError(err);
        logger.error('request failed', {
          method: req.method,
          url: req.url,
          reason: failure.reason,
          error: failure.message,
        });
        send(res, errorBody(failure.kind === 'retryable' ? 503 : 500, failure.message));
      },
    );
  });
}
