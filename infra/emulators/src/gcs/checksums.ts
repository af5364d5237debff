import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

// Slicing-by-8 tables for CRC32C (Castagnoli, reflected polynomial 0x82f63b78). A table-per-byte
// implementation (e.g. @aws-crypto/crc32c) runs at ~70 MB/s here; this one at ~850 MB/s, which keeps
// a 2 GB upload bound by the disk and the network rather than by the checksum.
const TABLES = buildTables();

function buildTables(): Int32Array {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t[n]!;
    for (let s = 1; s < 8; s++) {
      c = t[c & 0xff]! ^ (c >>> 8);
      t[s * 256 + n] = c;
    }
  }
  return t;
}

/** Incremental CRC32C. */
export class Crc32c {
  private state = ~0;

  update(buf: Uint8Array): this {
    const t = TABLES;
    let c = this.state;
    let i = 0;
    const len = buf.length;
    const end8 = len - (len & 7);
    while (i < end8) {
      const a = (buf[i]! | (buf[i + 1]! << 8) | (buf[i + 2]! << 16) | (buf[i + 3]! << 24)) ^ c;
      c =
        t[1792 + (a & 0xff)]! ^
        t[1536 + ((a >>> 8) & 0xff)]! ^
        t[1280 + ((a >>> 16) & 0xff)]! ^
        t[1024 + (a >>> 24)]! ^
        t[768 + buf[i + 4]!]! ^
        t[512 + buf[i + 5]!]! ^
        t[256 + buf[i + 6]!]! ^
        t[buf[i + 7]!]!;
      i += 8;
    }
    while (i < len) c = t[(c ^ buf[i++]!) & 0xff]! ^ (c >>> 8);
    this.state = c;
    return this;
  }

  digest(): number {
    return ~this.state >>> 0;
  }
}

/** GCS reports CRC32C as the base64 of the big-endian uint32. */
export function crc32cToBase64(value: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(value);
  return b.toString('base64');
}

export interface ObjectHashes {
  readonly size: number;
  readonly crc32c: string;
  /** Absent for composite objects, as in GCS. */
  readonly md5Hash?: string;
}

/** MD5 + CRC32C + byte count of a stream of chunks, computed as the bytes go by. */
export class ObjectHasher {
  private readonly md5: Hash | undefined;
  private readonly crc = new Crc32c();
  size = 0;

  constructor(options: { md5?: boolean } = {}) {
    this.md5 = options.md5 === false ? undefined : createHash('md5');
  }

  update(chunk: Uint8Array): void {
    this.md5?.update(chunk);
    this.crc.update(chunk);
    this.size += chunk.length;
  }

  /** Finishes the hashes; the hasher cannot be updated afterwards. */
  result(): ObjectHashes {
    const crc32c = crc32cToBase64(this.crc.digest());
    return this.md5
      ? { size: this.size, crc32c, md5Hash: this.md5.digest('base64') }
      : { size: this.size, crc32c };
  }
}

/** Rebuilds a hasher over the first `length` bytes of a file (a resumable session after a restart). */
export async function hashFilePrefix(path: string, length: number): Promise<ObjectHasher> {
  const hasher = new ObjectHasher();
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(1 << 20);
    while (hasher.size < length) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, length - hasher.size), hasher.size);
      if (bytesRead === 0) break;
      hasher.update(buf.subarray(0, bytesRead));
    }
  } finally {
    await fh.close();
  }
  return hasher;
}
