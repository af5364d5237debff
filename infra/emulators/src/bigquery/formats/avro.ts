// Avro object container files for extract and load jobs. The binary encoding is done here rather than
// through a generic Avro library: values go straight from DuckDB's rows to bytes and back to the
// canonical text form, longs keep all 64 bits (bigint past 2^53) and decimals all their digits.
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { invalid, type ErrorProto } from '../api-error.js';
import { streamRows } from '../engine.js';
import { duckTextType, duckType, isRepeated, quoteIdent, quoteString, type FieldSchema } from '../schema.js';
import {
  badTextLeaf,
  badValueSql,
  fromTextSql,
  selectListSql,
  toTextLeaf,
  type LeafSql,
} from '../value-sql.js';
import {
  avroSchemaFor,
  bigQueryFieldsFromAvro,
  decimalShape,
  nonNullBranches,
  resolveAvroSchema,
  unionBranchName,
  leafType,
  type AvroNode,
  type AvroRecordNode,
  type Logical,
} from './avro-schema.js';
import type { Compression, FileReader, FileWriter, LoadedRows } from './types.js';

export { avroSchemaFor, bigQueryFieldsFromAvro, resolveAvroSchema } from './avro-schema.js';

/** snappyjs (pure JS, no types): Snappy blocks, answered in the input's type. */
const snappy = createRequire(import.meta.url)('snappyjs') as {
  compress(input: Buffer): Buffer;
  uncompress(input: Buffer): Buffer;
};

const MAGIC = Buffer.from('Obj\x01', 'latin1');
/** Uncompressed bytes per block before it is flushed. */
const BLOCK_SIZE = 256 * 1024;
const deflateRaw = promisify(zlib.deflateRaw);
const inflateRaw = promisify(zlib.inflateRaw);

// ---- Binary encoding ----

/** A growable buffer that Avro values are appended to. */
class ByteWriter {
  buf = Buffer.allocUnsafe(BLOCK_SIZE * 2);
  pos = 0;

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** An unsigned varint of a non-negative integer below 2^53. */
  varint(z: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (z >= 0x80) {
      buf[pos++] = (z % 0x80) | 0x80;
      z = Math.floor(z / 0x80);
    }
    buf[pos++] = z;
    this.pos = pos;
  }

  /** A zig-zag long: from a JS number, a bigint, or the decimal text DuckDB gives for BIGINT. */
  long(v: number | bigint | string): void {
    if (typeof v === 'string') v = v.length <= 15 ? Number(v) : BigInt(v);
    if (typeof v === 'number' && Math.abs(v) < 2 ** 52) {
      this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
      return;
    }
    let z = BigInt(v);
    z = z >= 0n ? z << 1n : (-z << 1n) - 1n;
    this.ensure(10);
    while (z >= 0x80n) {
      this.buf[this.pos++] = Number(z & 0x7fn) | 0x80;
      z >>= 7n;
    }
    this.buf[this.pos++] = Number(z);
  }

  double(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.varint(b.length * 2);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  string(s: string): void {
    const len = Buffer.byteLength(s, 'utf8');
    this.varint(len * 2);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'utf8');
  }

  /** Bytes given as base64 text, decoded straight into the buffer. */
  base64(s: string): void {
    const len = Buffer.byteLength(s, 'base64');
    this.varint(len * 2);
    this.ensure(len);
    this.pos += this.buf.write(s, this.pos, len, 'base64');
  }

  /** The bytes written so far (a copy); the writer starts over. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.pos));
    this.pos = 0;
    return out;
  }
}

/** Thrown by container-level reads that run past the bytes read so far: wait for more. */
const INCOMPLETE = new Error('incomplete Avro data');

class ByteReader {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}

  get exhausted(): boolean {
    return this.pos > this.buf.length;
  }

  /** A zig-zag long: a number when it is safe, else a bigint. */
  long(): number | bigint {
    const buf = this.buf;
    let pos = this.pos;
    let b = buf[pos++] ?? 0;
    let n = b & 0x7f;
    let mul = 0x80;
    let count = 1;
    while (b & 0x80 && count < 7) {
      b = buf[pos++] ?? 0;
      n += (b & 0x7f) * mul;
      mul *= 0x80;
      count++;
    }
    if (!(b & 0x80)) {
      this.pos = pos;
      return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
    }
    let big = BigInt(n);
    let shift = 49n;
    do {
      b = buf[pos++] ?? 0;
      big |= BigInt(b & 0x7f) << shift;
      shift += 7n;
    } while (b & 0x80 && shift < 70n);
    this.pos = pos;
    const v = BigInt.asIntN(64, (big >> 1n) ^ -(big & 1n));
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  }

  /** A long used as a count or length. */
  count(): number {
    const v = this.long();
    if (typeof v !== 'number') throw corrupt('a length is out of range');
    return v;
  }

  float(): number {
    const v = this.buf.readFloatLE(this.pos);
    this.pos += 4;
    return v;
  }

  double(): number {
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  boolean(): boolean {
    return this.buf[this.pos++] === 1;
  }

  fixed(size: number): Buffer {
    const start = this.pos;
    this.pos += size;
    if (this.pos > this.buf.length) throw INCOMPLETE;
    return this.buf.subarray(start, this.pos);
  }

  bytes(): Buffer {
    const len = this.count();
    if (len < 0) throw corrupt('a negative length');
    return this.fixed(len);
  }

  string(): string {
    const len = this.count();
    if (len < 0) throw corrupt('a negative length');
    const start = this.pos;
    this.pos += len;
    if (this.pos > this.buf.length) throw INCOMPLETE;
    return this.buf.toString('utf8', start, this.pos);
  }

  /** A long of the container framing, which must be complete. */
  frameLong(): number {
    const start = this.pos;
    const v = this.count();
    if (this.pos > this.buf.length) {
      this.pos = start;
      throw INCOMPLETE;
    }
    return v;
  }
}

const corrupt = (detail: string) =>
  invalid(
    `Error while reading data, error message: The Apache Avro library failed to read data with the following error: ${detail}`,
  );

// ---- Decimals and time values ----

/** The unscaled integer of decimal text at `scale` (extra fraction digits are dropped). */
export function unscaledDecimal(text: string, scale: number): bigint {
  const negative = text.startsWith('-');
  const t = negative || text.startsWith('+') ? text.slice(1) : text;
  const dot = t.indexOf('.');
  const whole = dot < 0 ? t : t.slice(0, dot);
  const fraction = dot < 0 ? '' : t.slice(dot + 1);
  const digits =
    (whole || '0') + (fraction.length > scale ? fraction.slice(0, scale) : fraction.padEnd(scale, '0'));
  const v = BigInt(digits);
  return negative ? -v : v;
}

/** Big-endian two's complement in as few bytes as hold the value (Avro's decimal encoding). */
export function twosComplement(v: bigint): Buffer {
  const magnitude = v >= 0n ? v : -v - 1n;
  const bits = magnitude.toString(2).length + 1;
  const size = Math.ceil(bits / 8);
  const raw = v >= 0n ? v : (1n << BigInt(size * 8)) + v;
  return Buffer.from(raw.toString(16).padStart(size * 2, '0'), 'hex');
}

export function fromTwosComplement(bytes: Uint8Array): bigint {
  if (bytes.length === 0) return 0n;
  const v = BigInt(`0x${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex')}`);
  return (bytes[0]! & 0x80) !== 0 ? v - (1n << BigInt(bytes.length * 8)) : v;
}

/** Decimal text of `unscaled / 10^scale`, without trailing fraction zeros. */
export function decimalText(unscaled: bigint, scale: number): string {
  const negative = unscaled < 0n;
  const digits = (negative ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const whole = digits.slice(0, digits.length - scale);
  const fraction = digits.slice(digits.length - scale).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');
/** Text that never parses, so a value out of BigQuery's range makes its row a bad record. */
const OUT_OF_RANGE = 'out of range';

/** Splits microseconds into whole milliseconds and the remaining microseconds (0-999). */
function splitMicros(us: number | bigint): [number, number] {
  if (typeof us === 'bigint') {
    let ms = us / 1000n;
    if (us < 0n && ms * 1000n !== us) ms -= 1n;
    return [Number(ms), Number(us - ms * 1000n)];
  }
  const ms = Math.floor(us / 1000);
  return [ms, us - ms * 1000];
}

function isoOf(ms: number): string | undefined {
  if (!(Math.abs(ms) <= 8.64e15)) return undefined;
  const iso = new Date(ms).toISOString();
  return /^\d{4}-/.test(iso) ? iso : undefined;
}

/** "2020-01-01 12:00:00.123456+00" (or with `T` and no zone for a DATETIME). */
function dateTimeText(us: number | bigint, zoned: boolean): string {
  const [ms, rest] = splitMicros(us);
  const iso = isoOf(ms);
  if (!iso) return OUT_OF_RANGE;
  return zoned
    ? `${iso.slice(0, 10)} ${iso.slice(11, 23)}${pad(rest, 3)}+00`
    : `${iso.slice(0, 10)}T${iso.slice(11, 23)}${pad(rest, 3)}`;
}

function dateText(days: number | bigint): string {
  const iso = isoOf(Number(days) * 86_400_000);
  return iso ? iso.slice(0, 10) : OUT_OF_RANGE;
}

function timeText(us: number | bigint): string {
  const v = Number(us);
  if (!(v >= 0 && v < 86_400_000_000)) return OUT_OF_RANGE;
  const seconds = Math.floor(v / 1e6);
  return `${pad(Math.floor(seconds / 3600), 2)}:${pad(Math.floor(seconds / 60) % 60, 2)}:${pad(seconds % 60, 2)}.${pad(v % 1e6, 6)}`;
}

const floatText = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

// ---- Container framing ----

type Codec = 'null' | 'deflate' | 'snappy';

function exportCodec(compression: Compression): Codec {
  switch (compression) {
    case 'NONE':
      return 'null';
    case 'DEFLATE':
      return 'deflate';
    case 'SNAPPY':
      return 'snappy';
    default:
      // https://cloud.google.com/bigquery/docs/exporting-data#avro_export_details: only DEFLATE and SNAPPY.
      throw invalid(`Unsupported compression type ${compression} for Avro. Use DEFLATE or SNAPPY.`);
  }
}

function snappyChecksum(data: Uint8Array): Buffer {
  const crc = Buffer.allocUnsafe(4);
  crc.writeUInt32BE(zlib.crc32(data) >>> 0);
  return crc;
}

async function compressBlock(codec: Codec, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'null':
      return data;
    case 'deflate':
      return deflateRaw(data);
    case 'snappy':
      // Avro's snappy codec: the Snappy block, then the CRC-32 of the uncompressed data, big-endian.
      return Buffer.concat([snappy.compress(data), snappyChecksum(data)]);
  }
}

async function decompressBlock(codec: string, data: Buffer): Promise<Buffer> {
  switch (codec) {
    case 'null':
      return data;
    case 'deflate':
      return inflateRaw(data);
    case 'snappy': {
      if (data.length < 4) throw corrupt('a snappy block is too short');
      let out: Buffer;
      try {
        out = snappy.uncompress(data.subarray(0, data.length - 4));
      } catch (err) {
        throw corrupt(`invalid snappy block (${(err as Error).message})`);
      }
      if (!snappyChecksum(out).equals(data.subarray(data.length - 4)))
        throw corrupt('snappy checksum mismatch');
      return out;
    }
    default:
      throw invalid(`Error while reading data, error message: Unsupported Avro codec: ${codec}`);
  }
}

function headerBytes(schema: object, codec: Codec, sync: Buffer): Buffer {
  const w = new ByteWriter();
  w.ensure(4);
  w.buf.set(MAGIC, 0);
  w.pos = 4;
  w.long(2);
  w.string('avro.schema');
  w.bytes(Buffer.from(JSON.stringify(schema), 'utf8'));
  w.string('avro.codec');
  w.bytes(Buffer.from(codec, 'utf8'));
  w.long(0);
  w.ensure(16);
  w.buf.set(sync, w.pos);
  w.pos += 16;
  return w.take();
}

function blockBytes(count: number, data: Buffer, sync: Buffer): Buffer {
  const w = new ByteWriter();
  w.long(count);
  w.long(data.length);
  return Buffer.concat([w.take(), data, sync]);
}

interface ContainerHeader {
  readonly schema: unknown;
  readonly codec: string;
  readonly sync: Buffer;
}

type ContainerPart =
  { kind: 'header'; header: ContainerHeader } | { kind: 'block'; count: number; data: Buffer };

function parseHeader(r: ByteReader): ContainerHeader {
  if (r.buf.length - r.pos >= 4 && !r.buf.subarray(r.pos, r.pos + 4).equals(MAGIC))
    throw invalid(
      'The Apache Avro library failed to parse the header with the following error: Invalid data file. Magic does not match.',
    );
  r.fixed(4);
  const meta = new Map<string, Buffer>();
  for (;;) {
    let n = r.frameLong();
    if (n === 0) break;
    if (n < 0) {
      n = -n;
      r.frameLong();
    }
    for (let i = 0; i < n; i++) {
      const key = r.string();
      meta.set(key, r.bytes());
    }
  }
  const sync = r.fixed(16);
  const schemaText = meta.get('avro.schema');
  if (!schemaText)
    throw invalid('The Apache Avro library failed to parse the header with the following error: no schema.');
  let schema: unknown;
  try {
    schema = JSON.parse(schemaText.toString('utf8'));
  } catch {
    throw invalid(
      'The Apache Avro library failed to parse the header with the following error: invalid schema JSON.',
    );
  }
  return { schema, codec: meta.get('avro.codec')?.toString('utf8') ?? 'null', sync: Buffer.from(sync) };
}

async function isGzip(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const head = Buffer.alloc(2);
    const { bytesRead } = await handle.read(head, 0, 2, 0);
    return bytesRead === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    await handle.close();
  }
}

/** The header, then each block (still compressed) of a container file read as a stream. */
async function* containerParts(path: string): AsyncGenerator<ContainerPart> {
  const file = createReadStream(path, { highWaterMark: 1 << 20 });
  const input: AsyncIterable<Buffer> = (await isGzip(path)) ? file.pipe(zlib.createGunzip()) : file;
  let pending: Buffer = Buffer.alloc(0);
  let header: ContainerHeader | undefined;
  for await (const chunk of input) {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      const r = new ByteReader(pending, pos);
      try {
        if (!header) {
          header = parseHeader(r);
          pos = r.pos;
          yield { kind: 'header', header };
          continue;
        }
        if (r.pos >= pending.length) break;
        const count = r.frameLong();
        const size = r.frameLong();
        if (count < 0 || size < 0) throw corrupt('a negative block size');
        const data = r.fixed(size);
        if (!r.fixed(16).equals(header.sync)) throw corrupt('the sync marker does not match');
        pos = r.pos;
        yield { kind: 'block', count, data };
      } catch (err) {
        if (err === INCOMPLETE) break;
        throw err;
      }
    }
    pending = pending.subarray(pos);
  }
  if (!header)
    throw invalid(
      'The Apache Avro library failed to parse the header with the following error: the file is empty.',
    );
  if (pending.length) throw corrupt('the file ends in the middle of a block');
}

/** The header of a container file: its writer schema and codec. */
export async function readAvroHeader(path: string): Promise<ContainerHeader> {
  for await (const part of containerParts(path)) if (part.kind === 'header') return part.header;
  throw new Error('unreachable');
}

// ---- Export ----

type Encode = (w: ByteWriter, value: unknown) => void;

/** How each leaf is selected for the Avro encoder: numbers where Avro wants numbers, text otherwise. */
const exportLeaf =
  (logical: boolean): LeafSql =>
  (field, expr) => {
    switch (field.type) {
      case 'BYTES':
        return `to_base64(${expr})`;
      case 'TIMESTAMP':
        return `epoch_us(${expr})`;
      case 'DATE':
        return logical ? `CAST(${expr} - DATE '1970-01-01' AS INTEGER)` : `CAST(${expr} AS VARCHAR)`;
      case 'TIME':
        return logical
          ? `epoch_us(DATE '1970-01-01' + ${expr})`
          : `regexp_replace(strftime(DATE '1970-01-01' + ${expr}, '%H:%M:%S.%f'), '\\.000000$', '')`;
      case 'DATETIME':
        return toTextLeaf(field, expr);
      case 'JSON':
      case 'NUMERIC':
        return `CAST(${expr} AS VARCHAR)`;
      default:
        // STRING, GEOGRAPHY, BIGNUMERIC (stored as text), INTEGER (BIGINT arrives as text), FLOAT, BOOLEAN.
        return expr;
    }
  };

function fieldEncoder(field: FieldSchema, logical: boolean): Encode {
  const value = valueEncoder(field, logical);
  if (isRepeated(field)) {
    return (w, v) => {
      const items = v as unknown[] | null;
      if (items && items.length) {
        w.long(items.length);
        for (const item of items) {
          if (item === null || item === undefined)
            throw invalid(`Array ${field.name} cannot have a null element.`);
          value(w, item);
        }
      }
      w.byte(0);
    };
  }
  if (field.mode === 'REQUIRED') {
    return (w, v) => {
      if (v === null || v === undefined) throw invalid(`Required field ${field.name} cannot be null.`);
      value(w, v);
    };
  }
  return (w, v) => {
    if (v === null || v === undefined) {
      w.byte(0);
    } else {
      w.byte(2);
      value(w, v);
    }
  };
}

function valueEncoder(field: FieldSchema, logical: boolean): Encode {
  switch (field.type) {
    case 'RECORD': {
      const names = (field.fields ?? []).map((f) => f.name);
      const encoders = (field.fields ?? []).map((f) => fieldEncoder(f, logical));
      return (w, v) => {
        const o = v as Record<string, unknown>;
        for (let i = 0; i < names.length; i++) encoders[i]!(w, o[names[i]!]);
      };
    }
    case 'BYTES':
      return (w, v) => w.base64(v as string);
    case 'INTEGER':
    case 'TIMESTAMP':
      return (w, v) => w.long(v as string | number);
    case 'DATE':
    case 'TIME':
      return logical ? (w, v) => w.long(v as string | number) : (w, v) => w.string(v as string);
    case 'FLOAT':
      return (w, v) => w.double(typeof v === 'number' ? v : Number(v));
    case 'BOOLEAN':
      return (w, v) => w.byte(v === true || v === 'true' ? 1 : 0);
    case 'NUMERIC':
    case 'BIGNUMERIC': {
      const { scale } = decimalShape(field);
      return (w, v) => w.bytes(twosComplement(unscaledDecimal(String(v), scale)));
    }
    default:
      // STRING, GEOGRAPHY, JSON, DATETIME: text.
      return (w, v) => w.string(String(v));
  }
}

/** Writes rows `[offset, offset+limit)` of the source table (rowid order) as one Avro container file. */
export const writeAvroFile: FileWriter = async (source, options, path, range) => {
  const logical = options.useAvroLogicalTypes;
  const codec = exportCodec(options.compression);
  const schema = avroSchemaFor(source.fields, { useAvroLogicalTypes: logical });
  const encoders = source.fields.map((f) => fieldEncoder(f, logical));
  const names = source.fields.map((f) => f.name);
  const sync = randomBytes(16);
  const handle = await open(path, 'w');
  let bytes = 0;
  let rows = 0;
  const write = async (buf: Buffer): Promise<void> => {
    for (let done = 0; done < buf.length;) done += (await handle.write(buf, done)).bytesWritten;
    bytes += buf.length;
  };
  try {
    await write(headerBytes(schema, codec, sync));
    if (source.fields.length > 0 && range.limit > 0) {
      const sql = `SELECT ${selectListSql(source.fields, exportLeaf(logical))} FROM ${quoteIdent(source.table)} ORDER BY rowid LIMIT ${range.limit} OFFSET ${range.offset}`;
      const w = new ByteWriter();
      let count = 0;
      const flush = async (): Promise<void> => {
        await write(blockBytes(count, await compressBlock(codec, w.take()), sync));
        rows += count;
        count = 0;
      };
      for await (const chunk of streamRows(source.connection, sql)) {
        for (const row of chunk) {
          for (let i = 0; i < names.length; i++) encoders[i]!(w, row[names[i]!]);
          count++;
        }
        if (w.pos >= BLOCK_SIZE) await flush();
      }
      if (count > 0) await flush();
    }
  } finally {
    await handle.close();
  }
  return { path, rows, bytes };
};

// ---- Load ----

type Read = (r: ByteReader) => unknown;

/** Collects data problems of the row being decoded (the bytes are still consumed). */
interface RowContext {
  error: string | undefined;
  readonly useAvroLogicalTypes: boolean;
  /** Records whose readers are being compiled: a reference back to one is compiled lazily. */
  readonly compiling: Set<AvroNode>;
}

function skipper(node: AvroNode): Read {
  switch (node.kind) {
    case 'null':
      return () => undefined;
    case 'boolean':
      return (r) => void r.pos++;
    case 'int':
    case 'long':
    case 'enum':
      return (r) => void r.long();
    case 'float':
      return (r) => void (r.pos += 4);
    case 'double':
      return (r) => void (r.pos += 8);
    case 'bytes':
    case 'string':
      return (r) => void r.bytes();
    case 'fixed':
      return (r) => void r.fixed(node.size);
    case 'array': {
      const item = lazy(() => skipper(node.items));
      return (r) => readBlocks(r, () => item()(r));
    }
    case 'map': {
      const value = lazy(() => skipper(node.values));
      return (r) =>
        readBlocks(r, () => {
          r.bytes();
          value()(r);
        });
    }
    case 'union': {
      const branches = node.branches.map((b) => lazy(() => skipper(b)));
      return (r) => branchOf(r, branches)()(r);
    }
    case 'record': {
      const fields = node.fields.map((f) => lazy(() => skipper(f.type)));
      return (r) => {
        for (const f of fields) f()(r);
      };
    }
  }
}

/** Defers compiling until first use, so recursive records do not recurse forever. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}

function branchOf<T>(r: ByteReader, branches: readonly T[]): T {
  const index = r.long();
  const branch = typeof index === 'number' ? branches[index] : undefined;
  if (branch === undefined) throw corrupt(`invalid union index ${String(index)}`);
  return branch;
}

/** Reads array or map blocks, calling `each` once per item. */
function readBlocks(r: ByteReader, each: () => void): void {
  for (;;) {
    let n = r.count();
    if (n === 0) return;
    if (n < 0) {
      n = -n;
      r.count();
    }
    for (let i = 0; i < n; i++) {
      each();
      if (r.exhausted) throw INCOMPLETE;
    }
  }
}

/** BigQuery's complaint when a schema given to the load does not fit the file's Avro type. */
function mismatch(field: FieldSchema, node: AvroNode): Error {
  const change =
    node.kind === 'array' || node.kind === 'map'
      ? `mode from ${field.mode ?? 'NULLABLE'} to REPEATED`
      : isRepeated(field)
        ? `mode from REPEATED to NULLABLE`
        : `type from ${field.type} to ${node.kind === 'record' ? 'RECORD' : node.kind.toUpperCase()}`;
  return invalid(`Provided Schema does not match the Avro data. Field ${field.name} has changed ${change}`);
}

const elementOf = (field: FieldSchema): FieldSchema => ({ ...field, mode: 'NULLABLE' });

/** Reads one Avro value of `node` into the canonical text form of `target`. */
function fieldReader(node: AvroNode, target: FieldSchema | undefined, ctx: RowContext): Read {
  if (!target) return skipper(node);
  const nullValue = isRepeated(target) ? [] : null;
  if (node.kind === 'union') {
    const nonNull = nonNullBranches(node);
    if (target.type === 'RECORD' && !isRepeated(target) && nonNull.length > 1)
      return unionRecordReader(node, target, ctx);
    const branches = node.branches.map((b) =>
      b.kind === 'null' ? () => nullValue : nonNullReader(b, target, ctx),
    );
    return (r) => branchOf(r, branches)(r);
  }
  return nonNullReader(node, target, ctx);
}

function nonNullReader(node: AvroNode, target: FieldSchema, ctx: RowContext): Read {
  if (!isRepeated(target)) return valueReader(node, target, ctx);
  const element = elementOf(target);
  if (node.kind === 'array') {
    const item = elementReader(node.items, element, ctx);
    return (r) => {
      const out: unknown[] = [];
      readBlocks(r, () => out.push(item(r)));
      return out;
    };
  }
  if (node.kind === 'map') {
    const keyField = target.fields?.find((f) => f.name.toLowerCase() === 'key');
    const valueField = target.fields?.find((f) => f.name.toLowerCase() === 'value');
    if (target.type !== 'RECORD' || !keyField) throw mismatch(target, node);
    const value = valueField ? fieldReader(node.values, valueField, ctx) : skipper(node.values);
    const others = (target.fields ?? []).filter((f) => f !== keyField && f !== valueField);
    return (r) => {
      const out: unknown[] = [];
      readBlocks(r, () => {
        const entry: Record<string, unknown> = { [keyField.name]: r.string() };
        const v = value(r);
        if (valueField) entry[valueField.name] = v;
        for (const f of others) entry[f.name] = isRepeated(f) ? [] : null;
        out.push(entry);
      });
      return out;
    };
  }
  throw mismatch(target, node);
}

function elementReader(node: AvroNode, element: FieldSchema, ctx: RowContext): Read {
  const read = fieldReader(node, element, ctx);
  return (r) => {
    const v = read(r);
    if (v === null) ctx.error ??= `Array ${element.name} cannot have a null element.`;
    return v;
  };
}

function unionRecordReader(
  node: Extract<AvroNode, { kind: 'union' }>,
  target: FieldSchema,
  ctx: RowContext,
): Read {
  const fields = target.fields ?? [];
  const branches = node.branches.map((b): Read => {
    if (b.kind === 'null') return () => null;
    const field = fields.find((f) => f.name.toLowerCase() === unionBranchName(b).toLowerCase());
    const read = fieldReader(b, field && elementOf(field), ctx);
    return (r) => {
      const out: Record<string, unknown> = {};
      for (const f of fields) out[f.name] = isRepeated(f) ? [] : null;
      const v = read(r);
      if (field) out[field.name] = isRepeated(field) ? [v] : v;
      return out;
    };
  });
  return (r) => branchOf(r, branches)(r);
}

/** A reader of an Avro record into an object keyed by the target's field names (matched case-insensitively). */
function recordReader(node: AvroRecordNode, targets: readonly FieldSchema[], ctx: RowContext): Read {
  const byName = new Map(targets.map((t) => [t.name.toLowerCase(), t]));
  const compile = (): Read[] => {
    ctx.compiling.add(node);
    try {
      return node.fields.map((f) => fieldReader(f.type, byName.get(f.name.toLowerCase()), ctx));
    } finally {
      ctx.compiling.delete(node);
    }
  };
  // Compiled now, so a schema mismatch fails the load before any row; lazily only for a recursive record.
  const readers = ctx.compiling.has(node)
    ? lazy(compile)
    : (
        (compiled) => () =>
          compiled
      )(compile());
  const names = node.fields.map((f) => byName.get(f.name.toLowerCase())?.name);
  const missing = targets.filter(
    (t) => !node.fields.some((f) => f.name.toLowerCase() === t.name.toLowerCase()),
  );
  return (r) => {
    const out: Record<string, unknown> = {};
    const rs = readers();
    for (let i = 0; i < rs.length; i++) {
      const v = rs[i]!(r);
      const name = names[i];
      if (name !== undefined) out[name] = v;
    }
    for (const t of missing) out[t.name] = isRepeated(t) ? [] : null;
    return out;
  };
}

function valueReader(node: AvroNode, target: FieldSchema, ctx: RowContext): Read {
  switch (node.kind) {
    case 'record':
      if (target.type !== 'RECORD') throw mismatch(target, node);
      return recordReader(node, target.fields ?? [], ctx);
    case 'union':
      return fieldReader(node, target, ctx);
    case 'array':
    case 'map':
    case 'null':
      throw mismatch(target, node);
    case 'enum': {
      if (target.type !== 'STRING') throw mismatch(target, node);
      const symbols = node.symbols;
      return (r) => symbols[r.count()] ?? null;
    }
    default: {
      if (target.type === 'RECORD') throw mismatch(target, node);
      const raw = rawReader(node);
      const text = leafText(node, target, ctx);
      return (r) => text(raw(r));
    }
  }
}

type Raw = number | bigint | string | boolean | Buffer;

function rawReader(node: AvroNode): (r: ByteReader) => Raw {
  switch (node.kind) {
    case 'boolean':
      return (r) => r.boolean();
    case 'int':
    case 'long':
      return (r) => r.long();
    case 'float':
      return (r) => r.float();
    case 'double':
      return (r) => r.double();
    case 'bytes':
      return (r) => r.bytes();
    case 'string':
      return (r) => r.string();
    case 'fixed':
      return (r) => r.fixed(node.size);
    default:
      throw new Error(`not a primitive: ${node.kind}`);
  }
}

/** A raw string, number or boolean as text, parsed (and range-checked) to its type in SQL. */
function plainText(v: Raw): string {
  return typeof v === 'number' ? floatText(v) : String(v);
}

/**
 * Converts a raw Avro primitive into the canonical text form of the target type, or refuses the pair.
 * Only documented conversions pass: logical types (and plain longs into TIMESTAMP, read as microseconds);
 * no Avro type converts into DATETIME except the local-timestamp logical types
 * (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-avro#logical_types).
 */
function leafText(node: AvroNode, target: FieldSchema, ctx: RowContext): (v: Raw) => string {
  const logical: Logical | undefined = 'logical' in node ? node.logical : undefined;
  const kind = node.kind;
  const integer = kind === 'int' || kind === 'long';
  // Logical types only change how values are read when the job asks for them.
  const honoured = ctx.useAvroLogicalTypes ? logical?.name : undefined;
  const refuse = (): never => {
    throw invalid(
      `Provided Schema does not match the Avro data. Field ${target.name} has changed type from ${target.type} to ${leafType(node, ctx.useAvroLogicalTypes)}`,
    );
  };
  switch (target.type) {
    case 'STRING':
    case 'JSON':
    case 'GEOGRAPHY':
      return kind === 'string' ? plainText : refuse();
    case 'BYTES':
      return kind === 'bytes' || kind === 'fixed' ? (v) => (v as Buffer).toString('base64') : refuse();
    case 'INTEGER':
    case 'FLOAT':
      return integer || (target.type === 'FLOAT' && (kind === 'float' || kind === 'double'))
        ? plainText
        : refuse();
    case 'BOOLEAN':
      return kind === 'boolean' ? plainText : refuse();
    case 'NUMERIC':
    case 'BIGNUMERIC':
      if (logical?.name === 'decimal' && (kind === 'bytes' || kind === 'fixed')) {
        const scale = logical.scale;
        return (v) => decimalText(fromTwosComplement(v as Buffer), scale);
      }
      return integer ? plainText : refuse();
    case 'TIMESTAMP':
      if (!integer) return refuse();
      return honoured === 'timestamp-millis'
        ? (v) => dateTimeText(BigInt(v as number | bigint) * 1000n, true)
        : (v) => dateTimeText(v as number | bigint, true);
    case 'DATETIME':
      if (
        !integer ||
        (logical?.name !== 'local-timestamp-micros' && logical?.name !== 'local-timestamp-millis')
      )
        return refuse();
      return logical.name === 'local-timestamp-millis'
        ? (v) => dateTimeText(BigInt(v as number | bigint) * 1000n, false)
        : (v) => dateTimeText(v as number | bigint, false);
    case 'DATE':
      return integer ? (v) => dateText(v as number | bigint) : refuse();
    case 'TIME':
      if (!integer) return refuse();
      return honoured === 'time-millis'
        ? (v) => timeText(Number(v) * 1000)
        : (v) => timeText(v as number | bigint);
    case 'RECORD':
      return refuse();
  }
}

/** Loads Avro files (any codec, possibly gzip-wrapped) into a temp table of stored types. */
export const readAvroFiles: FileReader = async (source, options) => {
  const files = [...source.files];
  if (files.length === 0) throw invalid('No Avro files to load.');
  // BigQuery takes the schema from the alphabetically last file: the job passes files in URI order.
  const last = files.at(-1)!;
  const fields: FieldSchema[] = options.schema
    ? [...options.schema]
    : bigQueryFieldsFromAvro(
        resolveAvroSchema((await readAvroHeader(last)).schema),
        options.useAvroLogicalTypes,
      );
  if (fields.length === 0) throw invalid('The Avro schema has no fields BigQuery can load.');

  const errors: ErrorProto[] = [];
  let rows = 0;
  let badRecords = 0;
  const ndjson: string[] = [];
  for (const [index, file] of files.entries()) {
    const out = join(source.workDir, `avro-${index}.ndjson`);
    ndjson.push(out);
    const result = await avroToNdjson(file, out, fields, options.useAvroLogicalTypes);
    rows += result.rows;
    badRecords += result.bad.length;
    for (const message of result.bad.slice(0, Math.max(0, 5 - errors.length)))
      errors.push({ reason: 'invalid', message });
  }

  const text = `${source.table}__avro_text`;
  const connection = source.connection;
  const columns = fields.map((f) => `${quoteString(f.name)}: ${quoteString(duckTextType(f))}`).join(', ');
  await connection.run(
    `CREATE TEMP TABLE ${quoteIdent(text)} AS SELECT * FROM read_json([${ndjson.map(quoteString).join(', ')}], format='newline_delimited', columns={${columns}}, maximum_object_size=1073741824)`,
  );
  try {
    const bad = fields.map((f) => `(${badValueSql(f, quoteIdent(f.name), badTextLeaf)})`).join(' OR ');
    const badRows = await connection.runAndReadAll(
      `SELECT rowid, concat_ws(', ', ${fields.map((f) => `CASE WHEN ${badValueSql(f, quoteIdent(f.name), badTextLeaf)} THEN ${quoteString(f.name)} END`).join(', ')}) FROM ${quoteIdent(text)} WHERE ${bad} ORDER BY rowid`,
    );
    const badList = badRows.getRows();
    badRecords += badList.length;
    for (const [rowid, names] of badList.slice(0, Math.max(0, 5 - errors.length)))
      errors.push({
        reason: 'invalid',
        message: `Error while reading data, error message: Row ${Number(rowid) + 1}: invalid or missing value for field ${String(names)}.`,
      });
    const select = fields.map(
      (f) => `${fromTextSql(f, quoteIdent(f.name), duckType(f))} AS ${quoteIdent(f.name)}`,
    );
    await connection.run(
      `CREATE TEMP TABLE ${quoteIdent(source.table)} AS SELECT ${select.join(', ')} FROM ${quoteIdent(text)} WHERE NOT (${bad}) ORDER BY rowid`,
    );
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(text)}`);
  }
  return { table: source.table, fields, rows: rows - badRecords, badRecords, errors } satisfies LoadedRows;
};

/** The data problem of the row just read, if any; the context is ready for the next row. */
function takeError(ctx: RowContext): string | undefined {
  const problem = ctx.error;
  ctx.error = undefined;
  return problem;
}

/** Decodes one Avro file into NDJSON rows of canonical text; rows with data problems are left out and reported. */
async function avroToNdjson(
  file: string,
  out: string,
  fields: readonly FieldSchema[],
  useAvroLogicalTypes: boolean,
): Promise<{ rows: number; bad: string[] }> {
  const stream = createWriteStream(out);
  const bad: string[] = [];
  const ctx: RowContext = { error: undefined, useAvroLogicalTypes, compiling: new Set() };
  let header: ContainerHeader | undefined;
  let readRow: Read | undefined;
  let rows = 0;
  try {
    for await (const part of containerParts(file)) {
      if (part.kind === 'header') {
        header = part.header;
        const root = resolveAvroSchema(header.schema);
        if (root.kind !== 'record') throw invalid('The Avro schema of a load must be a record.');
        readRow = recordReader(root, fields, ctx);
        continue;
      }
      const data = await decompressBlock(header!.codec, part.data);
      const r = new ByteReader(data);
      const lines: string[] = [];
      for (let i = 0; i < part.count; i++) {
        let row: unknown;
        try {
          row = readRow!(r);
        } catch (err) {
          if (err === INCOMPLETE) throw corrupt('a block ends in the middle of a record');
          throw err;
        }
        if (r.exhausted) throw corrupt('a block ends in the middle of a record');
        rows++;
        const problem = takeError(ctx);
        if (problem !== undefined)
          bad.push(`Error while reading data, error message: Row ${rows}: ${problem}`);
        else lines.push(JSON.stringify(row));
      }
      if (lines.length > 0 && !stream.write(`${lines.join('\n')}\n`)) await once(stream, 'drain');
    }
  } finally {
    stream.end();
    await finished(stream);
  }
  return { rows, bad };
}

/** The BigQuery schema a load would derive from one Avro file. */
export async function avroFileSchema(path: string, useAvroLogicalTypes: boolean): Promise<FieldSchema[]> {
  return bigQueryFieldsFromAvro(resolveAvroSchema((await readAvroHeader(path)).schema), useAvroLogicalTypes);
}
