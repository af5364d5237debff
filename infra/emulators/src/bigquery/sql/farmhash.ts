// FarmHash Fingerprint64 (farmhashna::Hash64 from github.com/google/farmhash), the function behind
// BigQuery's FARM_FINGERPRINT, so fingerprints computed here match the real service's values.
// 64-bit arithmetic wraps modulo 2^64, done with BigInt.

const MASK = (1n << 64n) - 1n;
const K0 = 0xc3a5c85c97cb3127n;
const K1 = 0xb492b66fbe98f273n;
const K2 = 0x9ae16a3b2f90404fn;

const u64 = (x: bigint): bigint => x & MASK;
const mul = (a: bigint, b: bigint): bigint => (a * b) & MASK;
const add = (...xs: bigint[]): bigint => xs.reduce((s, x) => s + x, 0n) & MASK;
const rotr = (x: bigint, shift: bigint): bigint =>
  shift === 0n ? x : ((x >> shift) | (x << (64n - shift))) & MASK;
const shiftMix = (x: bigint): bigint => x ^ (x >> 47n);

function hashLen16(u: bigint, v: bigint, m: bigint): bigint {
  let a = mul(u ^ v, m);
  a ^= a >> 47n;
  let b = mul(v ^ a, m);
  b ^= b >> 47n;
  return mul(b, m);
}

class Reader {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  u64(at: number): bigint {
    return this.view.getBigUint64(at, true);
  }
  u32(at: number): bigint {
    return BigInt(this.view.getUint32(at, true));
  }
  u8(at: number): bigint {
    return BigInt(this.bytes[at] ?? 0);
  }
}

function len0to16(r: Reader, len: number): bigint {
  const n = BigInt(len);
  if (len >= 8) {
    const m = add(K2, n * 2n);
    const a = add(r.u64(0), K2);
    const b = r.u64(len - 8);
    const c = add(mul(rotr(b, 37n), m), a);
    const d = mul(add(rotr(a, 25n), b), m);
    return hashLen16(c, d, m);
  }
  if (len >= 4) {
    const m = add(K2, n * 2n);
    return hashLen16(u64(n + (r.u32(0) << 3n)), r.u32(len - 4), m);
  }
  if (len > 0) {
    const y = r.u8(0) + (r.u8(len >> 1) << 8n);
    const z = n + (r.u8(len - 1) << 2n);
    return mul(shiftMix(mul(y, K2) ^ mul(z, K0)), K2);
  }
  return K2;
}

function len17to32(r: Reader, len: number): bigint {
  const m = add(K2, BigInt(len) * 2n);
  const a = mul(r.u64(0), K1);
  const b = r.u64(8);
  const c = mul(r.u64(len - 8), m);
  const d = mul(r.u64(len - 16), K2);
  return hashLen16(add(rotr(add(a, b), 43n), rotr(c, 30n), d), add(a, rotr(add(b, K2), 18n), c), m);
}

function len33to64(r: Reader, len: number): bigint {
  const m = add(K2, BigInt(len) * 2n);
  const a = mul(r.u64(0), K2);
  const b = r.u64(8);
  const c = mul(r.u64(len - 8), m);
  const d = mul(r.u64(len - 16), K2);
  const y = add(rotr(add(a, b), 43n), rotr(c, 30n), d);
  const z = hashLen16(y, add(a, rotr(add(b, K2), 18n), c), m);
  const e = mul(r.u64(16), m);
  const f = r.u64(24);
  const g = mul(add(y, r.u64(len - 32)), m);
  const h = mul(add(z, r.u64(len - 24)), m);
  return hashLen16(add(rotr(add(e, f), 43n), rotr(g, 30n), h), add(e, rotr(add(f, a), 18n), g), m);
}

/** Two 64-bit halves from 32 bytes at `at` and two seeds. */
function weak32(r: Reader, at: number, seedA: bigint, seedB: bigint): [bigint, bigint] {
  const w = r.u64(at);
  const x = r.u64(at + 8);
  const y = r.u64(at + 16);
  const z = r.u64(at + 24);
  let a = add(seedA, w);
  let b = rotr(add(seedB, a, z), 21n);
  const c = a;
  a = add(a, x, y);
  b = add(b, rotr(a, 44n));
  return [add(a, z), add(b, c)];
}

/** Fingerprint64 of `bytes` as an unsigned 64-bit value. */
export function fingerprint64(bytes: Uint8Array): bigint {
  const r = new Reader(bytes);
  const len = bytes.length;
  if (len <= 16) return len0to16(r, len);
  if (len <= 32) return len17to32(r, len);
  if (len <= 64) return len33to64(r, len);

  const seed = 81n;
  let x = seed;
  let y = add(seed * K1, 113n);
  let z = mul(shiftMix(add(mul(y, K2), 113n)), K2);
  let v: [bigint, bigint] = [0n, 0n];
  let w: [bigint, bigint] = [0n, 0n];
  x = add(mul(x, K2), r.u64(0));
  const end = Math.floor((len - 1) / 64) * 64;
  const last64 = len - 64;
  let s = 0;
  do {
    x = mul(rotr(add(x, y, v[0], r.u64(s + 8)), 37n), K1);
    y = mul(rotr(add(y, v[1], r.u64(s + 48)), 42n), K1);
    x ^= w[1];
    y = add(y, v[0], r.u64(s + 40));
    z = mul(rotr(add(z, w[0]), 33n), K1);
    v = weak32(r, s, mul(v[1], K1), add(x, w[0]));
    w = weak32(r, s + 32, add(z, w[1]), add(y, r.u64(s + 16)));
    [z, x] = [x, z];
    s += 64;
  } while (s !== end);
  const m = add(K1, (z & 0xffn) << 1n);
  s = last64;
  w[0] = add(w[0], BigInt((len - 1) & 63));
  v[0] = add(v[0], w[0]);
  w[0] = add(w[0], v[0]);
  x = mul(rotr(add(x, y, v[0], r.u64(s + 8)), 37n), m);
  y = mul(rotr(add(y, v[1], r.u64(s + 48)), 42n), m);
  x ^= mul(w[1], 9n);
  y = add(y, mul(v[0], 9n), r.u64(s + 40));
  z = mul(rotr(add(z, w[0]), 33n), m);
  v = weak32(r, s, mul(v[1], m), add(x, w[0]));
  w = weak32(r, s + 32, add(z, w[1]), add(y, r.u64(s + 16)));
  [z, x] = [x, z];
  return hashLen16(
    add(hashLen16(v[0], w[0], m), mul(shiftMix(y), K0), z),
    add(hashLen16(v[1], w[1], m), x),
    m,
  );
}

/** BigQuery's FARM_FINGERPRINT: the fingerprint of the UTF-8 bytes (or the BYTES), as a signed INT64. */
export function farmFingerprint(value: string | Uint8Array): bigint {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value;
  return BigInt.asIntN(64, fingerprint64(bytes));
}
