// The emulator's way to Cloud Storage (our GCS emulator, or any JSON API server): list, download, upload.
import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errorFor, invalid, notFound } from './api-error.js';

export interface GcsUri {
  readonly bucket: string;
  readonly name: string;
}

export function parseGcsUri(uri: string): GcsUri {
  const m = /^gs:\/\/([^/]+)\/(.+)$/.exec(uri);
  if (!m || m[1] === undefined || m[2] === undefined)
    throw invalid(`Invalid URI: ${uri}. URIs must start with gs://`);
  return { bucket: m[1], name: m[2] };
}

export interface StoredObject {
  readonly name: string;
  readonly size: number;
}

export class StorageClient {
  constructor(private readonly baseUrl: string) {}

  /** All objects under `prefix`, following pages. */
  async list(bucket: string, prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let pageToken: string | undefined;
    do {
      const params = new URLSearchParams({ prefix, maxResults: '1000' });
      if (pageToken) params.set('pageToken', pageToken);
      const res = await fetch(
        `${this.baseUrl}/storage/v1/b/${encodeURIComponent(bucket)}/o?${params.toString()}`,
      );
      if (res.status === 404) throw notFound(`Not found: Bucket ${bucket}`);
      if (!res.ok) throw storageError(res.status, `listing gs://${bucket}/${prefix}`);
      const body = (await res.json()) as { items?: { name: string; size: string }[]; nextPageToken?: string };
      for (const item of body.items ?? []) out.push({ name: item.name, size: Number(item.size) });
      pageToken = body.nextPageToken;
    } while (pageToken);
    return out;
  }

  async download(uri: GcsUri, path: string): Promise<number> {
    const res = await fetch(
      `${this.baseUrl}/storage/v1/b/${encodeURIComponent(uri.bucket)}/o/${encodeURIComponent(uri.name)}?alt=media`,
    );
    if (res.status === 404) throw notFound(`Not found: URI gs://${uri.bucket}/${uri.name}`);
    if (!res.ok || !res.body) throw storageError(res.status, `reading gs://${uri.bucket}/${uri.name}`);
    await pipeline(Readable.fromWeb(res.body), createWriteStream(path));
    return (await stat(path)).size;
  }

  /** Streams a local file into an object (one media upload: the file never sits in memory). */
  async upload(uri: GcsUri, path: string, contentType: string): Promise<void> {
    const size = (await stat(path)).size;
    const url = new URL(`${this.baseUrl}/upload/storage/v1/b/${encodeURIComponent(uri.bucket)}/o`);
    url.searchParams.set('uploadType', 'media');
    url.searchParams.set('name', uri.name);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', headers: { 'content-type': contentType, 'content-length': size } },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      createReadStream(path).on('error', reject).pipe(req);
    });
    if (status === 404) throw notFound(`Not found: Bucket ${uri.bucket}`);
    if (status < 200 || status >= 300) throw storageError(status, `writing gs://${uri.bucket}/${uri.name}`);
  }
}

function storageError(status: number, what: string) {
  return status >= 500
    ? errorFor('backendError', `Cloud Storage answered ${status} while ${what}.`)
    : errorFor('invalid', `Cloud Storage answered ${status} while ${what}.`);
}

/** Matches object names against a URI with `*` wildcards (BigQuery allows one per URI; `*` may span `/`). */
export function wildcardMatcher(name: string): { prefix: string; matches: (candidate: string) => boolean } {
  const star = name.indexOf('*');
  if (star < 0) return { prefix: name, matches: (c) => c === name };
  const pattern = new RegExp(
    `^${name
      .split('*')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    's',
  );
  return { prefix: name.slice(0, star), matches: (c) => pattern.test(c) };
}
