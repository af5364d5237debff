import { createSilentLogger, type Logger } from '@bqbr/shared';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deleteBucket, getBucket, insertBucket, listBuckets, updateBucket } from './buckets.js';
import { handleDownload } from './downloads.js';
import { GcsError, internalError, invalid, notFound } from './errors.js';
import type { RequestContext } from './http.js';
import { sendError } from './http.js';
import { ObjectStore } from './object-store.js';
import {
  composeObject,
  copyObject,
  deleteObject,
  getObjectMetadata,
  listObjects,
  updateObjectMetadata,
} from './objects.js';
import { UploadSessions } from './upload-sessions.js';
import { handleSessionRequest, handleUploadStart } from './uploads.js';

export interface GcsEmulatorOptions {
  /** Default '127.0.0.1'. */
  host?: string;
  /** Default 4443; 0 picks a free port. */
  port?: number;
  /** Objects and metadata live here and survive restarts; default: a fresh temp dir removed on close(). */
  dataDir?: string;
  /** Default: silent. */
  logger?: Logger;
}

export interface RunningGcsEmulator {
  /** `http://host:port` */
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  close(): Promise<void>;
}

/** A connection with no bytes moving for this long is closed (as GCS drops stalled uploads). */
const IDLE_CONNECTION_MS = 120_000;

/** How long close() lets running requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());

/** Starts a Cloud Storage JSON API emulator (buckets, objects, media/multipart/resumable uploads). */
export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<RunningGcsEmulator> {
  const host = options.host ?? '127.0.0.1';
  const logger = options.logger ?? createSilentLogger();
  const ownsDataDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'gcs-emulator-')));
  await mkdir(dataDir, { recursive: true });
  const store = await ObjectStore.open(dataDir);
  const sessions = new UploadSessions(store);
  const inFlight = new Set<Promise<void>>();

  const server = createServer((req, res) => {
    const handled = handleRequest(req, res, store, sessions, logger).finally(() => inFlight.delete(handled));
    inFlight.add(handled);
  });
  // Large uploads stream for minutes: no request timeout (Node 20 defaults to 5 minutes)...
  server.requestTimeout = 0;
  // ...but a connection that stalls is dropped, so it cannot hold its upload session's lock forever.
  server.setTimeout(IDLE_CONNECTION_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 4443, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  logger.info('gcs emulator listening', { url, dataDir });

  let closing: Promise<void> | undefined;
  const close = async (): Promise<void> => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.race([Promise.allSettled([...inFlight]), sleep(CLOSE_GRACE_MS)]);
    // Requests still running are cut; an interrupted upload keeps what it received, so a restart can resume it.
    server.closeAllConnections();
    await Promise.allSettled([...inFlight]);
    await closed;
    if (ownsDataDir) await rm(dataDir, { recursive: true, force: true });
    logger.info('gcs emulator closed', { url });
  };
  return {
    url,
    port,
    dataDir,
    close: () => (closing ??= close()),
  };
}

async function handleRequest(
  req: IncomingMessage,
  res: ServerResponse,
  store: ObjectStore,
  sessions: UploadSessions,
  logger: Logger,
): Promise<void> {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const ctx: RequestContext = {
    req,
    res,
    store,
    logger,
    query: new URLSearchParams(q >= 0 ? rawUrl.slice(q + 1) : ''),
    baseUrl: `http://${req.headers.host ?? 'localhost'}`,
  };
  try {
    await route(ctx, sessions, decodePath(q >= 0 ? rawUrl.slice(0, q) : rawUrl));
  } catch (err) {
    const gcsError =
      err instanceof GcsError ? err : internalError(err instanceof Error ? err.message : String(err));
    if (!(err instanceof GcsError))
      logger.error('request failed', { method: req.method, url: rawUrl, error: String(err) });
    sendError(res, gcsError);
  }
  logger.debug('request', { method: req.method, url: rawUrl, status: res.statusCode });
}

/** Splits the raw path on `/` and decodes each segment, so `%2F` inside an object name stays in the name. */
function decodePath(path: string): string[] {
  try {
    return path
      .split('/')
      .filter((s, i) => i > 0 || s !== '')
      .map(decodeURIComponent);
  } catch {
    throw invalid(`Invalid path: ${path}`);
  }
}

const notFoundRoute = (): GcsError => notFound('Not Found');

async function route(ctx: RequestContext, sessions: UploadSessions, segments: string[]): Promise<void> {
  const method = ctx.req.method ?? 'GET';
  if (segments[0] === 'storage' && segments[1] === 'v1' && segments[2] === 'b') {
    return routeJsonApi(ctx, method, segments.slice(3));
  }
  // With STORAGE_EMULATOR_HOST set, the Node client sends JSON API calls to `<host>/b/...`.
  if (segments[0] === 'b') return routeJsonApi(ctx, method, segments.slice(1));
  // gcloud and gsutil (apitools) start resumable uploads under `/resumable/upload/...`.
  if (segments[0] === 'resumable' && segments[1] === 'upload') segments = segments.slice(1);
  const [root, api, version, b, bucket, o, ...rest] = segments;
  if (api !== 'storage' || version !== 'v1' || b !== 'b' || bucket === undefined || o !== 'o') {
    throw notFoundRoute();
  }
  if (root === 'upload' && rest.length === 0) {
    const uploadId = ctx.query.get('upload_id');
    if (uploadId !== null) return handleSessionRequest(ctx, sessions, uploadId);
    if (method === 'POST') return handleUploadStart(ctx, sessions, bucket);
  }
  if (root === 'download' && rest.length > 0 && method === 'GET')
    return handleDownload(ctx, bucket, rest.join('/'));
  throw notFoundRoute();
}

/** `/storage/v1/b/...`, given the segments after `b`. */
async function routeJsonApi(ctx: RequestContext, method: string, path: string[]): Promise<void> {
  const [bucket, o, ...objectPath] = path;
  if (bucket === undefined) {
    if (method === 'GET') return listBuckets(ctx);
    if (method === 'POST') return insertBucket(ctx);
    throw notFoundRoute();
  }
  if (o === undefined) {
    if (method === 'GET') return getBucket(ctx, bucket);
    if (method === 'PATCH') return updateBucket(ctx, bucket, 'merge');
    if (method === 'PUT') return updateBucket(ctx, bucket, 'replace');
    if (method === 'DELETE') return deleteBucket(ctx, bucket);
    throw notFoundRoute();
  }
  if (o !== 'o') throw notFoundRoute();
  if (objectPath.length === 0) {
    if (method === 'GET') return listObjects(ctx, bucket);
    throw notFoundRoute();
  }
  if (method === 'POST') {
    const copyAt = objectPath.findIndex(
      (s, i) =>
        (s === 'rewriteTo' || s === 'copyTo') && objectPath[i + 1] === 'b' && objectPath[i + 3] === 'o',
    );
    if (copyAt > 0 && objectPath.length > copyAt + 4) {
      const source = { bucket, name: objectPath.slice(0, copyAt).join('/') };
      const destination = { bucket: objectPath[copyAt + 2]!, name: objectPath.slice(copyAt + 4).join('/') };
      return copyObject(ctx, source, destination, objectPath[copyAt] === 'rewriteTo' ? 'rewrite' : 'copy');
    }
    if (objectPath.length > 1 && objectPath[objectPath.length - 1] === 'compose') {
      return composeObject(ctx, bucket, objectPath.slice(0, -1).join('/'));
    }
    throw notFoundRoute();
  }
  // Official clients encode `/` in names; a raw `/` is accepted as part of the name too.
  const name = objectPath.join('/');
  if (method === 'GET') {
    return ctx.query.get('alt') === 'media'
      ? handleDownload(ctx, bucket, name)
      : getObjectMetadata(ctx, bucket, name);
  }
  if (method === 'PATCH') return updateObjectMetadata(ctx, bucket, name, 'merge');
  if (method === 'PUT') return updateObjectMetadata(ctx, bucket, name, 'replace');
  if (method === 'DELETE') return deleteObject(ctx, bucket, name);
  throw notFoundRoute();
}
