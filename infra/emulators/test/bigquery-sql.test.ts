import type { DuckDBConnection } from '@duckdb/node-api';
import { expect } from 'chai';
import { BigQueryError, notFound } from '../src/bigquery/api-error.js';
import { Engine } from '../src/bigquery/engine.js';
import type { FieldSchema } from '../src/bigquery/schema.js';
import { executeQuery } from '../src/bigquery/sql/execute.js';
import { fingerprint64 } from '../src/bigquery/sql/farmhash.js';
import type { QueryContext, TableRef, TableResolver } from '../src/bigquery/sql/types.js';
import { selectListSql, toTextLeaf } from '../src/bigquery/value-sql.js';

const PROJECT = 'proj';
const NOW = Date.parse('2024-05-06T07:08:09.123Z');
const V2_FROM = Date.parse('2024-05-06T06:00:00Z');

const ITEMS: FieldSchema[] = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
  { name: 'name', type: 'STRING', mode: 'NULLABLE' },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  {
    name: 'rec',
    type: 'RECORD',
    mode: 'NULLABLE',
    fields: [
      { name: 'a', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 'b', type: 'STRING', mode: 'NULLABLE' },
    ],
  },
  { name: 'ts', type: 'TIMESTAMP', mode: 'NULLABLE' },
  { name: 'amount', type: 'NUMERIC', mode: 'NULLABLE' },
  { name: 'data', type: 'BYTES', mode: 'NULLABLE' },
  { name: 'score', type: 'FLOAT', mode: 'NULLABLE' },
];
const VERSIONED: FieldSchema[] = [
  { name: 'k', type: 'INTEGER', mode: 'NULLABLE' },
  { name: 'v', type: 'STRING', mode: 'NULLABLE' },
];
const PARTED: FieldSchema[] = [{ name: 'x', type: 'INTEGER', mode: 'NULLABLE' }];

class FakeResolver implements TableResolver {
  readonly calls: { ref: TableRef; at: number | undefined }[] = [];
  readonly views: { view: string; scope: { projectId: string; datasetId?: string } }[] = [];

  table(
    ref: TableRef,
    at?: number,
  ): Promise<{ sql: string; fields: FieldSchema[]; partitionTimeColumn?: string }> {
    this.calls.push({ ref, at });
    const key = `${ref.projectId}.${ref.datasetId}.${ref.tableId}`;
    if (key === `${PROJECT}.ds.items`)
      return Promise.resolve({ sql: '(SELECT * FROM items)', fields: ITEMS });
    if (key === `${PROJECT}.ds.versioned`) {
      const table = at !== undefined && at < V2_FROM ? 'versioned_v1' : 'versioned_v2';
      return Promise.resolve({ sql: `(SELECT * FROM ${table})`, fields: VERSIONED });
    }
    if (key === `${PROJECT}.ds.parted`)
      return Promise.resolve({ sql: '(SELECT * FROM parted)', fields: PARTED, partitionTimeColumn: '__pt' });
    if (key === `other-project.ds2.items`)
      return Promise.resolve({ sql: '(SELECT * FROM items)', fields: ITEMS });
    return Promise.reject(
      notFound(
        `Not found: Table ${ref.projectId}:${ref.datasetId}.${ref.tableId} was not found in location US`,
      ),
    );
  }

  informationSchema(
    view: string,
    scope: { projectId: string; datasetId?: string },
  ): Promise<{ sql: string }> {
    this.views.push({ view, scope });
    if (view !== 'TABLES') return Promise.reject(notFound(`Not found: Table ${view}`));
    return Promise.resolve({
      sql: `(SELECT * FROM (VALUES ('${scope.projectId}', 'ds', 'items'), ('${scope.projectId}', 'ds', 'versioned')) AS v(table_catalog, table_schema, table_name))`,
    });
  }
}

describe('BigQuery SQL engine (GoogleSQL → DuckDB)', function () {
  let engine: Engine;
  let connection: DuckDBConnection;
  let release: () => void;
  let resolver: FakeResolver;
  let counter = 0;

  before(async function () {
    engine = await Engine.open(':memory:');
    // Hold one connection for the suite: result tables are read back on it.
    connection = await new Promise<DuckDBConnection>((resolve) => {
      void engine.withConnection(
        (c) =>
          new Promise<void>((done) => {
            release = done;
            resolve(c);
          }),
      );
    });
    await connection.run(`
      CREATE TABLE items (id BIGINT, name VARCHAR, tags VARCHAR[], rec STRUCT(a BIGINT, b VARCHAR), ts TIMESTAMPTZ,
        amount DECIMAL(38,9), data BLOB, score DOUBLE);
      INSERT INTO items VALUES
        (1, 'apple', ['red', 'sweet'], {'a': 10, 'b': 'x'}, '2024-01-01 00:00:00+00', 1.5, '\\x00\\xFF'::BLOB, 0.5),
        (2, 'banana', [], NULL, '2024-02-01 12:30:00.25+00', NULL, NULL, 2),
        (3, NULL, ['green'], {'a': NULL, 'b': NULL}, NULL, 3, 'abc'::BLOB, NULL);
      CREATE TABLE versioned_v1 (k BIGINT, v VARCHAR);
      INSERT INTO versioned_v1 VALUES (1, 'old');
      CREATE TABLE versioned_v2 (k BIGINT, v VARCHAR);
      INSERT INTO versioned_v2 VALUES (1, 'new'), (2, 'added');
      CREATE TABLE parted (x BIGINT, __pt TIMESTAMPTZ);
      INSERT INTO parted VALUES (1, '2024-01-01 00:00:00+00'), (2, '2024-01-02 00:00:00+00');
    `);
  });

  after(async function () {
    release();
    await engine.close();
  });

  beforeEach(function () {
    resolver = new FakeResolver();
  });

  const context = (extra: Partial<QueryContext> = {}): QueryContext => ({
    connection,
    resolver,
    defaultProjectId: PROJECT,
    now: NOW,
    ...extra,
  });

  async function run(query: string, extra: Partial<QueryContext> = {}) {
    const table = `result_${counter++}`;
    const result = await executeQuery(query, context(extra), table);
    const reader = await connection.runAndReadAll(
      `SELECT ${selectListSql(result.fields, toTextLeaf)} FROM ${table}`,
    );
    const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
    await connection.run(`DROP TABLE ${table}`);
    expect(rows).to.have.length(result.rows);
    return { ...result, rows };
  }

  /** The single value of a one-row, one-column query, in text form. */
  async function value(expression: string, extra: Partial<QueryContext> = {}): Promise<unknown> {
    const { rows } = await run(`SELECT ${expression}`, extra);
    return rows[0]?.['f0_'];
  }

  async function failure(query: string, extra: Partial<QueryContext> = {}): Promise<BigQueryError> {
    try {
      await run(query, extra);
    } catch (err) {
      expect(err).to.be.instanceOf(BigQueryError);
      return err as BigQueryError;
    }
    throw new Error(`expected ${query} to fail`);
  }

  const types = (fields: FieldSchema[]): string[] => fields.map((f) => `${f.name}:${f.type}:${f.mode ?? ''}`);

  describe('table names and basic clauses', function () {
    it('reads a table by dataset.table, project.dataset.table and backquoted paths', async function () {
      for (const name of ['ds.items', '`proj.ds.items`', '`proj`.ds.items', 'proj.ds.items', '`ds.items`']) {
        const { rows, referencedTables } = await run(`SELECT id FROM ${name} ORDER BY id`);
        expect(rows.map((r) => r['id'])).to.deep.equal(['1', '2', '3']);
        expect(referencedTables).to.deep.equal([{ projectId: PROJECT, datasetId: 'ds', tableId: 'items' }]);
      }
      const dashed = await run('SELECT COUNT(*) AS n FROM other-project.ds2.items');
      expect(dashed.rows).to.deep.equal([{ n: '3' }]);
      expect(dashed.referencedTables[0]?.projectId).to.equal('other-project');
    });

    it('resolves a bare table name against the default dataset', async function () {
      const { rows } = await run('SELECT count(*) FROM items', { defaultDataset: { datasetId: 'ds' } });
      expect(rows).to.deep.equal([{ f0_: '3' }]);
    });

    it('returns the full result schema with stored types, arrays and records', async function () {
      const { fields, rows } = await run('SELECT * FROM ds.items WHERE id = 1');
      expect(types(fields)).to.deep.equal([
        'id:INTEGER:NULLABLE',
        'name:STRING:NULLABLE',
        'tags:STRING:REPEATED',
        'rec:RECORD:NULLABLE',
        'ts:TIMESTAMP:NULLABLE',
        'amount:NUMERIC:NULLABLE',
        'data:BYTES:NULLABLE',
        'score:FLOAT:NULLABLE',
      ]);
      expect(fields[3]?.fields?.map((f) => f.name)).to.deep.equal(['a', 'b']);
      expect(rows[0]).to.deep.equal({
        id: '1',
        name: 'apple',
        tags: ['red', 'sweet'],
        rec: { a: '10', b: 'x' },
        ts: '2024-01-01 00:00:00+00',
        amount: '1.5',
        data: 'AP8=',
        score: '0.5',
      });
    });

    it('names unnamed columns f0_, f1_... and keeps aliases and column names', async function () {
      const { fields } = await run(
        'SELECT id, 1, name AS n, t.rec.a, UPPER(name), rec.b x FROM ds.items t LIMIT 1',
      );
      expect(fields.map((f) => f.name)).to.deep.equal(['id', 'f0_', 'n', 'a', 'f1_', 'x']);
    });

    it('supports WHERE, GROUP BY, HAVING, ORDER BY (NULLs first ascending), LIMIT and OFFSET', async function () {
      const grouped = await run(
        'SELECT MOD(id, 2) AS odd, COUNT(*) AS n, SUM(id) AS s FROM ds.items WHERE id > 0 GROUP BY odd HAVING COUNT(*) >= 1 ORDER BY odd DESC',
      );
      expect(grouped.rows).to.deep.equal([
        { odd: '1', n: '2', s: '4' },
        { odd: '0', n: '1', s: '2' },
      ]);
      expect(types(grouped.fields)).to.deep.equal([
        'odd:INTEGER:NULLABLE',
        'n:INTEGER:NULLABLE',
        's:INTEGER:NULLABLE',
      ]);
      const ordered = await run('SELECT name FROM ds.items ORDER BY name LIMIT 2 OFFSET 0');
      expect(ordered.rows.map((r) => r['name'])).to.deep.equal([null, 'apple']);
      const paged = await run('SELECT id FROM ds.items ORDER BY id DESC LIMIT 1 OFFSET 1');
      expect(paged.rows).to.deep.equal([{ id: '2' }]);
    });

    it('supports joins, subqueries, CTEs and UNION ALL', async function () {
      const joined = await run(
        'SELECT a.id, b.v FROM ds.items AS a LEFT JOIN ds.versioned b ON a.id = b.k ORDER BY a.id',
      );
      expect(joined.rows).to.deep.equal([
        { id: '1', v: 'new' },
        { id: '2', v: 'added' },
        { id: '3', v: null },
      ]);
      const cte = await run(
        'WITH big AS (SELECT id FROM ds.items WHERE id >= 2), small AS (SELECT id FROM ds.items WHERE id < 2) SELECT id FROM big UNION ALL SELECT id FROM small ORDER BY id',
      );
      expect(cte.rows.map((r) => r['id'])).to.deep.equal(['1', '2', '3']);
      const sub = await run(
        'SELECT (SELECT MAX(id) FROM ds.items) AS top, x FROM (SELECT id * 2 AS x FROM ds.items) WHERE x IN (SELECT id FROM ds.items) ORDER BY x',
      );
      expect(sub.rows).to.deep.equal([{ top: '3', x: '2' }]);
      const exists = await run(
        'SELECT COUNT(*) AS n FROM ds.items i WHERE EXISTS (SELECT 1 FROM ds.versioned v WHERE v.k = i.id)',
      );
      expect(exists.rows).to.deep.equal([{ n: '2' }]);
      const distinct = await run('SELECT 1 AS x UNION DISTINCT SELECT 1 UNION ALL SELECT 2 ORDER BY x');
      expect(distinct.rows.map((r) => r['x'])).to.deep.equal(['1', '2']);
    });

    it('supports SELECT * EXCEPT / REPLACE, t.* and SELECT DISTINCT', async function () {
      const { fields, rows } = await run(
        'SELECT * EXCEPT (tags, rec, ts, data, score) REPLACE (id * 10 AS id) FROM ds.items ORDER BY id',
      );
      expect(fields.map((f) => f.name)).to.deep.equal(['id', 'name', 'amount']);
      expect(rows.map((r) => r['id'])).to.deep.equal(['10', '20', '30']);
      const star = await run('SELECT v.* FROM ds.versioned v ORDER BY k');
      expect(star.fields.map((f) => f.name)).to.deep.equal(['k', 'v']);
      const distinct = await run('SELECT DISTINCT MOD(id, 2) AS m FROM ds.items ORDER BY m');
      expect(distinct.rows.map((r) => r['m'])).to.deep.equal(['0', '1']);
    });

    it('accepts comments, case-insensitive keywords and functions, and a trailing semicolon', async function () {
      const { rows } = await run(`
        -- a comment
        # another comment
        select /* inline */ Count(*) AS n
        FROM ds.items wHeRe ID >= 2;`);
      expect(rows).to.deep.equal([{ n: '2' }]);
    });
  });

  describe('aggregates', function () {
    it('computes COUNT, COUNT(DISTINCT), SUM, AVG, MIN, MAX, COUNTIF, ANY_VALUE and LOGICAL_AND/OR', async function () {
      const { rows, fields } = await run(
        `SELECT COUNT(*) AS c, COUNT(name) AS cn, COUNT(DISTINCT MOD(id, 2)) AS cd, SUM(id) AS s, AVG(id) AS a,
           MIN(name) AS mn, MAX(ts) AS mx, COUNTIF(id > 1) AS ci, ANY_VALUE(id) > 0 AS av,
           LOGICAL_AND(id > 0) AS la, LOGICAL_OR(id > 2) AS lo, BIT_XOR(id) AS bx, SUM(amount) AS sa
         FROM ds.items`,
      );
      expect(rows[0]).to.deep.equal({
        c: '3',
        cn: '2',
        cd: '2',
        s: '6',
        a: '2.0',
        mn: 'apple',
        mx: '2024-02-01 12:30:00.25+00',
        ci: '2',
        av: 'true',
        la: 'true',
        lo: 'true',
        bx: '0',
        sa: '4.5',
      });
      expect(types(fields).slice(0, 5)).to.deep.equal([
        'c:INTEGER:NULLABLE',
        'cn:INTEGER:NULLABLE',
        'cd:INTEGER:NULLABLE',
        's:INTEGER:NULLABLE',
        'a:FLOAT:NULLABLE',
      ]);
      expect(fields.find((f) => f.name === 'sa')?.type).to.equal('NUMERIC');
    });

    it('computes ARRAY_AGG (ORDER BY, IGNORE NULLS, LIMIT) and STRING_AGG', async function () {
      const { rows, fields } = await run(
        `SELECT ARRAY_AGG(id ORDER BY id DESC) AS ids, ARRAY_AGG(name IGNORE NULLS ORDER BY name) AS names,
           ARRAY_AGG(id ORDER BY id LIMIT 2) AS firsts, STRING_AGG(name, '|' ORDER BY id) AS joined, STRING_AGG(name) AS plain
         FROM ds.items`,
      );
      expect(rows[0]).to.deep.equal({
        ids: ['3', '2', '1'],
        names: ['apple', 'banana'],
        firsts: ['1', '2'],
        joined: 'apple|banana',
        plain: 'apple,banana',
      });
      expect(types(fields).slice(0, 2)).to.deep.equal(['ids:INTEGER:REPEATED', 'names:STRING:REPEATED']);
    });

    it('supports window functions', async function () {
      const { rows } = await run(
        'SELECT id, ROW_NUMBER() OVER (ORDER BY id DESC) AS rn, SUM(id) OVER (PARTITION BY MOD(id, 2)) AS s FROM ds.items ORDER BY id',
      );
      expect(rows).to.deep.equal([
        { id: '1', rn: '3', s: '4' },
        { id: '2', rn: '2', s: '2' },
        { id: '3', rn: '1', s: '4' },
      ]);
    });
  });

  describe('arrays, structs and UNNEST', function () {
    it('unnests arrays in FROM, with offsets, correlated, and in IN UNNEST', async function () {
      const plain = await run('SELECT x, o FROM UNNEST([10, 20, 30]) AS x WITH OFFSET AS o ORDER BY o');
      expect(plain.rows).to.deep.equal([
        { x: '10', o: '0' },
        { x: '20', o: '1' },
        { x: '30', o: '2' },
      ]);
      const correlated = await run(
        'SELECT t.id, tag FROM ds.items t, UNNEST(t.tags) AS tag ORDER BY t.id, tag',
      );
      expect(correlated.rows).to.deep.equal([
        { id: '1', tag: 'red' },
        { id: '1', tag: 'sweet' },
        { id: '3', tag: 'green' },
      ]);
      const implicit = await run('SELECT COUNT(*) AS n FROM ds.items t, t.tags AS tag');
      expect(implicit.rows).to.deep.equal([{ n: '3' }]);
      const left = await run(
        'SELECT t.id, tag FROM ds.items t LEFT JOIN UNNEST(t.tags) AS tag WHERE t.id = 2',
      );
      expect(left.rows).to.deep.equal([{ id: '2', tag: null }]);
      const inUnnest = await run(
        "SELECT id FROM ds.items WHERE name IN UNNEST(['apple', 'kiwi']) OR id IN UNNEST([3])",
      );
      expect(inUnnest.rows.map((r) => r['id']).sort()).to.deep.equal(['1', '3']);
    });

    it('rebuilds arrays in order through UNNEST aliases that reuse the column names', async function () {
      // GoogleSQL reads the UNNEST argument before its aliases exist: `UNNEST(tags) AS tags` is the column.
      const { rows } = await run(
        'SELECT id, ARRAY(SELECT UPPER(tags) FROM UNNEST(tags) AS tags WITH OFFSET AS o ORDER BY o DESC) AS up, ' +
          'ARRAY(SELECT AS STRUCT name AS tag, tags AS pos FROM UNNEST(tags) AS name WITH OFFSET AS tags ORDER BY tags) AS items ' +
          'FROM ds.items ORDER BY id',
      );
      expect(rows).to.deep.equal([
        {
          id: '1',
          up: ['SWEET', 'RED'],
          items: [
            { tag: 'red', pos: '0' },
            { tag: 'sweet', pos: '1' },
          ],
        },
        { id: '2', up: [], items: [] },
        { id: '3', up: ['GREEN'], items: [{ tag: 'green', pos: '0' }] },
      ]);
    });

    it('indexes arrays with OFFSET, ORDINAL and SAFE_OFFSET, and errors out of bounds', async function () {
      expect(await value('[1, 2, 3][OFFSET(1)]')).to.equal('2');
      expect(await value('[1, 2, 3][ORDINAL(1)]')).to.equal('1');
      expect(await value('[1, 2, 3][SAFE_OFFSET(7)]')).to.equal(null);
      expect(await value('[1, 2, 3][SAFE_ORDINAL(0)]')).to.equal(null);
      expect(await value('[1, 2, 3][2]')).to.equal('3');
      const err = await failure('SELECT [1, 2][OFFSET(5)]');
      expect(err.message).to.equal('Array index 5 is out of bounds (overflow)');
      const { rows } = await run('SELECT tags[SAFE_OFFSET(1)] AS second FROM ds.items ORDER BY id');
      expect(rows.map((r) => r['second'])).to.deep.equal(['sweet', null, null]);
    });

    it('builds structs and arrays, reads struct fields, and reports RECORD and REPEATED schemas', async function () {
      const { fields, rows } = await run(
        "SELECT STRUCT(1 AS a, 'x' AS b) AS s, STRUCT<n INT64, m STRING>(2, 'y') AS typed, (1, 'z') AS anon, ARRAY<FLOAT64>[1, 2] AS fl, ARRAY(SELECT id FROM ds.items ORDER BY id) AS sub, rec.a, ARRAY_LENGTH(tags) AS len FROM ds.items WHERE id = 1",
      );
      expect(rows[0]).to.deep.equal({
        s: { a: '1', b: 'x' },
        typed: { n: '2', m: 'y' },
        anon: { _field_1: '1', _field_2: 'z' },
        fl: ['1.0', '2.0'],
        sub: ['1', '2', '3'],
        a: '10',
        len: '2',
      });
      expect(fields[0]?.type).to.equal('RECORD');
      expect(fields[0]?.fields?.map((f) => `${f.name}:${f.type}`)).to.deep.equal(['a:INTEGER', 'b:STRING']);
      expect(fields[2]?.fields?.map((f) => f.name)).to.deep.equal(['_field_1', '_field_2']);
      expect(`${fields[3]?.type}:${fields[3]?.mode}`).to.equal('FLOAT:REPEATED');
    });

    it('generates arrays and splits strings', async function () {
      expect(await value('GENERATE_ARRAY(1, 7, 3)')).to.deep.equal(['1', '4', '7']);
      expect(await value("SPLIT('a,b,,c')")).to.deep.equal(['a', 'b', '', 'c']);
      expect(await value("SPLIT('a-b', '-')")).to.deep.equal(['a', 'b']);
      expect(await value("GENERATE_DATE_ARRAY(DATE '2024-01-30', DATE '2024-02-01')")).to.deep.equal([
        '2024-01-30',
        '2024-01-31',
        '2024-02-01',
      ]);
      expect(await value("ARRAY_TO_STRING(['a', 'b'], '+')")).to.equal('a+b');
    });
  });

  describe('literals, casts and conditionals', function () {
    it('reads GoogleSQL literals with their types', async function () {
      const { fields, rows } = await run(
        `SELECT 1 AS i, 1.5 AS f, 0x1F AS h, 'it\\'s' AS s1, "dq" AS s2, '''tri'ple''' AS s3, r'\\d+' AS raw, b'\\x00a' AS byt,
           DATE '2024-02-29' AS d, TIME '12:34:56.5' AS t, DATETIME '2024-01-01 10:00:00' AS dt,
           TIMESTAMP '2024-01-01 10:00:00 UTC' AS ts, TIMESTAMP '2024-01-01T10:00:00+02:00' AS tz, NUMERIC '1.25' AS n,
           BIGNUMERIC '2.5' AS bn, JSON '{"a": 1}' AS j, TRUE AS b, NULL AS nul, 'a\\nb' AS esc`,
      );
      expect(rows[0]).to.deep.equal({
        i: '1',
        f: '1.5',
        h: '31',
        s1: "it's",
        s2: 'dq',
        s3: "tri'ple",
        raw: '\\d+',
        byt: 'AGE=',
        d: '2024-02-29',
        t: '12:34:56.500000',
        dt: '2024-01-01T10:00:00',
        ts: '2024-01-01 10:00:00+00',
        tz: '2024-01-01 08:00:00+00',
        n: '1.25',
        bn: '2.5',
        j: '{"a":1}',
        b: 'true',
        nul: null,
        esc: 'a\nb',
      });
      expect(fields.map((f) => f.type)).to.deep.equal([
        'INTEGER',
        'FLOAT',
        'INTEGER',
        'STRING',
        'STRING',
        'STRING',
        'STRING',
        'BYTES',
        'DATE',
        'TIME',
        'DATETIME',
        'TIMESTAMP',
        'TIMESTAMP',
        'NUMERIC',
        'NUMERIC',
        'JSON',
        'BOOLEAN',
        'INTEGER',
        'STRING',
      ]);
    });

    it('casts with GoogleSQL type names, and SAFE_CAST returns NULL', async function () {
      const { fields, rows } = await run(
        `SELECT CAST('12' AS INT64) AS i, CAST(1 AS FLOAT64) AS f, CAST('1.5' AS NUMERIC) AS n, CAST('true' AS BOOL) AS b,
           CAST(12 AS STRING) AS s, CAST('abc' AS BYTES) AS byt, CAST('2024-01-02' AS DATE) AS d, CAST('01:02:03' AS TIME) AS t,
           CAST('2024-01-02 03:04:05' AS DATETIME) AS dt, CAST('2024-01-02 03:04:05+00' AS TIMESTAMP) AS ts,
           SAFE_CAST('x' AS INT64) AS bad, CAST(['1', '2'] AS ARRAY<INT64>) AS arr, CAST('2.5' AS BIGNUMERIC) AS bn,
           CAST(STRUCT(1 AS a) AS STRUCT<a STRING>) AS st`,
      );
      expect(rows[0]).to.deep.equal({
        i: '12',
        f: '1.0',
        n: '1.5',
        b: 'true',
        s: '12',
        byt: 'YWJj',
        d: '2024-01-02',
        t: '01:02:03',
        dt: '2024-01-02T03:04:05',
        ts: '2024-01-02 03:04:05+00',
        bad: null,
        arr: ['1', '2'],
        bn: '2.5',
        st: { a: '1' },
      });
      expect(fields.map((f) => f.type).slice(0, 10)).to.deep.equal([
        'INTEGER',
        'FLOAT',
        'NUMERIC',
        'BOOLEAN',
        'STRING',
        'BYTES',
        'DATE',
        'TIME',
        'DATETIME',
        'TIMESTAMP',
      ]);
      const err = await failure("SELECT CAST('x' AS INT64)");
      expect(err.message).to.equal('Bad int64 value: x');
    });

    it('evaluates IF, IFNULL, COALESCE, NULLIF, CASE and GREATEST', async function () {
      expect(await value("IF(1 > 0, 'yes', 'no')")).to.equal('yes');
      expect(await value('IFNULL(NULL, 5)')).to.equal('5');
      expect(await value('COALESCE(NULL, NULL, 7)')).to.equal('7');
      expect(await value('NULLIF(3, 3)')).to.equal(null);
      expect(await value("CASE WHEN 1 = 2 THEN 'a' WHEN 2 = 2 THEN 'b' ELSE 'c' END")).to.equal('b');
      expect(await value("CASE 3 WHEN 3 THEN 'three' END")).to.equal('three');
      expect(await value('GREATEST(1, 5, 3)')).to.equal('5');
      expect(await value('GREATEST(1, NULL)')).to.equal(null);
      expect(await value('5 ^ 3')).to.equal('6');
      expect(await value('DIV(7, 2)')).to.equal('3');
      expect(await value('SAFE_DIVIDE(1, 0)')).to.equal(null);
      expect(await value('SAFE.SUBSTR(NULL, 1)')).to.equal(null);
    });
  });

  describe('string functions', function () {
    const cases: [string, unknown][] = [
      ["LENGTH('héllo')", '5'],
      ["LENGTH(b'ab\\x00')", '3'],
      ["UPPER('abc')", 'ABC'],
      ["LOWER('ABC')", 'abc'],
      ["CONCAT('a', 'b', 'c')", 'abc'],
      ["CONCAT('a', NULL)", null],
      ["'a' || 'b'", 'ab'],
      ["SUBSTR('hello', 2)", 'ello'],
      ["SUBSTR('hello', 2, 3)", 'ell'],
      ["SUBSTR('hello', -3)", 'llo'],
      ["SUBSTR('hello', 0, 2)", 'he'],
      ["REGEXP_CONTAINS('abc123', r'\\d+')", 'true'],
      ["REGEXP_CONTAINS('abc', r'^\\d')", 'false'],
      ["REGEXP_EXTRACT('id=42;', r'id=(\\d+)')", '42'],
      ["REGEXP_EXTRACT('abc', r'\\d')", null],
      ["REGEXP_REPLACE('a1b2', r'\\d', 'X')", 'aXbX'],
      ["STARTS_WITH('hello', 'he')", 'true'],
      ["ENDS_WITH('hello', 'lo')", 'true'],
      ["STRPOS('hello', 'l')", '3'],
      ["TRIM('  x  ')", 'x'],
      ["REPLACE('aaa', 'a', 'b')", 'bbb'],
      ["LPAD('7', 3, '0')", '007'],
      ["FORMAT('%d-%s', 5, 'x')", '5-x'],
      ["TO_HEX(b'\\x01\\xab')", '01ab'],
      ["TO_BASE64(b'abc')", 'YWJj'],
      ["REVERSE('abc')", 'cba'],
    ];
    for (const [expression, expected] of cases) {
      it(`evaluates ${expression}`, async function () {
        expect(await value(expression)).to.deep.equal(expected);
      });
    }
  });

  describe('date and time functions', function () {
    const cases: [string, unknown][] = [
      ['CURRENT_TIMESTAMP()', '2024-05-06 07:08:09.123+00'],
      ['CURRENT_TIMESTAMP', '2024-05-06 07:08:09.123+00'],
      ['CURRENT_DATE()', '2024-05-06'],
      ['CURRENT_DATETIME()', '2024-05-06T07:08:09.123000'],
      ["CURRENT_DATE('America/Los_Angeles')", '2024-05-06'],
      ['TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)', '2024-05-06 06:08:09.123+00'],
      ["TIMESTAMP_ADD(TIMESTAMP '2024-01-01 00:00:00+00', INTERVAL 90 MINUTE)", '2024-01-01 01:30:00+00'],
      ["TIMESTAMP '2024-01-01 00:00:00+00' - INTERVAL 1 DAY", '2023-12-31 00:00:00+00'],
      ['TIMESTAMP_MILLIS(1700000000123)', '2023-11-14 22:13:20.123+00'],
      ['TIMESTAMP_MICROS(1700000000123456)', '2023-11-14 22:13:20.123456+00'],
      ['TIMESTAMP_SECONDS(1700000000)', '2023-11-14 22:13:20+00'],
      ["UNIX_MILLIS(TIMESTAMP '2023-11-14 22:13:20.123456+00')", '1700000000123'],
      ["UNIX_MICROS(TIMESTAMP '2023-11-14 22:13:20.123456+00')", '1700000000123456'],
      ["UNIX_SECONDS(TIMESTAMP '2023-11-14 22:13:20.9+00')", '1700000000'],
      ["DATE_ADD(DATE '2024-01-31', INTERVAL 1 MONTH)", '2024-02-29'],
      ["DATE_SUB(DATE '2024-03-01', INTERVAL 1 DAY)", '2024-02-29'],
      ["DATE_DIFF(DATE '2024-03-01', DATE '2024-02-01', DAY)", '29'],
      ["TIMESTAMP_DIFF(TIMESTAMP '2001-02-01 01:00:00+00', TIMESTAMP '2001-02-01 00:00:01+00', HOUR)", '0'],
      ["DATE_TRUNC(DATE '2024-05-17', MONTH)", '2024-05-01'],
      ["DATE_TRUNC(DATE '2024-05-17', WEEK)", '2024-05-12'],
      ["DATE_TRUNC(DATE '2024-05-17', ISOWEEK)", '2024-05-13'],
      ["DATE_TRUNC(DATE '2024-05-17', YEAR)", '2024-01-01'],
      ["TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12+00', HOUR)", '2024-05-17 13:00:00+00'],
      ["TIMESTAMP_TRUNC(TIMESTAMP '2024-05-17 13:45:12+00', DAY)", '2024-05-17 00:00:00+00'],
      ["EXTRACT(YEAR FROM DATE '2024-05-17')", '2024'],
      ["EXTRACT(DAYOFWEEK FROM DATE '2024-05-12')", '1'],
      ["EXTRACT(HOUR FROM TIMESTAMP '2024-05-17 13:45:12+00')", '13'],
      ["EXTRACT(MICROSECOND FROM TIMESTAMP '2024-05-17 13:45:12.000345+00')", '345'],
      ["EXTRACT(DATE FROM TIMESTAMP '2024-05-17 23:45:12+00')", '2024-05-17'],
      ["EXTRACT(HOUR FROM TIMESTAMP '2024-05-17 13:45:12+00' AT TIME ZONE 'America/New_York')", '9'],
      ["FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%S', TIMESTAMP '2024-05-17 13:45:12+00')", '2024-05-17 13:45:12'],
      ["FORMAT_TIMESTAMP('%F %T', TIMESTAMP '2024-05-17 13:45:12+00', 'Asia/Tokyo')", '2024-05-17 22:45:12'],
      ["FORMAT_DATE('%Y/%m/%d', DATE '2024-05-17')", '2024/05/17'],
      ["PARSE_DATE('%Y%m%d', '20240517')", '2024-05-17'],
      ["PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S', '2024-05-17 13:45:12')", '2024-05-17 13:45:12+00'],
      ["DATE(TIMESTAMP '2024-05-17 23:00:00+00')", '2024-05-17'],
      ['DATE(2024, 5, 17)', '2024-05-17'],
      ["TIMESTAMP('2024-05-17 10:00:00')", '2024-05-17 10:00:00+00'],
      ["TIMESTAMP(DATE '2024-05-17', 'America/New_York')", '2024-05-17 04:00:00+00'],
    ];
    for (const [expression, expected] of cases) {
      it(`evaluates ${expression}`, async function () {
        expect(await value(expression)).to.deep.equal(expected);
      });
    }

    it('types date functions as BigQuery does', async function () {
      const { fields } = await run(
        "SELECT CURRENT_TIMESTAMP() a, CURRENT_DATE() b, DATE_TRUNC(DATE '2024-01-02', MONTH) c, EXTRACT(YEAR FROM DATE '2024-01-01') d, UNIX_MILLIS(CURRENT_TIMESTAMP()) e, TIMESTAMP_TRUNC(CURRENT_TIMESTAMP(), DAY) f",
      );
      expect(fields.map((f) => f.type)).to.deep.equal([
        'TIMESTAMP',
        'DATE',
        'DATE',
        'INTEGER',
        'INTEGER',
        'TIMESTAMP',
      ]);
    });
  });

  describe('TO_JSON_STRING and FARM_FINGERPRINT', function () {
    it('serializes whole rows in BigQuery JSON encodings', async function () {
      const { rows } = await run('SELECT TO_JSON_STRING(t) AS j FROM ds.items AS t ORDER BY id');
      expect(rows.map((r) => r['j'])).to.deep.equal([
        '{"id":1,"name":"apple","tags":["red","sweet"],"rec":{"a":10,"b":"x"},"ts":"2024-01-01T00:00:00Z","amount":1.5,"data":"AP8=","score":0.5}',
        '{"id":2,"name":"banana","tags":[],"rec":null,"ts":"2024-02-01T12:30:00.250000Z","amount":null,"data":null,"score":2}',
        '{"id":3,"name":null,"tags":["green"],"rec":{"a":null,"b":null},"ts":null,"amount":3,"data":"YWJj","score":null}',
      ]);
    });

    it('serializes columns and expressions', async function () {
      const { rows } = await run(
        "SELECT TO_JSON_STRING(rec) AS r, TO_JSON_STRING(t.tags) AS tg, TO_JSON_STRING(STRUCT(1 AS a, 'q' AS b)) AS s, TO_JSON_STRING([1, 2]) AS arr FROM ds.items t WHERE id = 1",
      );
      expect(rows[0]).to.deep.equal({
        r: '{"a":10,"b":"x"}',
        tg: '["red","sweet"]',
        s: '{"a":1,"b":"q"}',
        arr: '[1,2]',
      });
    });

    it("computes Google's FarmHash Fingerprint64", async function () {
      // Reference values of farmhash's Fingerprint64 (github.com/google/farmhash test vectors).
      const reference: [string, bigint][] = [
        ['', 0x9ae16a3b2f90404fn],
        ['a', 0xb3454265b6df75e3n],
        ['abcdefghi', 0x332c8ed4dae5ba42n],
        ['0123456789^0123456789', 0xdebcba8e6f3eabd1n],
        ['Discard medicine more than two years old.', 0xe8f89ab6df9bdd25n],
        ['For every action there is an equal and opposite government program.', 0x55182f8859eca4cen],
      ];
      for (const [text, expected] of reference)
        expect(fingerprint64(new TextEncoder().encode(text))).to.equal(expected);
      const { rows, fields } = await run(
        "SELECT FARM_FINGERPRINT('abc') AS s, FARM_FINGERPRINT(b'abc') AS b, FARM_FINGERPRINT(NULL) AS n, FARM_FINGERPRINT(REPEAT('x', 200)) AS long",
      );
      expect(rows[0]).to.deep.equal({
        s: BigInt.asIntN(64, 0x24a5b3a074e7f369n).toString(),
        b: BigInt.asIntN(64, 0x24a5b3a074e7f369n).toString(),
        n: null,
        long: BigInt.asIntN(64, fingerprint64(new TextEncoder().encode('x'.repeat(200)))).toString(),
      });
      expect(fields[0]?.type).to.equal('INTEGER');
    });

    it("serializes a subquery's rows with the types the subquery yields", async function () {
      // A DATETIME cast in a subquery is a DATETIME to TO_JSON_STRING, as in BigQuery (not DuckDB's text).
      const { rows } = await run(
        "SELECT TO_JSON_STRING(t) AS j FROM (SELECT id, CAST('2021-03-04T05:06:07.500000' AS DATETIME) AS d, rec, tags FROM ds.items WHERE id = 1) AS t",
      );
      expect(rows).to.deep.equal([
        { j: '{"id":1,"d":"2021-03-04T05:06:07.500000","rec":{"a":10,"b":"x"},"tags":["red","sweet"]}' },
      ]);
    });

    it('fingerprints rows for restore verification', async function () {
      const { rows } = await run(
        'SELECT BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(t))) AS h, COUNT(*) AS n FROM ds.items t',
      );
      const expected = [
        '{"id":1,"name":"apple","tags":["red","sweet"],"rec":{"a":10,"b":"x"},"ts":"2024-01-01T00:00:00Z","amount":1.5,"data":"AP8=","score":0.5}',
        '{"id":2,"name":"banana","tags":[],"rec":null,"ts":"2024-02-01T12:30:00.250000Z","amount":null,"data":null,"score":2}',
        '{"id":3,"name":null,"tags":["green"],"rec":{"a":null,"b":null},"ts":null,"amount":3,"data":"YWJj","score":null}',
      ]
        .map((json) => BigInt.asIntN(64, fingerprint64(new TextEncoder().encode(json))))
        .reduce((a, b) => a ^ b);
      expect(rows[0]).to.deep.equal({ h: expected.toString(), n: '3' });
    });
  });

  describe('time travel, INFORMATION_SCHEMA and pseudo-columns', function () {
    it('reads FOR SYSTEM_TIME AS OF an expression, a literal and a parameter', async function () {
      const now = await run('SELECT v FROM ds.versioned ORDER BY k');
      expect(now.rows.map((r) => r['v'])).to.deep.equal(['new', 'added']);
      expect(resolver.calls[0]?.at).to.equal(undefined);

      const past = await run(
        'SELECT v FROM ds.versioned FOR SYSTEM_TIME AS OF TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR) ORDER BY k',
      );
      expect(past.rows.map((r) => r['v'])).to.deep.equal(['old']);
      expect(resolver.calls[1]?.at).to.equal(NOW - 2 * 3600 * 1000);

      const aliased = await run(
        "SELECT t.v FROM ds.versioned AS t FOR SYSTEM_TIME AS OF TIMESTAMP '2024-05-06 06:30:00+00' WHERE t.k = 1",
      );
      expect(aliased.rows).to.deep.equal([{ v: 'new' }]);
      expect(resolver.calls[2]?.at).to.equal(Date.parse('2024-05-06T06:30:00Z'));

      const param = await run('SELECT COUNT(*) AS n FROM ds.versioned FOR SYSTEM_TIME AS OF @at', {
        parameters: [
          {
            name: 'at',
            parameterType: { type: 'TIMESTAMP' },
            parameterValue: { value: '2024-05-06T05:00:00.000Z' },
          },
        ],
        parameterMode: 'NAMED',
      });
      expect(param.rows).to.deep.equal([{ n: '1' }]);
      expect(resolver.calls[3]?.at).to.equal(Date.parse('2024-05-06T05:00:00Z'));
    });

    it('reads INFORMATION_SCHEMA views through the resolver', async function () {
      const region = await run(
        'SELECT table_name FROM `region-us`.INFORMATION_SCHEMA.TABLES ORDER BY table_name',
      );
      expect(region.rows.map((r) => r['table_name'])).to.deep.equal(['items', 'versioned']);
      expect(resolver.views[0]).to.deep.equal({ view: 'TABLES', scope: { projectId: PROJECT } });
      await run('SELECT * FROM region-us.INFORMATION_SCHEMA.TABLES');
      expect(resolver.views[1]).to.deep.equal({ view: 'TABLES', scope: { projectId: PROJECT } });
      await run('SELECT table_name FROM proj.ds.INFORMATION_SCHEMA.TABLES');
      expect(resolver.views[2]).to.deep.equal({
        view: 'TABLES',
        scope: { projectId: PROJECT, datasetId: 'ds' },
      });
      await run('SELECT table_name FROM `p2.ds9.INFORMATION_SCHEMA.TABLES`');
      expect(resolver.views[3]).to.deep.equal({
        view: 'TABLES',
        scope: { projectId: 'p2', datasetId: 'ds9' },
      });
      await run('SELECT table_name FROM ds.INFORMATION_SCHEMA.TABLES');
      expect(resolver.views[4]).to.deep.equal({
        view: 'TABLES',
        scope: { projectId: PROJECT, datasetId: 'ds' },
      });
      const err = await failure('SELECT * FROM ds.INFORMATION_SCHEMA.NOPE');
      expect(err.reason).to.equal('notFound');
    });

    it('maps _PARTITIONTIME and _PARTITIONDATE and hides them from SELECT *', async function () {
      const star = await run('SELECT * FROM ds.parted ORDER BY x');
      expect(star.fields.map((f) => f.name)).to.deep.equal(['x']);
      const pseudo = await run(
        'SELECT x, _PARTITIONTIME AS pt, _PARTITIONDATE AS pd FROM ds.parted WHERE _PARTITIONTIME >= TIMESTAMP "2024-01-02" ORDER BY x',
      );
      expect(pseudo.rows).to.deep.equal([{ x: '2', pt: '2024-01-02 00:00:00+00', pd: '2024-01-02' }]);
      expect(pseudo.fields.map((f) => f.type)).to.deep.equal(['INTEGER', 'TIMESTAMP', 'DATE']);
      const qualified = await run('SELECT p._PARTITIONTIME AS pt FROM ds.parted p WHERE x = 1');
      expect(qualified.rows).to.deep.equal([{ pt: '2024-01-01 00:00:00+00' }]);
      const json = await run('SELECT TO_JSON_STRING(p) AS j FROM ds.parted p WHERE x = 1');
      expect(json.rows).to.deep.equal([{ j: '{"x":1}' }]);
    });
  });

  describe('query parameters', function () {
    it('substitutes named parameters of every scalar type, case-insensitively', async function () {
      const { rows, fields } = await run(
        'SELECT @i + 1 AS i, @f AS f, @s AS s, @b AS b, @by AS byt, @d AS d, @ts AS ts, @dt AS dt, @n AS n, @NULLABLE AS nul, @J AS j',
        {
          parameterMode: 'NAMED',
          parameters: [
            { name: 'i', parameterType: { type: 'INT64' }, parameterValue: { value: '41' } },
            { name: 'f', parameterType: { type: 'FLOAT64' }, parameterValue: { value: 2.5 } },
            { name: 's', parameterType: { type: 'STRING' }, parameterValue: { value: "it's" } },
            { name: 'b', parameterType: { type: 'BOOL' }, parameterValue: { value: 'true' } },
            { name: 'by', parameterType: { type: 'BYTES' }, parameterValue: { value: 'AP8=' } },
            { name: 'd', parameterType: { type: 'DATE' }, parameterValue: { value: '2024-01-02' } },
            {
              name: 'ts',
              parameterType: { type: 'TIMESTAMP' },
              parameterValue: { value: '2024-01-02 03:04:05.678+00:00' },
            },
            {
              name: 'dt',
              parameterType: { type: 'DATETIME' },
              parameterValue: { value: '2024-01-02T03:04:05' },
            },
            { name: 'n', parameterType: { type: 'NUMERIC' }, parameterValue: { value: '3.25' } },
            { name: 'nullable', parameterType: { type: 'STRING' }, parameterValue: {} },
            { name: 'j', parameterType: { type: 'JSON' }, parameterValue: { value: '{"k":[1]}' } },
          ],
        },
      );
      expect(rows[0]).to.deep.equal({
        i: '42',
        f: '2.5',
        s: "it's",
        b: 'true',
        byt: 'AP8=',
        d: '2024-01-02',
        ts: '2024-01-02 03:04:05.678+00',
        dt: '2024-01-02T03:04:05',
        n: '3.25',
        nul: null,
        j: '{"k":[1]}',
      });
      expect(fields.map((f) => f.type)).to.deep.equal([
        'INTEGER',
        'FLOAT',
        'STRING',
        'BOOLEAN',
        'BYTES',
        'DATE',
        'TIMESTAMP',
        'DATETIME',
        'NUMERIC',
        'STRING',
        'JSON',
      ]);
    });

    it('substitutes positional parameters in order', async function () {
      const { rows } = await run('SELECT id FROM ds.items WHERE id > ? AND name <> ? ORDER BY id', {
        parameterMode: 'POSITIONAL',
        parameters: [
          { parameterType: { type: 'INT64' }, parameterValue: { value: '0' } },
          { parameterType: { type: 'STRING' }, parameterValue: { value: 'apple' } },
        ],
      });
      expect(rows).to.deep.equal([{ id: '2' }]);
    });

    it('substitutes ARRAY and STRUCT parameters as the Node client sends them', async function () {
      const { rows, fields } = await run('SELECT id FROM ds.items WHERE id IN UNNEST(@ids) ORDER BY id', {
        parameterMode: 'NAMED',
        parameters: [
          {
            name: 'ids',
            parameterType: { type: 'ARRAY', arrayType: { type: 'INT64' } },
            parameterValue: { arrayValues: [{ value: '1' }, { value: '3' }] },
          },
        ],
      });
      expect(rows.map((r) => r['id'])).to.deep.equal(['1', '3']);
      expect(fields[0]?.type).to.equal('INTEGER');
      const struct = await run('SELECT @s AS s, @s.name AS name, @empty AS empty', {
        parameterMode: 'NAMED',
        parameters: [
          {
            name: 's',
            parameterType: {
              type: 'STRUCT',
              structTypes: [
                { name: 'name', type: { type: 'STRING' } },
                { name: 'when', type: { type: 'TIMESTAMP' } },
                { name: 'vals', type: { type: 'ARRAY', arrayType: { type: 'FLOAT64' } } },
              ],
            },
            parameterValue: {
              structValues: {
                name: { value: 'n1' },
                when: { value: '2024-01-01T00:00:00.000Z' },
                vals: { arrayValues: [{ value: '1.5' }] },
              },
            },
          },
          {
            name: 'empty',
            parameterType: { type: 'ARRAY', arrayType: { type: 'STRING' } },
            parameterValue: {},
          },
        ],
      });
      expect(struct.rows[0]).to.deep.equal({
        s: { name: 'n1', when: '2024-01-01 00:00:00+00', vals: ['1.5'] },
        name: 'n1',
        empty: [],
      });
      expect(struct.fields[0]?.fields?.map((f) => `${f.name}:${f.type}:${f.mode ?? ''}`)).to.deep.equal([
        'name:STRING:NULLABLE',
        'when:TIMESTAMP:NULLABLE',
        'vals:FLOAT:REPEATED',
      ]);
    });

    it('rejects unknown parameters', async function () {
      const err = await failure('SELECT @missing', { parameterMode: 'NAMED', parameters: [] });
      expect(err.message).to.equal("Query parameter 'missing' not found at [1:8]");
    });
  });

  describe('errors', function () {
    it('reports syntax errors with positions', async function () {
      expect((await failure('SELECT * FROM')).message).to.equal(
        'Syntax error: Unexpected end of script at [1:14]',
      );
      expect((await failure("SELECT 'abc")).message).to.equal(
        'Syntax error: Unclosed string literal at [1:8]',
      );
      expect((await failure('SELECT (1')).message).to.match(/^Syntax error: Unexpected end of script/);
      expect((await failure('SELECT 1 UNION SELECT 2')).message).to.equal(
        'Syntax error: Expected keyword ALL or keyword DISTINCT but got keyword SELECT at [1:16]',
      );
      const err = await failure('SELECT 1 +');
      expect(err.reason).to.equal('invalidQuery');
      expect(err.message).to.match(/^Syntax error/);
    });

    it('reports unknown tables, columns and functions as BigQuery does', async function () {
      const table = await failure('SELECT * FROM ds.nope');
      expect(table.reason).to.equal('notFound');
      expect(table.message).to.equal('Not found: Table proj:ds.nope was not found in location US');
      const column = await failure('SELECT id,\n  nope FROM ds.items');
      expect(column.reason).to.equal('invalidQuery');
      expect(column.message).to.equal('Unrecognized name: nope at [2:3]');
      const fn = await failure('SELECT NO_SUCH_FN(1)');
      expect(fn.message).to.equal('Function not found: no_such_fn at [1:8]');
    });

    it('requires a dataset for bare table names without a default dataset', async function () {
      const err = await failure('SELECT * FROM items');
      expect(err.reason).to.equal('invalidQuery');
      expect(err.message).to.equal(
        'Table name "items" missing dataset while no default dataset is set in the request.',
      );
    });

    it('rejects statements other than queries, scripts, and duplicate result names', async function () {
      const dml = await failure('DELETE FROM ds.items WHERE true');
      expect(dml.reason).to.equal('invalidQuery');
      expect(dml.message).to.match(/^Unsupported statement DELETE at \[1:1\]/);
      expect((await failure('SELECT 1; SELECT 2')).message).to.match(
        /^Multi-statement scripts are not supported/,
      );
      expect((await failure('SELECT 1 AS a, 2 AS a')).message).to.equal(
        'Duplicate column names in the result are not supported. Found duplicate(s): a',
      );
    });
  });
});
