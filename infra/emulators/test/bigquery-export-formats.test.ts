import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { expect } from 'chai';
import { parquetMetadata, parquetReadObjects, type FileMetaData, type SchemaElement } from 'hyparquet';
import { compressors } from 'hyparquet-compressors';
import { BigQueryError } from '../src/bigquery/api-error.js';
import { assertCsvExportable, csvDelimiter } from '../src/bigquery/formats/csv-export.js';
import { exportWriterFor } from '../src/bigquery/formats/export-encodings.js';
import type { ExportOptions, FileFormat, RowRange, WrittenFile } from '../src/bigquery/formats/types.js';
import { duckTextType, duckType, quoteIdent, quoteString, type FieldSchema } from '../src/bigquery/schema.js';
import { fromTextSql, structField } from '../src/bigquery/value-sql.js';

const FLAT: FieldSchema[] = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 's', type: 'STRING', mode: 'NULLABLE' },
  { name: 'b', type: 'BYTES', mode: 'NULLABLE' },
  { name: 'i', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'f', type: 'FLOAT', mode: 'NULLABLE' },
  { name: 'n', type: 'NUMERIC', mode: 'NULLABLE' },
  { name: 'bn', type: 'BIGNUMERIC', mode: 'NULLABLE' },
  { name: 'bool', type: 'BOOLEAN', mode: 'NULLABLE' },
  { name: 'ts', type: 'TIMESTAMP', mode: 'NULLABLE' },
  { name: 'd', type: 'DATE', mode: 'NULLABLE' },
  { name: 't', type: 'TIME', mode: 'NULLABLE' },
  { name: 'dt', type: 'DATETIME', mode: 'NULLABLE' },
  { name: 'g', type: 'GEOGRAPHY', mode: 'NULLABLE' },
  { name: 'j', type: 'JSON', mode: 'NULLABLE' },
];

const NESTED: FieldSchema[] = [
  ...FLAT,
  {
    name: 'rec',
    type: 'RECORD',
    mode: 'NULLABLE',
    fields: [
      { name: 'x', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 'y', type: 'STRING', mode: 'REPEATED' },
      {
        name: 'inner',
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: [{ name: 'z', type: 'TIMESTAMP', mode: 'NULLABLE' }],
      },
    ],
  },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  { name: 'nums', type: 'FLOAT', mode: 'REPEATED' },
];

const BIGNUMERIC_MAX = '578960446186580977117854925043439539266.34992332820282019728792003956564819967';
const BIGNUMERIC_MIN = '-578960446186580977117854925043439539266.34992332820282019728792003956564819968';
const NUMERIC_MAX = '99999999999999999999999999999.999999999';

/** Rows in the canonical text form (what a load would parse). */
const ROWS: Record<string, unknown>[] = [
  {
    id: '0',
    s: 'plain',
    b: 'AAEC/w==',
    i: '9223372036854775807',
    f: '1.5',
    n: NUMERIC_MAX,
    bn: BIGNUMERIC_MAX,
    bool: 'true',
    ts: '9999-12-31 23:59:59.999999+00',
    d: '9999-12-31',
    t: '23:59:59.999999',
    dt: '9999-12-31T23:59:59.999999',
    g: 'POINT(1 2)',
    j: '{"a":[1,2],"b":null}',
    rec: { x: '1', y: ['a', 'b'], inner: { z: '2020-01-01 00:00:00.5+00' } },
    tags: ['x', 'y'],
    nums: ['1.25', 'NaN'],
  },
  {
    id: '1',
    s: 'comma, "quote"\nnew line',
    b: '',
    i: '-9223372036854775808',
    f: 'NaN',
    n: `-${NUMERIC_MAX}`,
    bn: BIGNUMERIC_MIN,
    bool: 'false',
    ts: '0001-01-01 00:00:00+00',
    d: '0001-01-01',
    t: '00:00:00',
    dt: '0001-01-01T00:00:00',
    g: 'LINESTRING(0 0, 1 1)',
    j: '"text"',
    rec: null,
    tags: [],
    nums: [],
  },
  { id: '2', rec: { x: null, y: [], inner: null } },
  {
    id: '3',
    s: '',
    i: '0',
    f: 'Infinity',
    n: '0.5',
    bn: '0.00000000000000000000000000000000000001',
    ts: '2020-01-01 12:00:00.123+00',
    d: '2020-02-29',
    t: '12:00:00.5',
    dt: '2020-01-01T12:00:00.5',
    j: '[1,"x",{"k":true}]',
    nums: ['0.1', '1e20', '-0.5', '2'],
  },
  {
    id: '4',
    s: 'ünïcødé ✓ tab\there',
    i: '42',
    f: '-Infinity',
    n: '100',
    bool: 'true',
    ts: '1970-01-01 00:00:00+00',
  },
];

/** What the CSV export holds for the FLAT columns: null for an empty unquoted field. */
const CSV_ROWS: (string | null)[][] = [
  [
    '0',
    'plain',
    'AAEC/w==',
    '9223372036854775807',
    '1.5',
    NUMERIC_MAX,
    BIGNUMERIC_MAX,
    'true',
    '9999-12-31 23:59:59.999999 UTC',
    '9999-12-31',
    '23:59:59.999999',
    '9999-12-31T23:59:59.999999',
    'POINT(1 2)',
    '{"a":[1,2],"b":null}',
  ],
  [
    '1',
    'comma, "quote"\nnew line',
    '',
    '-9223372036854775808',
    'NaN',
    `-${NUMERIC_MAX}`,
    BIGNUMERIC_MIN,
    'false',
    '0001-01-01 00:00:00 UTC',
    '0001-01-01',
    '00:00:00',
    '0001-01-01T00:00:00',
    'LINESTRING(0 0, 1 1)',
    '"text"',
  ],
  ['2', ...new Array<null>(13).fill(null)],
  [
    '3',
    '',
    null,
    '0',
    'Infinity',
    '0.5',
    '0.00000000000000000000000000000000000001',
    null,
    '2020-01-01 12:00:00.123 UTC',
    '2020-02-29',
    '12:00:00.500000',
    '2020-01-01T12:00:00.500000',
    null,
    '[1,"x",{"k":true}]',
  ],
  [
    '4',
    'ünïcødé ✓ tab\there',
    null,
    '42',
    '-Infinity',
    '100',
    null,
    'true',
    '1970-01-01 00:00:00 UTC',
    null,
    null,
    null,
    null,
    null,
  ],
];

/** The NEWLINE_DELIMITED_JSON export of NESTED, parsed: NULL members absent, INTEGER/NUMERIC as strings. */
const JSON_ROWS: unknown[] = [
  {
    id: '0',
    s: 'plain',
    b: 'AAEC/w==',
    i: '9223372036854775807',
    f: 1.5,
    n: NUMERIC_MAX,
    bn: BIGNUMERIC_MAX,
    bool: true,
    ts: '9999-12-31 23:59:59.999999 UTC',
    d: '9999-12-31',
    t: '23:59:59.999999',
    dt: '9999-12-31T23:59:59.999999',
    g: 'POINT(1 2)',
    j: { a: [1, 2], b: null },
    rec: { x: '1', y: ['a', 'b'], inner: { z: '2020-01-01 00:00:00.5 UTC' } },
    tags: ['x', 'y'],
    nums: [1.25, 'NaN'],
  },
  {
    id: '1',
    s: 'comma, "quote"\nnew line',
    b: '',
    i: '-9223372036854775808',
    f: 'NaN',
    n: `-${NUMERIC_MAX}`,
    bn: BIGNUMERIC_MIN,
    bool: false,
    ts: '0001-01-01 00:00:00 UTC',
    d: '0001-01-01',
    t: '00:00:00',
    dt: '0001-01-01T00:00:00',
    g: 'LINESTRING(0 0, 1 1)',
    j: 'text',
    tags: [],
    nums: [],
  },
  { id: '2', rec: { y: [] }, tags: [], nums: [] },
  {
    id: '3',
    s: '',
    i: '0',
    f: 'Infinity',
    n: '0.5',
    bn: '0.00000000000000000000000000000000000001',
    ts: '2020-01-01 12:00:00.123 UTC',
    d: '2020-02-29',
    t: '12:00:00.500000',
    dt: '2020-01-01T12:00:00.500000',
    j: [1, 'x', { k: true }],
    tags: [],
    nums: [0.1, 1e20, -0.5, 2],
  },
  {
    id: '4',
    s: 'ünïcødé ✓ tab\there',
    i: '42',
    f: '-Infinity',
    n: '100',
    bool: true,
    ts: '1970-01-01 00:00:00 UTC',
    tags: [],
    nums: [],
  },
];

const micros = (iso: string): bigint => {
  const [whole = '', fraction = ''] = iso.replace(/Z$/, '').split('.');
  return BigInt(new Date(`${whole}Z`).getTime()) * 1000n + BigInt(fraction.padEnd(6, '0'));
};
const days = (iso: string): number => new Date(`${iso}T00:00:00Z`).getTime() / 86_400_000;

const options = (format: FileFormat, more: Partial<ExportOptions> = {}): ExportOptions => ({
  format,
  compression: 'NONE',
  printHeader: true,
  fieldDelimiter: ',',
  useAvroLogicalTypes: false,
  ...more,
});

/** A small RFC 4180 reader: an unquoted empty field is null, a quoted one ''. */
function parseCsv(text: string, delimiter = ','): (string | null)[][] {
  const rows: (string | null)[][] = [];
  let row: (string | null)[] = [];
  let field = '';
  let quoted = false;
  let inQuotes = false;
  const endField = (): void => {
    row.push(field === '' && !quoted ? null : field);
    field = '';
    quoted = false;
  };
  for (let k = 0; k < text.length; k++) {
    const ch = text[k];
    if (inQuotes) {
      if (ch === '"' && text[k + 1] === '"') ((field += '"'), k++);
      else if (ch === '"') inQuotes = false;
      else field += ch;
    } else if (ch === '"') ((inQuotes = true), (quoted = true));
    else if (ch === delimiter) endField();
    else if (ch === '\n') (endField(), rows.push(row), (row = []));
    else field += ch;
  }
  if (field !== '' || quoted || row.length > 0) (endField(), rows.push(row));
  return rows;
}

const readText = async (file: WrittenFile, gzip = false): Promise<string> => {
  const bytes = await readFile(file.path);
  return (gzip ? gunzipSync(bytes) : bytes).toString('utf8');
};

const jsonLines = (text: string): unknown[] =>
  text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as unknown);

async function readParquet(
  path: string,
): Promise<{ metadata: FileMetaData; rows: Record<string, unknown>[] }> {
  const bytes = await readFile(path);
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
  const metadata = parquetMetadata(file);
  const rows = (await parquetReadObjects({
    file,
    compressors,
    utf8: false,
    parsers: { timestampFromMicroseconds: (v: bigint) => v, dateFromDays: (v: number) => v },
  })) as Record<string, unknown>[];
  return { metadata, rows };
}

const element = (metadata: FileMetaData, name: string): SchemaElement => {
  const found = metadata.schema.find((e) => e.name === name);
  if (!found) throw new Error(`no Parquet column ${name}`);
  return found;
};

/** Creates a table from text rows the way a load does: every leaf parsed with fromTextSql. */
async function createTable(
  connection: DuckDBConnection,
  name: string,
  fields: FieldSchema[],
  all: Record<string, unknown>[],
): Promise<void> {
  const rows = all.map((r) => Object.fromEntries(fields.map((f) => [f.name, r[f.name] ?? null])));
  const struct = `STRUCT(${fields.map((f) => `${quoteIdent(f.name)} ${duckTextType(f)}`).join(', ')})`;
  const values = rows.map((r, k) => `(${quoteString(JSON.stringify(r))}, ${k})`).join(', ');
  const columns = fields
    .map((f) => `${fromTextSql(f, structField('r', f.name), duckType(f))} AS ${quoteIdent(f.name)}`)
    .join(', ');
  await connection.run(
    `CREATE TEMP TABLE ${name} AS SELECT ${columns} FROM (SELECT CAST(CAST(j AS JSON) AS ${struct}) AS r, o FROM (VALUES ${values}) v(j, o)) ORDER BY o`,
  );
}

describe('BigQuery extract writers: CSV, NEWLINE_DELIMITED_JSON, PARQUET', function () {
  // Engine.open fails here (DuckDBInstance.create rejects the TimeZone option), so the suite opens DuckDB itself.
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  let dir: string;
  const ALL: RowRange = { offset: 0, limit: ROWS.length };

  const write = (table: string, fields: FieldSchema[], opts: ExportOptions, file: string, range = ALL) =>
    exportWriterFor(opts.format)({ connection, table, fields }, opts, join(dir, file), range);

  before(async function () {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
    await connection.run("SET TimeZone='UTC'");
    dir = await mkdtemp(join(tmpdir(), 'bq-export-'));
    await createTable(connection, 'flat', FLAT, ROWS);
    await createTable(connection, 'nested', NESTED, ROWS);
    await connection.run(
      'CREATE TEMP TABLE series AS SELECT range AS id, CAST(range AS VARCHAR) AS s FROM range(10)',
    );
  });

  after(async function () {
    connection?.closeSync();
    instance?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads rows of a temp table made by CREATE TEMP TABLE ... AS SELECT in dense rowid order', async function () {
    await connection.run(
      'CREATE TEMP TABLE snap AS SELECT id, s FROM series WHERE id % 3 <> 1 ORDER BY id DESC',
    );
    const fields: FieldSchema[] = [
      { name: 'id', type: 'INTEGER' },
      { name: 's', type: 'STRING' },
    ];
    const file = await write('snap', fields, options('CSV', { printHeader: false }), 'snap.csv', {
      offset: 2,
      limit: 3,
    });
    expect(file.rows).to.equal(3);
    expect(parseCsv(await readText(file))).to.deep.equal([
      ['6', '6'],
      ['5', '5'],
      ['3', '3'],
    ]);
  });

  describe('CSV', function () {
    for (const compression of ['NONE', 'GZIP'] as const) {
      it(`writes every type as BigQuery's CSV text (${compression})`, async function () {
        const file = await write('flat', FLAT, options('CSV', { compression }), `all-${compression}.csv`);
        expect(file.rows).to.equal(ROWS.length);
        const raw = await readFile(file.path);
        expect(file.bytes).to.equal(raw.length);
        if (compression === 'GZIP') expect([...raw.subarray(0, 2)]).to.deep.equal([0x1f, 0x8b]);
        const text = await readText(file, compression === 'GZIP');
        const [header, ...rows] = parseCsv(text);
        expect(header).to.deep.equal(FLAT.map((f) => f.name));
        expect(rows).to.deep.equal(CSV_ROWS);
        expect(text).to.contain('\n1,"comma, ""quote""\nnew line","",');
      });
    }

    it('leaves the header out when printHeader is false', async function () {
      const file = await write('flat', FLAT, options('CSV', { printHeader: false }), 'noheader.csv');
      expect(parseCsv(await readText(file))).to.deep.equal(CSV_ROWS);
    });

    for (const [given, delimiter] of [
      ['\\t', '\t'],
      ['tab', '\t'],
      ['|', '|'],
      [';', ';'],
      ['þ', 'þ'],
    ] as const) {
      it(`separates fields with ${JSON.stringify(given)}`, async function () {
        const file = await write(
          'flat',
          FLAT,
          options('CSV', { fieldDelimiter: given }),
          `delim-${CSV_ROWS.length}-${given.charCodeAt(0)}.csv`,
        );
        const text = await readText(file);
        expect(text.split('\n')[0]).to.equal(FLAT.map((f) => f.name).join(delimiter));
        expect(parseCsv(text, delimiter).slice(1)).to.deep.equal(CSV_ROWS);
      });
    }

    it('quotes fields holding the delimiter', async function () {
      await connection.run(
        `CREATE TEMP TABLE semicolons AS SELECT * FROM (VALUES ('a;b', 'c'), ('"', NULL)) v(x, y)`,
      );
      const fields: FieldSchema[] = [
        { name: 'x', type: 'STRING' },
        { name: 'y', type: 'STRING' },
      ];
      const file = await write('semicolons', fields, options('CSV', { fieldDelimiter: ';' }), 'semi.csv', {
        offset: 0,
        limit: 2,
      });
      expect(await readText(file)).to.equal('x;y\n"a;b";c\n"""";\n');
    });

    it('refuses delimiters longer than one character', function () {
      expect(() => csvDelimiter({ fieldDelimiter: '||' })).to.throw(BigQueryError, /single character/);
      expect(csvDelimiter({ fieldDelimiter: '' })).to.equal(',');
    });

    it("refuses nested schemas with BigQuery's message", async function () {
      expect(() => assertCsvExportable(FLAT)).not.to.throw();
      let error: unknown;
      try {
        await write('nested', NESTED, options('CSV'), 'nested.csv');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(BigQueryError);
      expect((error as BigQueryError).message).to.equal(
        'Operation cannot be performed on a nested schema. Field: rec',
      );
      expect((error as BigQueryError).reason).to.equal('invalid');
      expect(() => assertCsvExportable([{ name: 'tags', type: 'STRING', mode: 'REPEATED' }])).to.throw(
        'Operation cannot be performed on a nested schema. Field: tags',
      );
    });

    it('refuses compressions CSV does not take', async function () {
      let error: unknown;
      try {
        await write('flat', FLAT, options('CSV', { compression: 'SNAPPY' }), 'snappy.csv');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(BigQueryError);
    });
  });

  describe('NEWLINE_DELIMITED_JSON', function () {
    for (const compression of ['NONE', 'GZIP'] as const) {
      it(`writes one object per row, nested and repeated fields included (${compression})`, async function () {
        const file = await write(
          'nested',
          NESTED,
          options('NEWLINE_DELIMITED_JSON', { compression }),
          `all-${compression}.json`,
        );
        expect(file.rows).to.equal(ROWS.length);
        const raw = await readFile(file.path);
        expect(file.bytes).to.equal(raw.length);
        if (compression === 'GZIP') expect([...raw.subarray(0, 2)]).to.deep.equal([0x1f, 0x8b]);
        const text = await readText(file, compression === 'GZIP');
        expect(text.endsWith('\n')).to.equal(true);
        expect(text.split('\n')).to.have.length(ROWS.length + 1);
        expect(jsonLines(text)).to.deep.equal(JSON_ROWS);
      });
    }

    it('keeps 64-bit integers exact as strings and writes whole floats without a fraction', async function () {
      const file = await write('nested', NESTED, options('NEWLINE_DELIMITED_JSON'), 'raw.json');
      const lines = (await readText(file)).split('\n');
      expect(lines[0]).to.contain('"i":"9223372036854775807"');
      expect(lines[0]).to.contain('"f":1.5');
      expect(lines[2]).to.equal('{"id":"2","rec":{"y":[]},"tags":[],"nums":[]}');
      expect(lines[3]).to.contain('"nums":[0.1,1e+20,-0.5,2]');
    });
  });

  describe('PARQUET', function () {
    for (const compression of ['SNAPPY', 'GZIP', 'ZSTD', 'NONE'] as const) {
      it(`writes BigQuery's Parquet types and values, read back by hyparquet (${compression})`, async function () {
        const file = await write(
          'nested',
          NESTED,
          options('PARQUET', { compression }),
          `all-${compression}.parquet`,
        );
        expect(file.rows).to.equal(ROWS.length);
        const { metadata, rows } = await readParquet(file.path);
        expect(Number(metadata.num_rows)).to.equal(ROWS.length);
        const codec = compression === 'NONE' ? 'UNCOMPRESSED' : compression;
        expect(metadata.row_groups[0]?.columns.map((c) => c.meta_data?.codec)).to.satisfy(
          (codecs: string[]) => codecs.every((c) => c === codec),
        );
        checkParquetSchema(metadata);
        checkParquetValues(rows);
      });
    }

    it('refuses compressions Parquet does not take', async function () {
      let error: unknown;
      try {
        await write('flat', FLAT, options('PARQUET', { compression: 'DEFLATE' }), 'deflate.parquet');
      } catch (err) {
        error = err;
      }
      expect(error).to.be.instanceOf(BigQueryError);
    });
  });

  describe('sharding', function () {
    const fields: FieldSchema[] = [
      { name: 'id', type: 'INTEGER' },
      { name: 's', type: 'STRING' },
    ];
    const shards: RowRange[] = [
      { offset: 0, limit: 6 },
      { offset: 6, limit: 6 },
      { offset: 12, limit: 6 },
    ];

    it('splits a CSV export into files whose rows add up, each with its header', async function () {
      const files = await Promise.all(
        shards.map((range, k) => write('series', fields, options('CSV'), `shard-${k}.csv`, range)),
      );
      expect(files.map((f) => f.rows)).to.deep.equal([6, 4, 0]);
      const parsed = await Promise.all(files.map(async (f) => parseCsv(await readText(f))));
      for (const rows of parsed) expect(rows[0]).to.deep.equal(['id', 's']);
      expect(parsed.flatMap((rows) => rows.slice(1).map((r) => r[0]))).to.deep.equal(
        Array.from({ length: 10 }, (_, k) => String(k)),
      );
    });

    it('splits JSON and Parquet exports the same way', async function () {
      const json = await Promise.all(
        shards.map((range, k) =>
          write('series', fields, options('NEWLINE_DELIMITED_JSON'), `shard-${k}.json`, range),
        ),
      );
      expect(json.map((f) => f.rows)).to.deep.equal([6, 4, 0]);
      expect(json[2]?.bytes).to.equal(0);
      const ids = (await Promise.all(json.map(async (f) => jsonLines(await readText(f))))).flat();
      expect(ids.map((r) => (r as { id: string }).id)).to.deep.equal(
        Array.from({ length: 10 }, (_, k) => String(k)),
      );

      const parquet = await Promise.all(
        shards.map((range, k) =>
          write('series', fields, options('PARQUET', { compression: 'SNAPPY' }), `shard-${k}.parquet`, range),
        ),
      );
      expect(parquet.map((f) => f.rows)).to.deep.equal([6, 4, 0]);
      const read = await Promise.all(parquet.map((f) => readParquet(f.path)));
      expect(read.map((r) => Number(r.metadata.num_rows))).to.deep.equal([6, 4, 0]);
      expect(read.flatMap((r) => r.rows.map((row) => row['id']))).to.deep.equal(
        Array.from({ length: 10 }, (_, k) => BigInt(k)),
      );
    });
  });
});

function checkParquetSchema(metadata: FileMetaData): void {
  const physical = (name: string) => element(metadata, name).type;
  const logical = (name: string) => element(metadata, name).logical_type;
  expect(physical('id')).to.equal('INT64');
  expect(physical('i')).to.equal('INT64');
  expect(physical('f')).to.equal('DOUBLE');
  expect(physical('bool')).to.equal('BOOLEAN');
  const utf8 = (name: string) => element(metadata, name).converted_type;
  expect([physical('s'), utf8('s')]).to.deep.equal(['BYTE_ARRAY', 'UTF8']);
  expect([physical('b'), logical('b')]).to.deep.equal(['BYTE_ARRAY', undefined]);
  const n = element(metadata, 'n');
  expect([n.type, n.logical_type]).to.deep.equal([
    'FIXED_LEN_BYTE_ARRAY',
    { type: 'DECIMAL', precision: 38, scale: 9 },
  ]);
  // BigQuery writes DECIMAL(76,38); DuckDB stops at 38 digits, so BIGNUMERIC is exported as its text.
  expect([physical('bn'), utf8('bn')]).to.deep.equal(['BYTE_ARRAY', 'UTF8']);
  // DuckDB annotates DATE with the (equivalent) converted type only.
  expect([physical('d'), utf8('d')]).to.deep.equal(['INT32', 'DATE']);
  expect([physical('dt'), logical('dt')]).to.deep.equal([
    'INT64',
    { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
  ]);
  expect([physical('t'), logical('t')]).to.deep.equal([
    'INT64',
    { type: 'TIME', isAdjustedToUTC: true, unit: 'MICROS' },
  ]);
  expect([physical('ts'), logical('ts')]).to.deep.equal([
    'INT64',
    { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
  ]);
  expect([physical('g'), logical('g')?.type]).to.deep.equal(['BYTE_ARRAY', 'GEOMETRY']);
  expect([physical('j'), logical('j')]).to.deep.equal(['BYTE_ARRAY', { type: 'JSON' }]);
  const rec = element(metadata, 'rec');
  expect([rec.type, rec.num_children]).to.deep.equal([undefined, 3]);
  expect(element(metadata, 'tags').converted_type).to.equal('LIST');
  expect(element(metadata, 'nums').converted_type).to.equal('LIST');
  expect(metadata.schema.map((e) => e.name)).to.include.members(NESTED.map((f) => f.name));
}

function checkParquetValues(rows: Record<string, unknown>[]): void {
  expect(rows).to.have.length(ROWS.length);
  const [r0, r1, r2, r3, r4] = rows as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  expect(r0['id']).to.equal(0n);
  expect(r0['s']).to.equal('plain');
  expect([...(r0['b'] as Uint8Array)]).to.deep.equal([0, 1, 2, 255]);
  expect(r0['i']).to.equal(9223372036854775807n);
  expect(r1['i']).to.equal(-9223372036854775808n);
  expect(r0['f']).to.equal(1.5);
  expect(r1['f']).to.be.NaN;
  expect(r3['f']).to.equal(Infinity);
  expect(r4['f']).to.equal(-Infinity);
  // hyparquet turns DECIMAL into a JS number.
  expect(r0['n']).to.be.closeTo(1e29, 1e15);
  expect(r1['n']).to.be.closeTo(-1e29, 1e15);
  expect(r3['n']).to.equal(0.5);
  expect(r0['bn']).to.equal(BIGNUMERIC_MAX);
  expect(r1['bn']).to.equal(BIGNUMERIC_MIN);
  expect([r0['bool'], r1['bool']]).to.deep.equal([true, false]);
  expect(r0['ts']).to.equal(micros('9999-12-31T23:59:59.999999'));
  expect(r1['ts']).to.equal(micros('0001-01-01T00:00:00'));
  expect(r3['ts']).to.equal(micros('2020-01-01T12:00:00.123'));
  expect([r0['d'], r1['d'], r3['d']]).to.deep.equal([
    days('9999-12-31'),
    days('0001-01-01'),
    days('2020-02-29'),
  ]);
  expect([r0['t'], r1['t'], r3['t']]).to.deep.equal([86_399_999_999n, 0n, 43_200_500_000n]);
  expect(r0['dt']).to.equal(micros('9999-12-31T23:59:59.999999'));
  expect(r3['dt']).to.equal(micros('2020-01-01T12:00:00.5'));
  expect(r0['g']).to.deep.equal({ type: 'Point', coordinates: [1, 2] });
  expect(r1['g']).to.deep.equal({
    type: 'LineString',
    coordinates: [
      [0, 0],
      [1, 1],
    ],
  });
  expect(r0['j']).to.deep.equal({ a: [1, 2], b: null });
  expect(r1['j']).to.equal('text');
  expect(r0['rec']).to.deep.equal({ x: 1n, y: ['a', 'b'], inner: { z: micros('2020-01-01T00:00:00.5') } });
  // hyparquet gives a NULL group as undefined.
  expect(r1['rec'] ?? null).to.equal(null);
  const rec2 = r2['rec'] as Record<string, unknown>;
  expect([rec2['x'] ?? null, rec2['y'], rec2['inner'] ?? null]).to.deep.equal([null, [], null]);
  expect(r0['tags']).to.deep.equal(['x', 'y']);
  expect(r1['tags']).to.deep.equal([]);
  expect(r0['nums']).to.deep.equal([1.25, NaN]);
  expect(r3['nums']).to.deep.equal([0.1, 1e20, -0.5, 2]);
  for (const name of FLAT.slice(1).map((f) => f.name)) expect(r2[name], name).to.equal(null);
  expect(r2['tags']).to.deep.equal([]);
}
