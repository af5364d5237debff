import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { crc32c as referenceCrc32c } from '@aws-crypto/crc32c';
import { Crc32c } from '../src/gcs/checksums.js';
import { globToRegExp } from '../src/gcs/glob.js';
import { multipartBoundary, readMultipartUpload } from '../src/gcs/multipart.js';
import { compareNames, ObjectIndex } from '../src/gcs/object-index.js';

describe('GCS emulator internals', () => {
  describe('Crc32c', () => {
    it('matches @aws-crypto/crc32c on the standard check value and on random data fed in pieces', () => {
      expect(new Crc32c().update(Buffer.from('123456789')).digest()).to.equal(0xe3069283);
      for (const size of [0, 1, 7, 8, 9, 63, 1000, 65_537]) {
        const data = randomBytes(size);
        const crc = new Crc32c();
        for (let i = 0; i < size; i += 13) crc.update(data.subarray(i, i + 13));
        expect(crc.digest()).to.equal(referenceCrc32c(data) >>> 0);
      }
    });
  });

  describe('globToRegExp', () => {
    const matches = (glob: string, name: string): boolean => globToRegExp(glob).test(name);

    it('implements the GCS glob syntax', () => {
      expect(matches('a/*.txt', 'a/b.txt')).to.be.true;
      expect(matches('a/*.txt', 'a/b/c.txt')).to.be.false;
      expect(matches('a/**.txt', 'a/b/c.txt')).to.be.true;
      expect(matches('a/**/c.txt', 'a/c.txt')).to.be.true;
      expect(matches('a/**/c.txt', 'a/x/y/c.txt')).to.be.true;
      expect(matches('file-?.csv', 'file-1.csv')).to.be.true;
      expect(matches('file-?.csv', 'file-12.csv')).to.be.false;
      expect(matches('[abc]x', 'bx')).to.be.true;
      expect(matches('[!abc]x', 'bx')).to.be.false;
      expect(matches('[a-c]x', 'dx')).to.be.false;
      expect(matches('*.{json,avro}', 'x.avro')).to.be.true;
      expect(matches('*.{json,avro}', 'x.csv')).to.be.false;
      expect(matches('a.b(c)+', 'a.b(c)+')).to.be.true;
      expect(matches('a.b', 'axb')).to.be.false;
      expect(() => globToRegExp('{a,b')).to.throw('unbalanced');
    });
  });

  describe('ObjectIndex', () => {
    const index = (names: string[]): ObjectIndex<{ name: string }> => {
      const idx = new ObjectIndex<{ name: string }>();
      idx.load(names.map((name) => ({ name })));
      return idx;
    };
    const base = { prefix: '', includeTrailingDelimiter: false, maxResults: 1000 };

    it('orders names by code point, as GCS does (UTF-8 byte order)', () => {
      const names = ['\u{1F600}', '\uFFFD', 'b', 'a', 'ab'];
      expect([...names].sort(compareNames)).to.deep.equal(['a', 'ab', 'b', '\uFFFD', '\u{1F600}']);
    });

    it('pages through items and prefixes without repeating or losing any', () => {
      const idx = index(['a/1', 'a/2', 'b', 'c/1', 'c/2', 'c/3', 'd', 'e/x/1']);
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = idx.list({ ...base, delimiter: '/', maxResults: 2, ...(cursor ? { cursor } : {}) });
        seen.push(...page.prefixes, ...page.items.map((i) => i.name));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      expect(seen.sort()).to.deep.equal(['a/', 'b', 'c/', 'd', 'e/']);
      expect(pages).to.equal(3);
    });

    it('keeps its order through inserts and deletes', () => {
      const idx = index([]);
      for (const name of ['m', 'c', 'x', 'a', 'c']) idx.set({ name });
      idx.delete('x');
      expect(idx.list(base).items.map((i) => i.name)).to.deep.equal(['a', 'c', 'm']);
      expect(idx.size).to.equal(3);
    });

    it('reports a prefix only when an object under it matches the glob', () => {
      const idx = index(['a/x.csv', 'b/y.json', 'c.json']);
      const page = idx.list({ ...base, delimiter: '/', glob: globToRegExp('**.json') });
      expect(page.prefixes).to.deep.equal(['b/']);
      expect(page.items.map((i) => i.name)).to.deep.equal(['c.json']);
    });
  });

  describe('readMultipartUpload', () => {
    const boundary = 'b0undary';
    const media = randomBytes(5000);
    const body = Buffer.concat([
      Buffer.from(
        `--${boundary}\r\nContent-Type: application/json\r\n\r\n{"name":"n","contentType":"x/y"}\r\n`,
      ),
      Buffer.from(`--${boundary}\r\nContent-Type: application/octet-stream\r\n\r\n`),
      media,
      Buffer.from(`\r\n--${boundary}--`),
    ]);

    async function parse(
      pieces: Buffer[],
    ): Promise<{ metadata: Record<string, unknown>; media: Buffer; type?: string }> {
      const upload = await readMultipartUpload(Readable.from(pieces), boundary);
      const out: Buffer[] = [];
      for await (const chunk of upload.media) out.push(chunk);
      return { metadata: upload.metadata, media: Buffer.concat(out), type: upload.mediaContentType };
    }

    it('parses the body however it is split into chunks', async () => {
      for (let cut = 1; cut < body.length; cut += 97) {
        const parsed = await parse([body.subarray(0, cut), body.subarray(cut)]);
        expect(parsed.metadata).to.deep.equal({ name: 'n', contentType: 'x/y' });
        expect(parsed.type).to.equal('application/octet-stream');
        expect(parsed.media.equals(media)).to.be.true;
      }
      const byteByByte = await parse([...body].map((b) => Buffer.from([b])));
      expect(byteByByte.media.equals(media)).to.be.true;
    });

    it("parses gcloud's form: bare LF line breaks and a single-quoted boundary", async () => {
      // As Python's email package writes it (captured from `gcloud storage cp`).
      const pythonBoundary = '===============8767636896429491818==';
      const pythonBody = Buffer.from(
        [
          `--${pythonBoundary}`,
          'Content-Type: application/json',
          'MIME-Version: 1.0',
          '',
          '{"bucket": "b", "contentType": "text/plain", "name": "x/hi.txt"}',
          `--${pythonBoundary}`,
          'Content-Type: text/plain',
          'MIME-Version: 1.0',
          'Content-Transfer-Encoding: binary',
          '',
          'hi\n',
          `--${pythonBoundary}--`,
        ].join('\n'),
      );
      const found = multipartBoundary(`multipart/related; boundary='${pythonBoundary}'`);
      expect(found).to.equal(pythonBoundary);
      const upload = await readMultipartUpload(Readable.from([pythonBody]), found!);
      const out: Buffer[] = [];
      for await (const chunk of upload.media) out.push(chunk);
      expect(upload.metadata).to.deep.equal({ bucket: 'b', contentType: 'text/plain', name: 'x/hi.txt' });
      expect(upload.mediaContentType).to.equal('text/plain');
      expect(Buffer.concat(out).toString()).to.equal('hi\n');
    });

    it('refuses a body that never reaches its first boundary without buffering all of it', async () => {
      const pieces = Array.from({ length: 64 }, () => Buffer.alloc(16 * 1024, 'x'));
      let error: unknown;
      try {
        await parse(pieces);
      } catch (err) {
        error = err;
      }
      expect(error).to.have.property('status', 400);
      expect(error).to.have.property('message', 'Multipart part is too large.');
    });

    it('rejects a body cut before its closing boundary', async () => {
      let error: unknown;
      try {
        await parse([body.subarray(0, body.length - 20)]);
      } catch (err) {
        error = err;
      }
      expect(error).to.have.property('status', 400);
    });
  });
});
