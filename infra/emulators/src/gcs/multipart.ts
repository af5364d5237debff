import { invalid, parseError } from './errors.js';

/** A `multipart/related` upload: the JSON metadata part, read whole, and the media part, streamed. */
export interface MultipartUpload {
  readonly metadata: Record<string, unknown>;
  readonly mediaContentType?: string;
  /** The media bytes; must be consumed to the end (it also checks the closing boundary). */
  readonly media: AsyncIterable<Buffer>;
}

const MAX_METADATA_PART = 1024 * 1024;
const MAX_PART_HEADERS = 16 * 1024;
// Clients send no preamble; a body without the boundary must not be buffered whole.
const MAX_PREAMBLE = 64 * 1024;

export function multipartBoundary(contentType: string | undefined): string | undefined {
  // Python's email package (gcloud) quotes the boundary with single quotes.
  const match = /;\s*boundary=(?:"([^"]+)"|'([^']+)'|([^\s;]+))/i.exec(contentType ?? '');
  return match?.[1] ?? match?.[2] ?? match?.[3];
}

/** Parses the body of a multipart upload without buffering the media part. */
export async function readMultipartUpload(
  body: AsyncIterable<Buffer>,
  boundary: string,
): Promise<MultipartUpload> {
  // Every delimiter is a line break + "--" + boundary; a leading LF lets the first one match too.
  const scanner = new DelimitedScanner(body[Symbol.asyncIterator](), Buffer.from('\n'));
  await scanner.readUntil(Buffer.from(`\n--${boundary}`), MAX_PREAMBLE);
  // RFC 2046 says CRLF, but Python's email package (gcloud, gsutil) writes bare LF and GCS takes both.
  const eol = (await scanner.peek(1)).toString('latin1') === '\r' ? '\r\n' : '\n';
  const delimiter = Buffer.from(`${eol}--${boundary}`);
  const first = await readPartHeaders(scanner, eol);
  if (!first) throw invalid('Multipart upload is missing its metadata part.');
  const metadataText = (await scanner.readUntil(delimiter, MAX_METADATA_PART)).toString('utf8');
  let metadata: unknown;
  try {
    metadata = metadataText.trim() === '' ? {} : JSON.parse(metadataText);
  } catch {
    throw parseError();
  }
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw invalid('The metadata part of a multipart upload must be a JSON object.');
  }
  const second = await readPartHeaders(scanner, eol);
  if (!second) throw invalid('Multipart upload is missing its media part.');
  const media = (async function* () {
    yield* scanner.streamUntil(delimiter);
    // What follows the media part must be the closing delimiter ("--"); the epilogue is ignored.
    const rest = await scanner.readAtLeast(2);
    if (rest.toString('latin1') !== '--') throw invalid('Multipart upload must have exactly two parts.');
    await scanner.discardRest();
  })();
  return { metadata: metadata as Record<string, unknown>, mediaContentType: second['content-type'], media };
}

/** After a delimiter: "--" ends the body (no part), otherwise a line break, headers, an empty line. */
async function readPartHeaders(
  scanner: DelimitedScanner,
  eol: string,
): Promise<Record<string, string> | undefined> {
  const lead = await scanner.readAtLeast(2);
  if (lead.toString('latin1') === '--') return undefined;
  const headerBlock = Buffer.concat([
    lead,
    await scanner.readUntil(Buffer.from(eol + eol), MAX_PART_HEADERS),
  ]);
  const headers: Record<string, string> = {};
  for (const line of headerBlock.toString('latin1').split(eol)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}

/** A byte stream read up to delimiters, keeping only a delimiter's length of look-ahead in memory. */
class DelimitedScanner {
  private buffered: Buffer;
  private ended = false;

  constructor(
    private readonly source: AsyncIterator<Buffer>,
    initial: Buffer,
  ) {
    this.buffered = initial;
  }

  private async fill(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.source.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    this.buffered = this.buffered.length === 0 ? next.value : Buffer.concat([this.buffered, next.value]);
    return true;
  }

  /** Returns the bytes before `delimiter` and consumes the delimiter. */
  async readUntil(delimiter: Buffer, limit: number): Promise<Buffer> {
    let searchFrom = 0;
    for (;;) {
      const at = this.buffered.indexOf(delimiter, searchFrom);
      if (at >= 0) {
        const out = this.buffered.subarray(0, at);
        this.buffered = this.buffered.subarray(at + delimiter.length);
        return out;
      }
      if (this.buffered.length > limit) throw invalid('Multipart part is too large.');
      searchFrom = Math.max(0, this.buffered.length - delimiter.length + 1);
      if (!(await this.fill())) throw invalid('Multipart body ended before its closing boundary.');
    }
  }

  /** Yields the bytes before `delimiter` as they arrive and consumes the delimiter. */
  async *streamUntil(delimiter: Buffer): AsyncGenerator<Buffer> {
    for (;;) {
      const at = this.buffered.indexOf(delimiter);
      if (at >= 0) {
        if (at > 0) yield this.buffered.subarray(0, at);
        this.buffered = this.buffered.subarray(at + delimiter.length);
        return;
      }
      // Keep back what could be the start of a delimiter split across chunks.
      const safe = this.buffered.length - (delimiter.length - 1);
      if (safe > 0) {
        yield this.buffered.subarray(0, safe);
        this.buffered = this.buffered.subarray(safe);
      }
      if (!(await this.fill())) throw invalid('Multipart body ended before its closing boundary.');
    }
  }

  /** The next `n` bytes, left in place. */
  async peek(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (!(await this.fill())) throw invalid('Multipart body ended before its closing boundary.');
    }
    return this.buffered.subarray(0, n);
  }

  async readAtLeast(n: number): Promise<Buffer> {
    while (this.buffered.length < n) {
      if (!(await this.fill())) throw invalid('Multipart body ended before its closing boundary.');
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return out;
  }

  async discardRest(): Promise<void> {
    this.buffered = Buffer.alloc(0);
    while (await this.fill()) this.buffered = Buffer.alloc(0);
  }
}
