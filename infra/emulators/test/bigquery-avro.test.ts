import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, gzipSync, inflateRaw } from 'node:zlib';
import type { DuckDBConnection } from '@duckdb/node-api';
import { expect } from 'chai';
import { BigQueryError } from '../src/bigquery/api-error.js';
import { Engine, rowsOf } from '../src/bigquery/engine.js';
import { avroSchemaFor, readAvroFiles, writeAvroFile } from '../src/bigquery/formats/avro.js';
import type { Compression, ExportOptions, LoadOptions } from '../src/bigquery/formats/types.js';
import { duckTextType, duckType, quoteIdent, quoteString, type FieldSchema } from '../src/bigquery/schema.js';
import { fromTextSql, selectListSql, toTextLeaf, type LeafSql } from '../src/bigquery/value-sql.js';

// avro-js (Apache's implementation) is the independent reader. Its package entry also loads a
// deprecated validator that needs `underscore`, so the file and schema modules are loaded directly.
const require = createRequire(import.meta.url);
interface AvroJsHeader {
  meta: Record<string, Buffer>;
}
interface AvroJsFiles {
  createFileDecoder(path: string, opts: object): NodeJS.ReadableStream;
  extractFileHeader(path: string, opts?: { decode?: boolean }): AvroJsHeader | null;
}
const avroFiles = require('avro-js/lib/files.js') as AvroJsFiles;
const snappy = require('snappyjs') as { uncompress(input: Buffer): Buffer };
const avroTypes = (
  require('avro-js/lib/schemas.js') as { types: { LongType: { using(methods: object): object } } }
).types;

/** Longs as bigint, so ±2^63 come through exactly. */
const BIGINT_LONG = avroTypes.LongType.using({
  fromBuffer: (b: Buffer) => b.readBigInt64LE(),
  toBuffer: (n: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(n);
    return b;
  },
  fromJSON: BigInt,
  toJSON: String,
  isValid: (n: unknown) => typeof n === 'bigint',
  compare: (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0),
});

const SNAPPY_CODEC = (buf: Buffer, cb: (err: Error | null, out?: Buffer) => void): void => {
  const out = snappy.uncompress(buf.subarray(0, buf.length - 4));
  const crc = buf.readUInt32BE(buf.length - 4);
  cb(crc === crc32(out) >>> 0 ? null : new Error('snappy CRC mismatch'), out);
};

async function readWithAvroJs(path: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  await new Promise<void>((resolve, reject) => {
    avroFiles
      .createFileDecoder(path, {
        codecs: {
          null: (b: Buffer, cb: (e: null, o: Buffer) => void) => cb(null, b),
          deflate: inflateRaw,
          snappy: SNAPPY_CODEC,
        },
        parseOpts: {
          registry: { long: BIGINT_LONG },
          typeHook: (a: { type?: unknown }) => (a.type === 'long' ? BIGINT_LONG : undefined),
        },
      })
      .on('data', (row: Record<string, unknown>) => rows.push(row))
      .on('end', () => resolve())
      .on('error', reject);
  });
  return rows;
}

const FIELDS: FieldSchema[] = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED', description: 'Row number' },
  { name: 's', type: 'STRING', mode: 'NULLABLE' },
  { name: 'b', type: 'BYTES', mode: 'NULLABLE' },
  { name: 'i', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'f', type: 'FLOAT', mode: 'NULLABLE' },
  { name: 'n', type: 'NUMERIC', mode: 'NULLABLE' },
  { name: 'np', type: 'NUMERIC', mode: 'NULLABLE', precision: '10', scale: '2' },
  { name: 'bn', type: 'BIGNUMERIC', mode: 'NULLABLE' },
  { name: 'bool', type: 'BOOLEAN', mode: 'NULLABLE' },
  { name: 'ts', type: 'TIMESTAMP', mode: 'NULLABLE' },
  { name: 'd', type: 'DATE', mode: 'NULLABLE' },
  { name: 't', type: 'TIME', mode: 'NULLABLE' },
  { name: 'dt', type: 'DATETIME', mode: 'NULLABLE' },
  { name: 'g', type: 'GEOGRAPHY', mode: 'NULLABLE' },
  { name: 'j', type: 'JSON', mode: 'NULLABLE' },
  {
    name: 'rec',
    type: 'RECORD',
    mode: 'NULLABLE',
    fields: [
      { name: 'x', type: 'STRING', mode: 'NULLABLE' },
      {
        name: 'inner_rec',
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: [
          { name: 'y', type: 'INTEGER', mode: 'REPEATED' },
          { name: 'z', type: 'TIMESTAMP', mode: 'NULLABLE' },
        ],
      },
    ],
  },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  { name: 'nums', type: 'FLOAT', mode: 'REPEATED' },
  {
    name: 'items',
    type: 'RECORD',
    mode: 'REPEATED',
    fields: [
      { name: 'k', type: 'STRING', mode: 'REQUIRED' },
      { name: 'v', type: 'NUMERIC', mode: 'NULLABLE' },
    ],
  },
];

const BIGNUMERIC_MAX = '578960446186580977117854925043439539266.34992332820282019728792003956564819967';
const BIGNUMERIC_MIN = '-578960446186580977117854925043439539266.34992332820282019728792003956564819968';

/** Source rows in the canonical text form. */
const ROWS: Record<string, unknown>[] = [
  {
    id: '1',
    s: 'héllo ✓',
    b: Buffer.from([0xff, 0x00, 0x01]).toString('base64'),
    i: '9223372036854775807',
    f: '1.5',
    n: '99999999999999999999999999999.999999999',
    np: '12345678.91',
    bn: BIGNUMERIC_MAX,
    bool: 'true',
    ts: '9999-12-31 23:59:59.999999+00',
    d: '9999-12-31',
    t: '23:59:59.999999',
    dt: '9999-12-31T23:59:59.999999',
    g: 'POINT(1 2)',
    j: '{"a":[1,2,{"b":null}]}',
    rec: { x: 'in', inner_rec: { y: ['1', '-2'], z: '2020-01-01 00:00:00.5+00' } },
    tags: ['a', 'b'],
    nums: ['NaN', '-Infinity', 'Infinity', '-0'],
    items: [
      { k: 'k1', v: '1.5' },
      { k: 'k2', v: null },
    ],
  },
  {
    id: '2',
    s: '',
    b: '',
    i: '-9223372036854775808',
    f: '-0',
    n: '-99999999999999999999999999999.999999999',
    np: '-0.01',
    bn: BIGNUMERIC_MIN,
    bool: 'false',
    ts: '0001-01-01 00:00:00+00',
    d: '0001-01-01',
    t: '00:00:00',
    dt: '0001-01-01T00:00:00',
    g: 'LINESTRING(0 0, 1 1)',
    j: '"text"',
    rec: { x: null, inner_rec: null },
    tags: [],
    nums: [],
    items: [],
  },
  { id: '3' },
  {
    id: '4',
    s: 'x',
    i: '0',
    f: 'NaN',
    n: '0.000000001',
    bn: '0.00000000000000000000000000000000000001',
    ts: '1970-01-01 00:00:00+00',
    d: '1970-01-01',
    t: '12:00:00.5',
    dt: '2020-02-29T12:34:56.789',
    rec: { x: 'only x' },
    nums: ['0.1', '1e+300'],
  },
];

/** What the Avro values of ts, d and t are for each row: microseconds / days, or strings. */
const LOGICAL_VALUES = [
  { ts: 253402300799999999n, d: 2932896, t: 86399999999n },
  { ts: -62135596800000000n, d: -719162, t: 0n },
  { ts: null, d: null, t: null },
  { ts: 0n, d: 0, t: 43200500000n },
];
const STRING_VALUES = [
  { d: '9999-12-31', t: '23:59:59.999999', dt: '9999-12-31T23:59:59.999999' },
  { d: '0001-01-01', t: '00:00:00', dt: '0001-01-01T00:00:00' },
  { d: null, t: null, dt: null },
  { d: '1970-01-01', t: '12:00:00.500000', dt: '2020-02-29T12:34:56.789000' },
];

const exportOptions = (compression: Compression, useAvroLogicalTypes: boolean): ExportOptions => ({
  format: 'AVRO',
  compression,
  printHeader: true,
  fieldDelimiter: ',',
  useAvroLogicalTypes,
});

const loadOptions = (overrides: Partial<LoadOptions> = {}): LoadOptions => ({
  format: 'AVRO',
  autodetect: false,
  skipLeadingRows: 0,
  fieldDelimiter: ',',
  quote: '"',
  allowQuotedNewlines: false,
  allowJaggedRows: false,
  ignoreUnknownValues: false,
  maxBadRecords: 0,
  nullMarker: '',
  useAvroLogicalTypes: true,
  ...overrides,
});

/** Text form of every value, for comparisons (TIME via DATE + TIME: DuckDB has no TIMESTAMP + TIME). */
const textLeaf: LeafSql = (field, expr) =>
  field.type === 'TIME'
    ? `regexp_replace(strftime(DATE '1970-01-01' + ${expr}, '%H:%M:%S.%f'), '\\.000000$', '')`
    : toTextLeaf(field, expr);

async function textRows(
  c: DuckDBConnection,
  table: string,
  fields: readonly FieldSchema[],
): Promise<unknown[]> {
  return rowsOf(c, `SELECT ${selectListSql(fields, textLeaf)} FROM ${quoteIdent(table)} ORDER BY rowid`);
}

/** Creates `table` in stored types from text rows, the way loads do. */
async function createTable(
  c: DuckDBConnection,
  dir: string,
  table: string,
  fields: readonly FieldSchema[],
  rows: readonly Record<string, unknown>[],
): Promise<void> {
  const file = join(dir, `${table}.ndjson`);
  await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  const columns = fields.map((f) => `${quoteString(f.name)}: ${quoteString(duckTextType(f))}`).join(', ');
  const select = fields.map(
    (f) => `${fromTextSql(f, quoteIdent(f.name), duckType(f))} AS ${quoteIdent(f.name)}`,
  );
  await c.run(
    `CREATE OR REPLACE TEMP TABLE ${quoteIdent(table)} AS SELECT ${select.join(', ')} FROM read_json(${quoteString(file)}, format='newline_delimited', columns={${columns}})`,
  );
}

/** Independent decoding of an Avro decimal: big-endian two's complement, then the scale. */
function decimalOf(bytes: Buffer, scale: number): string {
  if (bytes.length === 0) return '0';
  const v = BigInt.asIntN(bytes.length * 8, BigInt(`0x${bytes.toString('hex')}`));
  const sign = v < 0n ? '-' : '';
  const abs = (v < 0n ? -v : v).toString().padStart(scale + 1, '0');
  const fraction = abs.slice(abs.length - scale).replace(/0+$/, '');
  return `${sign}${abs.slice(0, abs.length - scale)}${fraction ? `.${fraction}` : ''}`;
}

/** avro-js wraps union values as `{branch: value}`. */
const unwrap = (v: unknown): unknown =>
  v !== null &&
  typeof v === 'object' &&
  !Array.isArray(v) &&
  !Buffer.isBuffer(v) &&
  Object.keys(v).length === 1
    ? Object.values(v)[0]
    : v;

const floatText = (v: number): string => (Object.is(v, -0) ? '-0' : String(v));

describe('BigQuery Avro export and load', function () {
  let engine: Engine;
  let dir: string;

  before(async function () {
    engine = await Engine.open(':memory:');
    dir = await mkdtemp(join(tmpdir(), 'bq-avro-'));
    await engine.withConnection((c) => createTable(c, dir, 'src', FIELDS, ROWS));
  });

  after(async function () {
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('maps each BigQuery type to the Avro schema of the export docs', function () {
    const logical = avroSchemaFor(FIELDS, { useAvroLogicalTypes: true });
    const plain = avroSchemaFor(FIELDS, { useAvroLogicalTypes: false });
    const field = (schema: typeof logical, name: string) => schema.fields.find((f) => f.name === name)?.type;
    expect(logical.type).to.equal('record');
    expect(logical.name).to.equal('Root');
    expect(logical.fields[0]).to.deep.equal({ name: 'id', type: 'long', doc: 'Row number' });
    expect(field(logical, 's')).to.deep.equal(['null', 'string']);
    expect(field(logical, 'b')).to.deep.equal(['null', 'bytes']);
    expect(field(logical, 'f')).to.deep.equal(['null', 'double']);
    expect(field(logical, 'bool')).to.deep.equal(['null', 'boolean']);
    expect(field(logical, 'n')).to.deep.equal([
      'null',
      { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 },
    ]);
    expect(field(logical, 'np')).to.deep.equal([
      'null',
      { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2 },
    ]);
    expect(field(logical, 'bn')).to.deep.equal([
      'null',
      { type: 'bytes', logicalType: 'decimal', precision: 77, scale: 38 },
    ]);
    expect(field(logical, 'g')).to.deep.equal(['null', { type: 'string', sqlType: 'GEOGRAPHY' }]);
    expect(field(logical, 'j')).to.deep.equal(['null', { type: 'string', sqlType: 'JSON' }]);
    // TIMESTAMP keeps its logical type either way; DATE, TIME and DATETIME only with useAvroLogicalTypes.
    for (const schema of [logical, plain])
      expect(field(schema, 'ts')).to.deep.equal(['null', { type: 'long', logicalType: 'timestamp-micros' }]);
    expect(field(logical, 'd')).to.deep.equal(['null', { type: 'int', logicalType: 'date' }]);
    expect(field(logical, 't')).to.deep.equal(['null', { type: 'long', logicalType: 'time-micros' }]);
    expect(field(logical, 'dt')).to.deep.equal(['null', { type: 'string', logicalType: 'datetime' }]);
    for (const name of ['d', 't', 'dt']) expect(field(plain, name)).to.deep.equal(['null', 'string']);
    expect(field(logical, 'rec')).to.deep.equal([
      'null',
      {
        type: 'record',
        name: 'Rec',
        namespace: 'root',
        fields: [
          { name: 'x', type: ['null', 'string'] },
          {
            name: 'inner_rec',
            type: [
              'null',
              {
                type: 'record',
                name: 'Inner_Rec',
                namespace: 'root.rec',
                fields: [
                  { name: 'y', type: { type: 'array', items: 'long' } },
                  { name: 'z', type: ['null', { type: 'long', logicalType: 'timestamp-micros' }] },
                ],
              },
            ],
          },
        ],
      },
    ]);
    expect(field(logical, 'tags')).to.deep.equal({ type: 'array', items: 'string' });
    expect(field(logical, 'items')).to.deep.equal({
      type: 'array',
      items: {
        type: 'record',
        name: 'Items',
        namespace: 'root',
        fields: [
          { name: 'k', type: 'string' },
          { name: 'v', type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 }] },
        ],
      },
    });
  });

  for (const compression of ['NONE', 'DEFLATE', 'SNAPPY'] as const) {
    for (const useLogical of [true, false]) {
      it(`writes every type with codec ${compression}${useLogical ? ' and logical types' : ''}, read back by avro-js`, async function () {
        const path = join(dir, `all-${compression}-${useLogical}.avro`);
        const written = await engine.withConnection((c) =>
          writeAvroFile(
            { connection: c, table: 'src', fields: FIELDS },
            exportOptions(compression, useLogical),
            path,
            {
              offset: 0,
              limit: 100,
            },
          ),
        );
        expect(written.rows).to.equal(ROWS.length);
        expect(written.bytes).to.equal((await readFile(path)).length);

        const header = avroFiles.extractFileHeader(path, { decode: false })!;
        expect(header.meta['avro.codec']!.toString()).to.equal(
          { NONE: 'null', DEFLATE: 'deflate', SNAPPY: 'snappy' }[compression],
        );
        expect(JSON.parse(header.meta['avro.schema']!.toString())).to.deep.equal(
          avroSchemaFor(FIELDS, { useAvroLogicalTypes: useLogical }),
        );

        const rows = await readWithAvroJs(path);
        expect(rows).to.have.length(ROWS.length);
        const source = (await engine.withConnection((c) => textRows(c, 'src', FIELDS))) as Record<
          string,
          unknown
        >[];
        for (const [index, row] of rows.entries()) {
          const want = source[index]!;
          const got = (name: string) => unwrap(row[name]);
          expect(got('id')).to.equal(BigInt(want['id'] as string));
          expect(got('s')).to.equal(want['s']);
          expect(got('b') === null ? null : (got('b') as Buffer).toString('base64')).to.equal(want['b']);
          expect(got('i')).to.equal(want['i'] === null ? null : BigInt(want['i'] as string));
          expect(got('f') === null ? null : floatText(got('f') as number)).to.equal(
            want['f'] === null ? null : floatText(Number(want['f'])),
          );
          expect(got('n') === null ? null : decimalOf(got('n') as Buffer, 9)).to.equal(want['n']);
          expect(got('np') === null ? null : decimalOf(got('np') as Buffer, 2)).to.equal(
            ROWS[index]!['np'] ?? null,
          );
          expect(got('bn') === null ? null : decimalOf(got('bn') as Buffer, 38)).to.equal(want['bn']);
          expect(got('bool')).to.equal(want['bool'] === null ? null : want['bool'] === 'true');
          expect(got('ts')).to.equal(LOGICAL_VALUES[index]!.ts);
          if (useLogical) {
            expect(got('d')).to.equal(LOGICAL_VALUES[index]!.d);
            expect(got('t')).to.equal(LOGICAL_VALUES[index]!.t);
            expect(got('dt')).to.equal(STRING_VALUES[index]!.dt);
          } else {
            expect({ d: got('d'), t: got('t'), dt: got('dt') }).to.deep.equal(STRING_VALUES[index]);
          }
          expect(got('g')).to.equal(want['g']);
          expect(got('j')).to.equal(want['j']);
          const rec = got('rec') as Record<string, unknown> | null;
          const wantRec = want['rec'] as Record<string, unknown> | null;
          if (wantRec === null) {
            expect(rec).to.equal(null);
          } else {
            expect(unwrap(rec!['x'])).to.equal(wantRec['x']);
            const inner = unwrap(rec!['inner_rec']) as Record<string, unknown> | null;
            const wantInner = wantRec['inner_rec'] as Record<string, unknown> | null;
            if (wantInner === null) expect(inner).to.equal(null);
            else {
              expect((inner!['y'] as bigint[]).map(String)).to.deep.equal(wantInner['y']);
              expect(unwrap(inner!['z'])).to.equal(1577836800500000n);
            }
          }
          expect(row['tags']).to.deep.equal(want['tags']);
          expect((row['nums'] as number[]).map(floatText)).to.deep.equal(
            (want['nums'] as string[]).map((x) => floatText(Number(x))),
          );
          const items = (row['items'] as Record<string, unknown>[]).map((it) => ({
            k: it['k'],
            v: unwrap(it['v']) === null ? null : decimalOf(unwrap(it['v']) as Buffer, 9),
          }));
          expect(items).to.deep.equal(want['items']);
        }
      });
    }
  }

  it('round-trips every value through readAvroFiles with the table schema', async function () {
    for (const compression of ['NONE', 'DEFLATE', 'SNAPPY'] as const) {
      const path = join(dir, `roundtrip-${compression}.avro`);
      await engine.withConnection(async (c) => {
        await writeAvroFile(
          { connection: c, table: 'src', fields: FIELDS },
          exportOptions(compression, true),
          path,
          {
            offset: 0,
            limit: 100,
          },
        );
        // BigQuery converts no Avro type into DATETIME, so a restore reads it as the STRING it was written as.
        const schema = FIELDS.map((f): FieldSchema => (f.name === 'dt' ? { ...f, type: 'STRING' } : f));
        const work = await mkdtemp(join(dir, 'load-'));
        const loaded = await readAvroFiles(
          { connection: c, files: [path], table: `loaded_${compression}`, workDir: work },
          loadOptions({ schema }),
        );
        expect(loaded).to.include({ rows: ROWS.length, badRecords: 0 });
        expect(loaded.errors).to.deep.equal([]);
        expect(loaded.fields).to.deep.equal(schema);
        expect(await textRows(c, loaded.table, schema)).to.deep.equal(await textRows(c, 'src', FIELDS));
        await c.run(`DROP TABLE ${quoteIdent(loaded.table)}`);
      });
    }
  });

  it('derives the table schema from the Avro schema as the load docs describe', async function () {
    const path = join(dir, 'derive.avro');
    await engine.withConnection(async (c) => {
      await writeAvroFile(
        { connection: c, table: 'src', fields: FIELDS },
        exportOptions('NONE', true),
        path,
        {
          offset: 0,
          limit: 100,
        },
      );
      const withLogical = await readAvroFiles(
        { connection: c, files: [path], table: 'derived_logical', workDir: dir },
        loadOptions({ useAvroLogicalTypes: true }),
      );
      const expected = FIELDS.map((f): FieldSchema => {
        if (f.name === 'dt') return { name: 'dt', type: 'STRING', mode: 'NULLABLE' };
        if (f.name === 'np') return { name: 'np', type: 'NUMERIC', mode: 'NULLABLE' };
        return f;
      });
      expect(withLogical.fields).to.deep.equal(expected);
      expect(await textRows(c, 'derived_logical', expected)).to.deep.equal(await textRows(c, 'src', FIELDS));

      const without = await readAvroFiles(
        { connection: c, files: [path], table: 'derived_plain', workDir: dir },
        loadOptions({ useAvroLogicalTypes: false }),
      );
      const types = Object.fromEntries(without.fields.map((f) => [f.name, f.type]));
      expect(types).to.include({
        ts: 'INTEGER',
        d: 'INTEGER',
        t: 'INTEGER',
        dt: 'STRING',
        n: 'NUMERIC',
        bn: 'BIGNUMERIC',
      });
      const raw = await rowsOf(c, `SELECT ts, d, t FROM derived_plain ORDER BY rowid`);
      expect(raw.map((r) => [r['ts'], r['d'], r['t']])).to.deep.equal(
        LOGICAL_VALUES.map((v) => [v.ts, v.d, v.t].map((x) => (x === null ? null : String(x)))),
      );
    });
  });

  it('refuses a schema that the Avro data cannot be converted into', async function () {
    const path = join(dir, 'mismatch.avro');
    await engine.withConnection(async (c) => {
      await writeAvroFile(
        { connection: c, table: 'src', fields: FIELDS },
        exportOptions('NONE', true),
        path,
        {
          offset: 0,
          limit: 100,
        },
      );
      const attempt = readAvroFiles(
        { connection: c, files: [path], table: 'mismatch', workDir: dir },
        loadOptions({ schema: FIELDS }),
      );
      const err = await attempt.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(BigQueryError);
      expect((err as BigQueryError).message).to.match(/Field dt has changed type from DATETIME to STRING/);
    });
  });

  it('reads files written by another Avro writer: logical types, unions, maps, enums and gzip', async function () {
    // Hand-encoded container: record {a: int (date), m: map<long>, e: enum, u: [null, string, long]}.
    const schema = {
      type: 'record',
      name: 'Other',
      fields: [
        { name: 'a', type: { type: 'int', logicalType: 'date' } },
        { name: 'm', type: { type: 'map', values: 'long' } },
        { name: 'e', type: { type: 'enum', name: 'Color', symbols: ['RED', 'GREEN'] } },
        { name: 'u', type: ['null', 'string', 'long'] },
        { name: 'ms', type: ['null', { type: 'long', logicalType: 'timestamp-millis' }] },
      ],
    };
    const zz = (n: number) => (n >= 0 ? n * 2 : -n * 2 - 1);
    const varint = (n: number): number[] => {
      const out: number[] = [];
      let z = zz(n);
      while (z >= 0x80) {
        out.push((z % 0x80) | 0x80);
        z = Math.floor(z / 0x80);
      }
      out.push(z);
      return out;
    };
    const str = (s: string) => [...varint(Buffer.byteLength(s)), ...Buffer.from(s)];
    const record1 = [
      ...varint(18262), // 2020-01-01
      ...varint(-1), // a map block with a byte size
      ...varint(3),
      ...str('k'),
      ...varint(-5),
      ...varint(0),
      ...varint(1), // GREEN
      ...varint(1),
      ...str('hi'),
      ...varint(1),
      ...varint(1577836800123), // 2020-01-01 00:00:00.123
    ];
    const record2 = [...varint(0), ...varint(0), ...varint(0), ...varint(2), ...varint(42), ...varint(0)];
    const sync = Buffer.alloc(16, 7);
    const meta = [...varint(1), ...str('avro.schema'), ...str(JSON.stringify(schema)), ...varint(0)];
    const body = Buffer.from([...record1, ...record2]);
    const file = Buffer.concat([
      Buffer.from('Obj\x01', 'latin1'),
      Buffer.from(meta),
      sync,
      Buffer.from([...varint(2), ...varint(body.length)]),
      body,
      sync,
    ]);
    const path = join(dir, 'other.avro.gz');
    await writeFile(path, gzipSync(file));
    await engine.withConnection(async (c) => {
      const loaded = await readAvroFiles(
        { connection: c, files: [path], table: 'other', workDir: dir },
        loadOptions({ useAvroLogicalTypes: true }),
      );
      expect(loaded.fields).to.deep.equal([
        { name: 'a', type: 'DATE', mode: 'REQUIRED' },
        {
          name: 'm',
          type: 'RECORD',
          mode: 'REPEATED',
          fields: [
            { name: 'key', type: 'STRING', mode: 'REQUIRED' },
            { name: 'value', type: 'INTEGER', mode: 'REQUIRED' },
          ],
        },
        { name: 'e', type: 'STRING', mode: 'REQUIRED' },
        {
          name: 'u',
          type: 'RECORD',
          mode: 'NULLABLE',
          fields: [
            { name: 'string', type: 'STRING', mode: 'NULLABLE' },
            { name: 'long', type: 'INTEGER', mode: 'NULLABLE' },
          ],
        },
        { name: 'ms', type: 'TIMESTAMP', mode: 'NULLABLE' },
      ]);
      expect(await textRows(c, 'other', loaded.fields)).to.deep.equal([
        {
          a: '2020-01-01',
          m: [{ key: 'k', value: '-5' }],
          e: 'GREEN',
          u: { string: 'hi', long: null },
          ms: '2020-01-01 00:00:00.123+00',
        },
        { a: '1970-01-01', m: [], e: 'RED', u: { string: null, long: '42' }, ms: null },
      ]);
    });
  });

  it('writes shards of a row range whose rows add up to the table', async function () {
    await engine.withConnection(async (c) => {
      const first = join(dir, 'shard-0.avro');
      const second = join(dir, 'shard-1.avro');
      const a = await writeAvroFile(
        { connection: c, table: 'src', fields: FIELDS },
        exportOptions('SNAPPY', false),
        first,
        {
          offset: 0,
          limit: 3,
        },
      );
      const b = await writeAvroFile(
        { connection: c, table: 'src', fields: FIELDS },
        exportOptions('SNAPPY', false),
        second,
        {
          offset: 3,
          limit: 3,
        },
      );
      expect([a.rows, b.rows]).to.deep.equal([3, 1]);
      const ids = [...(await readWithAvroJs(first)), ...(await readWithAvroJs(second))].map((r) => r['id']);
      expect(ids).to.deep.equal([1n, 2n, 3n, 4n]);
      const empty = await writeAvroFile(
        { connection: c, table: 'src', fields: FIELDS },
        exportOptions('DEFLATE', false),
        join(dir, 'empty.avro'),
        { offset: 4, limit: 0 },
      );
      expect(empty.rows).to.equal(0);
      expect(await readWithAvroJs(join(dir, 'empty.avro'))).to.deep.equal([]);

      const loaded = await readAvroFiles(
        { connection: c, files: [first, second], table: 'shards', workDir: dir },
        loadOptions({
          useAvroLogicalTypes: false,
          schema: FIELDS.filter((f) => f.type !== 'DATE' && f.type !== 'TIME' && f.type !== 'DATETIME'),
        }),
      );
      expect(loaded.rows).to.equal(4);
    });
  });

  it('reports values BigQuery cannot hold as bad records', async function () {
    const schema = {
      type: 'record',
      name: 'R',
      fields: [{ name: 'd', type: { type: 'int', logicalType: 'date' } }],
    };
    const varint = (z: number) => {
      const out: number[] = [];
      while (z >= 0x80) {
        out.push((z % 0x80) | 0x80);
        z = Math.floor(z / 0x80);
      }
      out.push(z);
      return out;
    };
    const str = (s: string) => [...varint(Buffer.byteLength(s) * 2), ...Buffer.from(s)];
    const sync = Buffer.alloc(16, 1);
    // Day 3000000 is past 9999-12-31; day 1 is fine.
    const body = Buffer.from([...varint(6000000), ...varint(2)]);
    const path = join(dir, 'bad.avro');
    await writeFile(
      path,
      Buffer.concat([
        Buffer.from('Obj\x01', 'latin1'),
        Buffer.from([...varint(2), ...str('avro.schema'), ...str(JSON.stringify(schema)), 0]),
        sync,
        Buffer.from([...varint(4), ...varint(body.length * 2)]),
        body,
        sync,
      ]),
    );
    await engine.withConnection(async (c) => {
      const loaded = await readAvroFiles(
        { connection: c, files: [path], table: 'bad', workDir: dir },
        loadOptions({ useAvroLogicalTypes: true }),
      );
      expect(loaded).to.include({ rows: 1, badRecords: 1 });
      expect(loaded.errors).to.have.length(1);
      expect(loaded.errors[0]!.message).to.match(/^Error while reading data, error message: .*field d/);
      expect(await rowsOf(c, 'SELECT CAST(d AS VARCHAR) AS d FROM bad')).to.deep.equal([{ d: '1970-01-02' }]);
    });
  });

  it('rejects a file that is not Avro', async function () {
    const path = join(dir, 'not-avro.avro');
    await writeFile(path, 'a,b\n1,2\n');
    await engine.withConnection(async (c) => {
      const err = await readAvroFiles(
        { connection: c, files: [path], table: 'nope', workDir: dir },
        loadOptions(),
      ).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).to.be.instanceOf(BigQueryError);
      expect((err as Error).message).to.match(/Magic does not match/);
    });
  });
});
