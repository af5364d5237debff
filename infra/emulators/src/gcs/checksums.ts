import { createHash, type Hash } from 'node:crypto';
import { open } from 'node:fs/promises';

// CRC32C lives in @bqbr/shared (the services' Cloud Storage client validates downloads with it too).
import { Crc32c, crc32cToBase64 } from '@bqbr/shared';

export { Crc32c, crc32cToBase64 };

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
