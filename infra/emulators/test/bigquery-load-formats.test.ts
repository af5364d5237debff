import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { expect } from 'chai';
import { rowsOf } from '../src/bigquery/engine.js';
import { fieldFromDuckType } from '../src/bigquery/formats/autodetect.js';
import { LoadError, loadReaderFor } from '../src/bigquery/formats/load-common.js';
import type { FileFormat, LoadedRows, LoadOptions } from '../src/bigquery/formats/types.js';
import { quoteIdent, type FieldSchema } from '../src/bigquery/schema.js';
import { selectListSql, toTextLeaf } from '../src/bigquery/value-sql.js';

const DEFAULTS: LoadOptions = {
  format: 'CSV',
  autodetect: false,
  skipLeadingRows: 0,
  fieldDelimiter: ',',
  quote: '"',
  allowQuotedNewlines: false,
  allowJaggedRows: false,
  ignoreUnknownValues: false,
  maxBadRecords: 0,
  nullMarker: '',
  useAvroLogicalTypes: false,
};

const f = (
  name: string,
  type: FieldSchema['type'],
  mode: FieldSchema['mode'] = 'NULLABLE',
  fields?: FieldSchema[],
): FieldSchema => (fields === undefined ? { name, type, mode } : { name, type, mode, fields });

const FLAT: FieldSchema[] = [
  f('s', 'STRING'),
  f('by', 'BYTES'),
  f('i', 'INTEGER'),
  f('fl', 'FLOAT'),
  f('n', 'NUMERIC'),
  f('bn', 'BIGNUMERIC'),
  f('bo', 'BOOLEAN'),
  f('ts', 'TIMESTAMP'),
  f('d', 'DATE'),
  f('t', 'TIME'),
  f('dt', 'DATETIME'),
  f('g', 'GEOGRAPHY'),
  f('j', 'JSON'),
];

const NESTED: FieldSchema[] = [
  ...FLAT,
  f('rec', 'RECORD', 'NULLABLE', [
    f('x', 'INTEGER'),
    f('tags', 'STRING', 'REPEATED'),
    f('inner', 'RECORD', 'NULLABLE', [f('z', 'NUMERIC')]),
  ]),
  f('arr', 'INTEGER', 'REPEATED'),
  f('recs', 'RECORD', 'REPEATED', [f('k', 'STRING'), f('v', 'FLOAT')]),
];

/** Flat rows as the canonical text form expects them back. */
const EDGE_TEXT: Record<string, unknown>[] = [
  {
    s: 'héllo, "world"',
    by: 'AAEC/w==',
    i: '9223372036854775807',
    fl: 'NaN',
    n: '99999999999999999999999999999.999999999',
    bn: '0.12345678901234567890123456789012345678',
    bo: 'true',
    ts: '0001-01-01 00:00:00+00',
    d: '0001-01-01',
    t: '00:00:00',
    dt: '0001-01-01T00:00:00',
    g: 'POINT(1 2)',
    j: '{"a":[1,2]}',
  },
  {
    s: '',
    by: '',
    i: '-9223372036854775808',
    fl: 'Infinity',
    n: '-99999999999999999999999999999.999999999',
    bn: '-578960446186580977117854925043439539266.34992332820282019728792003956564819967',
    bo: 'false',
    ts: '9999-12-31 23:59:59.999999+00',
    d: '9999-12-31',
    t: '23:59:59.999999',
    dt: '9999-12-31T23:59:59.999999',
    g: 'LINESTRING(0 0, 1 1)',
    j: '"text"',
  },
  {
    s: 'x',
    by: 'eA==',
    i: '0',
    fl: '-Infinity',
    n: '0.5',
    bn: '123',
    bo: 'true',
    ts: '2020-01-01 06:30:00.5+00',
    d: '2020-02-29',
    t: '12:00:00.500000',
    dt: '2020-02-29T12:00:00.500000',
    g: null,
    j: 'null',
  },
  Object.fromEntries(FLAT.map((field) => [field.name, null])),
];

describe('BigQuery load readers: CSV, NEWLINE_DELIMITED_JSON, PARQUET', function () {
  // Engine.open fails on this machine (DuckDBInstance.create rejects the TimeZone option), so the suite opens DuckDB itself.
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  let dir: string;
  let counter = 0;

  before(async function () {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
    await connection.run("SET TimeZone='UTC'");
    dir = await mkdtemp(join(tmpdir(), 'bq-load-'));
  });

  after(async function () {
    connection?.closeSync();
    instance?.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  const file = async (name: string, content: string | Buffer, gzip = false): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, gzip ? gzipSync(content) : content);
    return path;
  };

  const load = (
    format: FileFormat,
    files: string[],
    options: Partial<LoadOptions> = {},
  ): Promise<LoadedRows> =>
    loadReaderFor(format)(
      { connection, files, table: `loaded_${++counter}`, workDir: dir },
      { ...DEFAULTS, format, ...options },
    );

  const texts = async (loaded: LoadedRows): Promise<Record<string, unknown>[]> =>
    rowsOf(
      connection,
      `SELECT ${selectListSql(loaded.fields, toTextLeaf)} FROM ${quoteIdent(loaded.table)} ORDER BY rowid`,
    );

  const failure = async (promise: Promise<unknown>): Promise<LoadError> => {
    try {
      await promise;
    } catch (err) {
      expect(err).to.be.instanceOf(LoadError);
      return err as LoadError;
    }
    throw new Error('expected the load to fail');
  };

  const rejection = async (promise: Promise<unknown>): Promise<Error> => {
    try {
      await promise;
    } catch (err) {
      return err as Error;
    }
    throw new Error('expected the load to fail');
  };

  describe('NEWLINE_DELIMITED_JSON', function () {
    it('loads every type, edge values, nested and repeated fields from a gzip file with a plain name', async function () {
      const lines = [
        // Numbers as JSON numbers where BigQuery accepts them: the INTEGER edges and NUMERIC max keep every digit.
        `{"s": "héllo, \\"world\\"", "by": "AAEC/w==", "i": 9223372036854775807, "fl": "NaN", "n": 99999999999999999999999999999.999999999, "bn": "0.12345678901234567890123456789012345678", "bo": true, "ts": "0001-01-01 00:00:00 UTC", "d": "0001-01-01", "t": "00:00:00", "dt": "0001-01-01T00:00:00", "g": "POINT(1 2)", "j": {"a": [1, 2]}, "rec": {"x": 1, "tags": ["a", "b"], "inner": {"z": 1.25}}, "arr": [1, 2, 3], "recs": [{"k": "a", "v": 1.5}, {"k": "b"}]}`,
        `{"s": "", "by": "", "i": -9223372036854775808, "fl": "Infinity", "n": "-99999999999999999999999999999.999999999", "bn": "-578960446186580977117854925043439539266.34992332820282019728792003956564819967", "bo": "false", "ts": "9999-12-31 23:59:59.999999 UTC", "d": "9999-12-31", "t": "23:59:59.999999", "dt": "9999-12-31 23:59:59.999999", "g": "LINESTRING(0 0, 1 1)", "j": "text", "rec": null, "arr": [], "recs": []}`,
        '',
        `{"s": "x", "by": "eA==", "i": "0", "fl": "-Infinity", "n": 0.5, "bn": 123, "bo": true, "ts": "2020-01-01T12:00:00.5+05:30", "d": "2020-02-29", "t": "12:00:00.5", "dt": "2020-02-29T12:00:00.5", "g": null, "j": null, "rec": {"tags": null}}`,
        '{}',
      ];
      const path = await file('all-types.json', `${lines.join('\n')}\n`, true);
      const loaded = await load('NEWLINE_DELIMITED_JSON', [path], { schema: NESTED });
      expect(loaded).to.include({ rows: 4, badRecords: 0 });
      const rows = await texts(loaded);
      const flat = rows.map((r) => Object.fromEntries(FLAT.map((field) => [field.name, r[field.name]])));
      // A JSON null in a JSON column is SQL NULL.
      expect(flat).to.deep.equal(EDGE_TEXT.map((r, k) => (k === 2 ? { ...r, j: null } : r)));
      expect(rows.map((r) => [r['rec'], r['arr'], r['recs']])).to.deep.equal([
        [
          { x: '1', tags: ['a', 'b'], inner: { z: '1.25' } },
          ['1', '2', '3'],
          [
            { k: 'a', v: '1.5' },
            { k: 'b', v: null },
          ],
        ],
        [null, [], []],
        [{ x: null, tags: [], inner: null }, [], []],
        [null, [], []],
      ]);
    });

    it('accepts INTEGER as a JSON number or string, and TIMESTAMP as epoch seconds', async function () {
      const path = await file('numbers.json', '{"i": 123, "ts": 1.5}\n{"i": "123", "ts": "1"}\n');
      const loaded = await load('NEWLINE_DELIMITED_JSON', [path], {
        schema: [f('i', 'INTEGER'), f('ts', 'TIMESTAMP')],
      });
      expect(await texts(loaded)).to.deep.equal([
        { i: '123', ts: '1970-01-01 00:00:01.5+00' },
        { i: '123', ts: '1970-01-01 00:00:01+00' },
      ]);
    });

    it('treats unknown fields as bad records unless ignoreUnknownValues', async function () {
      const path = await file(
        'unknown.json',
        '{"a": 1}\n{"a": 2, "extra": true}\n{"a": 3, "r": {"x": 1, "y": 2}}\n',
      );
      const schema = [f('a', 'INTEGER'), f('r', 'RECORD', 'NULLABLE', [f('x', 'INTEGER')])];
      const err = await failure(load('NEWLINE_DELIMITED_JSON', [path], { schema }));
      expect(err.message).to.equal(
        'Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: 2; errors: 1. Please look into the errors[] collection for more details.',
      );
      expect(err.errors[0]).to.deep.equal({ reason: 'invalid', message: err.message });
      expect(err.errors.slice(1).map((e) => e.message)).to.deep.equal([
        'Error while reading data, error message: JSON parsing error in row starting at position 9: No such field: extra.',
        'Error while reading data, error message: JSON parsing error in row starting at position 33: No such field: r.y.',
      ]);
      expect(err.errors[1]?.location).to.equal(path);

      const tolerant = await load('NEWLINE_DELIMITED_JSON', [path], { schema, maxBadRecords: 2 });
      expect(tolerant).to.include({ rows: 1, badRecords: 2 });
      expect(tolerant.errors).to.have.length(2);

      const ignoring = await load('NEWLINE_DELIMITED_JSON', [path], { schema, ignoreUnknownValues: true });
      expect(ignoring).to.include({ rows: 3, badRecords: 0 });
      expect(await texts(ignoring)).to.deep.equal([
        { a: '1', r: null },
        { a: '2', r: null },
        { a: '3', r: { x: '1' } },
      ]);
    });

    it('counts unparsable values, malformed lines, wrong shapes and missing REQUIRED values as bad records', async function () {
      const lines = [
        '{"n": 1, "name": "ok"}',
        '{"n": "abc", "name": "x"}',
        '{"n": 2}',
        '{not json',
        '{"n": 3, "name": {"nested": 1}}',
        '[1, 2]',
        '{"n": 4, "name": "also ok"}',
      ];
      const path = await file('bad.json', `${lines.join('\n')}\n`);
      const schema = [f('n', 'INTEGER'), f('name', 'STRING', 'REQUIRED')];
      const under = await load('NEWLINE_DELIMITED_JSON', [path], { schema, maxBadRecords: 5 });
      expect(under).to.include({ rows: 2, badRecords: 5 });
      expect(await texts(under)).to.deep.equal([
        { n: '1', name: 'ok' },
        { n: '4', name: 'also ok' },
      ]);
      const messages = under.errors.map((e) => e.message);
      expect(messages).to.have.length(5);
      expect(messages[0]).to.equal(
        `Error while reading data, error message: JSON parsing error in row starting at position 23: Could not convert value 'string_value: "abc"' to INT64. Field: n; Value: abc`,
      );
      expect(messages[1]).to.equal(
        'Error while reading data, error message: JSON parsing error in row starting at position 49: Missing required field: name.',
      );
      expect(messages[2]).to.match(
        /^Error while reading data, error message: JSON parsing error in row starting at position 58: /,
      );
      expect(messages[3]).to.equal(
        'Error while reading data, error message: JSON parsing error in row starting at position 68: JSON object specified for non-record field: name',
      );
      expect(messages[4]).to.equal(
        'Error while reading data, error message: JSON parsing error in row starting at position 100: Top-level JSON value is not an object.',
      );

      const over = await failure(load('NEWLINE_DELIMITED_JSON', [path], { schema, maxBadRecords: 4 }));
      expect(over.message).to.equal(
        'Error while reading data, error message: JSON table encountered too many errors, giving up. Rows: 6; errors: 5. Please look into the errors[] collection for more details.',
      );
      expect(over.errors).to.have.length(6);
    });

    it('detects a nested schema', async function () {
      const path = await file(
        'auto.json',
        '{"id": 1, "name": "a", "score": 1.5, "ok": true, "day": "2020-01-01", "at": "2020-01-01 12:00:00", "tags": ["x"], "who": {"first": "A", "n": 2}}\n{"id": 2, "name": null, "score": 2, "ok": false, "tags": [], "who": {"first": "B"}}\n',
      );
      const loaded = await load('NEWLINE_DELIMITED_JSON', [path], { autodetect: true });
      expect(loaded.fields).to.deep.equal([
        f('id', 'INTEGER'),
        f('name', 'STRING'),
        f('score', 'FLOAT'),
        f('ok', 'BOOLEAN'),
        f('day', 'DATE'),
        f('at', 'TIMESTAMP'),
        f('tags', 'STRING', 'REPEATED'),
        f('who', 'RECORD', 'NULLABLE', [f('first', 'STRING'), f('n', 'INTEGER')]),
      ]);
      expect(await texts(loaded)).to.deep.equal([
        {
          id: '1',
          name: 'a',
          score: '1.5',
          ok: 'true',
          day: '2020-01-01',
          at: '2020-01-01 12:00:00+00',
          tags: ['x'],
          who: { first: 'A', n: '2' },
        },
        {
          id: '2',
          name: null,
          score: '2.0',
          ok: 'false',
          day: null,
          at: null,
          tags: [],
          who: { first: 'B', n: null },
        },
      ]);
    });
  });

  describe('CSV', function () {
    const csvLine = (r: Record<string, unknown>): string =>
      FLAT.map((field) => {
        const v = r[field.name] as string | null;
        if (v === null) return '';
        const text = field.name === 'ts' ? v.replace('+00', ' UTC') : v;
        return /[",\n]/.test(text) || text === '' ? `"${text.replaceAll('"', '""')}"` : text;
      }).join(',');

    it('loads every flat type with edge values, skipping leading rows, from gzip', async function () {
      const body = ['a header line that is skipped', ...EDGE_TEXT.map(csvLine)].join('\r\n');
      const path = await file('all-types.csv.bin', body, true);
      const loaded = await load('CSV', [path], {
        schema: FLAT,
        skipLeadingRows: 1,
        allowQuotedNewlines: true,
      });
      expect(loaded).to.include({ rows: 4, badRecords: 0 });
      // With the default null marker, a quoted empty field ("") is an empty STRING/BYTES, an unquoted one NULL.
      expect(await texts(loaded)).to.deep.equal(EDGE_TEXT);
    });

    it('tells a quoted empty field from an unquoted one, and a trailing empty field from a missing one', async function () {
      const body = ['"",,"",', ',"",,""', 'a,,1,', '"",""', 'x,,2,y,', '"","",""'].join('\n') + '\n';
      const path = await file('empties.csv', body);
      const schema = [f('s', 'STRING'), f('by', 'BYTES'), f('i', 'INTEGER'), f('t', 'STRING')];
      const loaded = await load('CSV', [path], { schema, maxBadRecords: 3 });
      expect(loaded).to.include({ rows: 3, badRecords: 3 });
      expect(await texts(loaded)).to.deep.equal([
        { s: '', by: null, i: null, t: null },
        { s: null, by: '', i: null, t: '' },
        { s: 'a', by: null, i: '1', t: null },
      ]);
      expect(loaded.errors.map((e) => e.message)).to.deep.equal([
        'Error while reading data, error message: CSV table references column position 3, but line starting at position:22 contains only 2 columns.',
        'Error while reading data, error message: Too many values in row starting at position: 28. Found 5 column(s) while expected 4.',
        'Error while reading data, error message: CSV table references column position 3, but line starting at position:36 contains only 3 columns.',
      ]);

      const jagged = await load('CSV', [path], { schema, allowJaggedRows: true, ignoreUnknownValues: true });
      expect(jagged).to.include({ rows: 6, badRecords: 0 });
      expect((await texts(jagged)).slice(3)).to.deep.equal([
        { s: '', by: '', i: null, t: null },
        { s: 'x', by: null, i: '2', t: 'y' },
        { s: '', by: '', i: null, t: null },
      ]);

      // A REQUIRED STRING takes "" but not an empty field; a custom null marker makes empty fields empty strings.
      const required = await load('CSV', [await file('required.csv', '"",1\n,2\n')], {
        schema: [f('s', 'STRING', 'REQUIRED'), f('i', 'INTEGER')],
        maxBadRecords: 1,
      });
      expect(await texts(required)).to.deep.equal([{ s: '', i: '1' }]);
      expect(required.errors[0]?.message).to.equal(
        'Error while reading data, error message: Required field s cannot be null; line starting at position: 5',
      );
      const marked = await load('CSV', [await file('marker.csv', '"",\\N,\n\\N,,""\n')], {
        schema: [f('a', 'STRING'), f('b', 'STRING'), f('c', 'STRING')],
        nullMarker: '\\N',
      });
      expect(await texts(marked)).to.deep.equal([
        { a: '', b: null, c: '' },
        { a: null, b: '', c: '' },
      ]);
    });

    it('honours nullMarker, a tab delimiter, another quote and quoted newlines', async function () {
      const path = await file('tabs.tsv', "'a\tb'\t1\t\\N\n'line\nbreak'\t\\N\t\n");
      const schema = [f('s', 'STRING'), f('i', 'INTEGER'), f('e', 'STRING')];
      const options = {
        schema,
        fieldDelimiter: 'tab',
        quote: "'",
        nullMarker: '\\N',
        allowQuotedNewlines: true,
      };
      const loaded = await load('CSV', [path], options);
      expect(await texts(loaded)).to.deep.equal([
        { s: 'a\tb', i: '1', e: null },
        { s: 'line\nbreak', i: null, e: '' },
      ]);
      const strict = await failure(load('CSV', [path], { ...options, allowQuotedNewlines: false }));
      expect(strict.errors[1]?.message).to.equal(
        'Error while reading data, error message: Error detected while parsing row starting at position: 11. Error: Missing close double quote (") character.',
      );
    });

    it('handles jagged rows and extra columns', async function () {
      const path = await file('jagged.csv', 'a,1,x\nb,2\nc\nd,4,y,extra\n');
      const schema = [f('s', 'STRING'), f('i', 'INTEGER'), f('t', 'STRING')];
      const jagged = await load('CSV', [path], { schema, allowJaggedRows: true, maxBadRecords: 1 });
      expect(jagged).to.include({ rows: 3, badRecords: 1 });
      expect(await texts(jagged)).to.deep.equal([
        { s: 'a', i: '1', t: 'x' },
        { s: 'b', i: '2', t: null },
        { s: 'c', i: null, t: null },
      ]);
      expect(jagged.errors.map((e) => e.message)).to.deep.equal([
        'Error while reading data, error message: Too many values in row starting at position: 12. Found 4 column(s) while expected 3.',
      ]);

      const strict = await failure(load('CSV', [path], { schema }));
      expect(strict.message).to.equal(
        'Error while reading data, error message: CSV table encountered too many errors, giving up. Rows: 2; errors: 1. Please look into the errors[] collection for more details.',
      );
      expect(strict.errors.slice(1).map((e) => e.message)).to.deep.equal([
        'Error while reading data, error message: CSV table references column position 2, but line starting at position:6 contains only 2 columns.',
        'Error while reading data, error message: CSV table references column position 2, but line starting at position:10 contains only 1 columns.',
        'Error while reading data, error message: Too many values in row starting at position: 12. Found 4 column(s) while expected 3.',
      ]);

      // ignoreUnknownValues drops trailing extra values in CSV.
      const ignoring = await load('CSV', [path], {
        schema,
        allowJaggedRows: true,
        ignoreUnknownValues: true,
      });
      expect(ignoring).to.include({ rows: 4, badRecords: 0 });
    });

    it('counts values that do not parse as bad records, up to maxBadRecords', async function () {
      const path = await file('bad.csv', 'n,when\n1,2020-01-01\nabc,2020-01-02\n3,not a date\n4,\n');
      const schema = [f('n', 'INTEGER', 'REQUIRED'), f('when', 'DATE', 'REQUIRED')];
      const under = await load('CSV', [path], { schema, skipLeadingRows: 1, maxBadRecords: 3 });
      expect(under).to.include({ rows: 1, badRecords: 3 });
      expect(await texts(under)).to.deep.equal([{ n: '1', when: '2020-01-01' }]);
      expect(under.errors.map((e) => e.message)).to.deep.equal([
        "Error while reading data, error message: Could not parse 'abc' as INT64 for field n (position 0) starting at location 20  with message 'Unable to parse'",
        "Error while reading data, error message: Could not parse 'not a date' as DATE for field when (position 1) starting at location 35  with message 'Unable to parse'",
        'Error while reading data, error message: Required field when cannot be null; line starting at position: 48',
      ]);
      const over = await failure(load('CSV', [path], { schema, skipLeadingRows: 1, maxBadRecords: 1 }));
      expect(over.message).to.equal(
        'Error while reading data, error message: CSV table encountered too many errors, giving up. Rows: 3; errors: 2. Please look into the errors[] collection for more details.',
      );
    });

    it('refuses RECORD and REPEATED fields', async function () {
      const path = await file('nested.csv', '1\n');
      const repeated = await rejection(load('CSV', [path], { schema: [f('a', 'INTEGER', 'REPEATED')] }));
      expect(repeated.message).to.equal('Cannot load CSV data with a repeated field. Field: a');
      const nested = await rejection(
        load('CSV', [path], { schema: [f('r', 'RECORD', 'NULLABLE', [f('x', 'INTEGER')])] }),
      );
      expect(nested.message).to.equal('Cannot load CSV data with a nested schema. Field: r');
    });

    it('detects types and a header row', async function () {
      const path = await file(
        'header.csv',
        'id,full name,score,ok,day,at,clock\n1,Ann,1.5,true,2020-01-01,2020-01-01 12:00:00,12:00:00\n2,Bob,2,false,2020-01-02,2020-01-02T00:00:00Z,13:30:00.5\n3,,,,,,\n',
      );
      const loaded = await load('CSV', [path], { autodetect: true });
      expect(loaded.fields).to.deep.equal([
        f('id', 'INTEGER'),
        f('full_name', 'STRING'),
        f('score', 'FLOAT'),
        f('ok', 'BOOLEAN'),
        f('day', 'DATE'),
        f('at', 'TIMESTAMP'),
        f('clock', 'TIME'),
      ]);
      expect(loaded.rows).to.equal(3);
      expect((await texts(loaded))[1]).to.deep.equal({
        id: '2',
        full_name: 'Bob',
        score: '2.0',
        ok: 'false',
        day: '2020-01-02',
        at: '2020-01-02 00:00:00+00',
        clock: '13:30:00.500000',
      });
    });

    it('names columns by type when there is no header', async function () {
      const path = await file('noheader.csv', '1,a,2.5\n2,b,3\n');
      const loaded = await load('CSV', [path], { autodetect: true });
      expect(loaded.fields).to.deep.equal([
        f('int64_field_0', 'INTEGER'),
        f('string_field_1', 'STRING'),
        f('double_field_2', 'FLOAT'),
      ]);
      expect(await texts(loaded)).to.deep.equal([
        { int64_field_0: '1', string_field_1: 'a', double_field_2: '2.5' },
        { int64_field_0: '2', string_field_1: 'b', double_field_2: '3.0' },
      ]);
      // All-string columns: the first row cannot be told from data, so it is loaded as a row.
      const strings = await load('CSV', [await file('strings.csv', 'name\nann\n')], { autodetect: true });
      expect(strings.fields).to.deep.equal([f('string_field_0', 'STRING')]);
      expect(strings.rows).to.equal(2);
    });

    it('reads several files, gzip and plain, in order', async function () {
      const a = await file('part-a.csv', 'h\n1\n2\n', true);
      const b = await file('part-b.csv.gz', 'h\n3\n');
      const loaded = await load('CSV', [a, b], { schema: [f('n', 'INTEGER')], skipLeadingRows: 1 });
      expect(await texts(loaded)).to.deep.equal([{ n: '1' }, { n: '2' }, { n: '3' }]);
    });
  });

  describe('PARQUET', function () {
    let path: string;

    before(async function () {
      path = join(dir, 'typed.parquet');
      await connection.run(`COPY (
        SELECT * FROM (VALUES
          (9223372036854775807::BIGINT, 1.5::DOUBLE, 12.5::DECIMAL(10,2), '0.12345678901234567890123456789012345678'::DECIMAL(38,38),
           'x', '\\x00\\xFF'::BLOB, DATE '0001-01-01', TIMESTAMPTZ '9999-12-31 23:59:59.999999+00', TIMESTAMP '2020-01-01 12:00:00.5',
           TIME '23:59:59.999999', [1, 2], {'a': 1, 'b': ['x']}, '{"k":[1]}'::JSON, 7::INTEGER, 'NaN'::DOUBLE),
          (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
        ) v(i, f, n, bn, s, b, d, ts, dt, t, l, st, j, i32, nan)
      ) TO '${path}' (FORMAT PARQUET)`);
    });

    it('takes the schema from the file, lists as list/element records by default', async function () {
      const loaded = await load('PARQUET', [path]);
      expect(loaded.fields).to.deep.equal([
        f('i', 'INTEGER'),
        f('f', 'FLOAT'),
        f('n', 'NUMERIC'),
        f('bn', 'BIGNUMERIC'),
        f('s', 'STRING'),
        f('b', 'BYTES'),
        f('d', 'DATE'),
        f('ts', 'TIMESTAMP'),
        f('dt', 'DATETIME'),
        f('t', 'TIME'),
        f('l', 'RECORD', 'NULLABLE', [f('list', 'RECORD', 'REPEATED', [f('element', 'INTEGER')])]),
        f('st', 'RECORD', 'NULLABLE', [
          f('a', 'INTEGER'),
          f('b', 'RECORD', 'NULLABLE', [f('list', 'RECORD', 'REPEATED', [f('element', 'STRING')])]),
        ]),
        f('j', 'JSON'),
        f('i32', 'INTEGER'),
        f('nan', 'FLOAT'),
      ]);
      expect(await texts(loaded)).to.deep.equal([
        {
          i: '9223372036854775807',
          f: '1.5',
          n: '12.5',
          bn: '0.12345678901234567890123456789012345678',
          s: 'x',
          b: 'AP8=',
          d: '0001-01-01',
          ts: '9999-12-31 23:59:59.999999+00',
          dt: '2020-01-01T12:00:00.500000',
          t: '23:59:59.999999',
          l: { list: [{ element: '1' }, { element: '2' }] },
          st: { a: '1', b: { list: [{ element: 'x' }] } },
          j: '{"k":[1]}',
          i32: '7',
          nan: 'NaN',
        },
        Object.fromEntries(loaded.fields.map((field) => [field.name, null])),
      ]);
    });

    it('infers REPEATED fields with list inference', async function () {
      const loaded = await loadReaderFor('PARQUET')(
        { connection, files: [path], table: `loaded_${++counter}`, workDir: dir },
        { ...DEFAULTS, format: 'PARQUET', enableListInference: true } as LoadOptions,
      );
      expect(loaded.fields.find((x) => x.name === 'l')).to.deep.equal(f('l', 'INTEGER', 'REPEATED'));
      const rows = await texts(loaded);
      expect(rows.map((r) => [r['l'], r['st']])).to.deep.equal([
        [['1', '2'], { a: '1', b: ['x'] }],
        [[], null],
      ]);
    });

    it('converts to an explicit schema', async function () {
      const schema = [
        f('i', 'STRING'),
        f('n', 'BIGNUMERIC'),
        f('ts', 'TIMESTAMP'),
        f('dt', 'TIMESTAMP'),
        f('l', 'FLOAT', 'REPEATED'),
        f('st', 'RECORD', 'NULLABLE', [f('b', 'STRING', 'REPEATED'), f('missing', 'DATE')]),
        f('absent', 'STRING'),
      ];
      const loaded = await load('PARQUET', [path], { schema });
      expect(loaded.fields).to.deep.equal(schema);
      expect((await texts(loaded))[0]).to.deep.equal({
        i: '9223372036854775807',
        n: '12.5',
        ts: '9999-12-31 23:59:59.999999+00',
        dt: '2020-01-01 12:00:00.5+00',
        l: ['1.0', '2.0'],
        st: { b: ['x'], missing: null },
        absent: null,
      });
      const wrong = await rejection(load('PARQUET', [path], { schema: [f('st', 'INTEGER')] }));
      expect(wrong.message).to.match(/^Provided schema is not compatible with the file/);
    });
  });

  it('maps DuckDB column types to fields', function () {
    expect(
      fieldFromDuckType(
        'x',
        'STRUCT("a b" BIGINT, c TIMESTAMP WITH TIME ZONE[], d DECIMAL(38,9), e DECIMAL(40,10))[]',
      ),
    ).to.deep.equal(
      f('x', 'RECORD', 'REPEATED', [
        f('a b', 'INTEGER'),
        f('c', 'TIMESTAMP', 'REPEATED'),
        f('d', 'NUMERIC'),
        f('e', 'BIGNUMERIC'),
      ]),
    );
    expect(fieldFromDuckType('m', 'MAP(VARCHAR, INTEGER)')).to.deep.equal(
      f('m', 'RECORD', 'NULLABLE', [
        f('key_value', 'RECORD', 'REPEATED', [f('key', 'STRING'), f('value', 'INTEGER')]),
      ]),
    );
    expect(fieldFromDuckType('h', 'HUGEINT')).to.deep.equal(f('h', 'INTEGER'));
    expect(fieldFromDuckType('dt', 'TIMESTAMP')).to.deep.equal(f('dt', 'DATETIME'));
  });
});
