// The table comparison the restore round-trip tests rely on: what it calls equal and what it reports,
// then a whole table read from the BigQuery emulator, now and at a snapshot instant.
import { BigQuery, Geography } from '@google-cloud/bigquery';
import { seedDemoData } from '@bqbr/local/demo-data';
import { startBigQueryEmulator, type RunningBigQueryEmulator } from '@bqbr/emulators';
import type { FieldSchema } from '@bqbr/shared';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { randomUUID } from 'node:crypto';
import { diffTables, readTable, type TableRows } from '../support/table-compare.js';

const SCHEMA: FieldSchema[] = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED', description: 'row number' },
  { name: 'amount', type: 'NUMERIC' },
  { name: 'ratio', type: 'FLOAT' },
  { name: 'at', type: 'TIMESTAMP' },
  { name: 'place', type: 'GEOGRAPHY' },
  {
    name: 'detail',
    type: 'RECORD',
    fields: [
      { name: 'tags', type: 'STRING', mode: 'REPEATED' },
      { name: 'payload', type: 'JSON' },
    ],
  },
];

const ROWS: Record<string, unknown>[] = [
  {
    id: '1',
    amount: '1.5',
    ratio: '0.1',
    at: '2026-11-20T12:34:56.789012Z',
    place: 'POINT(1 2)',
    detail: { tags: ['a', 'b'], payload: '{"a":1,"b":[true]}' },
  },
  { id: '2', amount: '-0.000000001', ratio: '3', at: null, place: null, detail: null },
  { id: '3', amount: null, ratio: null, at: '1969-12-31T23:59:59.999999Z', place: null, detail: null },
];

const table = (rows: Record<string, unknown>[], schema: FieldSchema[] = SCHEMA): TableRows => ({
  schema,
  rows,
});

const withMode = (name: string, mode: string): FieldSchema[] =>
  SCHEMA.map((f) => (f.name === name ? { ...f, mode } : f));

describe('diffTables', function () {
  it('finds no difference between equal tables, whatever the row order and value spelling', function () {
    // The same values as the BigQuery client returns them: wrapped integers, Big, Geography, timestamps
    // with nanosecond digits or an offset, JSON with other key order and spacing.
    const spelled = [
      {
        id: '3',
        amount: null,
        ratio: null,
        at: '1969-12-31 23:59:59.999999000 UTC',
        place: null,
        detail: null,
      },
      { id: 2, amount: '-1E-9', ratio: 3.0, at: null, place: null, detail: null },
      {
        id: BigQuery.int('1'),
        amount: '1.500',
        ratio: 0.1,
        at: BigQuery.timestamp('2026-11-20T12:34:56.789012Z'),
        place: new Geography('POINT(1  2)'),
        detail: { tags: ['a', 'b'], payload: '{ "b": [true], "a": 1 }' },
      },
    ];
    expect(diffTables(table(ROWS), table(spelled))).to.deep.equal([]);
  });

  it('reports a changed value, naming the row and the column', function () {
    const changed = ROWS.map((r) => (r['id'] === '2' ? { ...r, amount: '-0.000000002' } : r));
    expect(diffTables(table(ROWS), table(changed))).to.deep.equal([
      'row id="2": amount: "-0.000000001" expected, got "-0.000000002"',
    ]);
  });

  it('reports a changed value inside a record', function () {
    const changed = ROWS.map((r) =>
      r['id'] === '1' ? { ...r, detail: { tags: ['a'], payload: '{"a":1,"b":[true]}' } } : r,
    );
    const differences = diffTables(table(ROWS), table(changed));
    expect(differences).to.have.length(1);
    expect(differences[0]).to.match(
      /^row id="1": detail: .*"tags":\["a","b"\].* expected, got .*"tags":\["a"\]/,
    );
  });

  it('reports a missing row and a duplicated one', function () {
    const withoutThird = ROWS.slice(0, 2);
    expect(diffTables(table(ROWS), table(withoutThird))).to.deep.equal([
      'rows: 3 expected, got 2',
      `missing row {"amount":null,"at":"1969-12-31T23:59:59.999999Z","detail":null,"id":"3","place":null,"ratio":null}`,
    ]);
    const duplicated = [...ROWS, ROWS[1]!];
    const differences = diffTables(table(ROWS), table(duplicated));
    expect(differences[0]).to.equal('rows: 3 expected, got 4');
    expect(differences[1]).to.match(/^unexpected row \{.*"id":"2"/);
  });

  it('reports a changed mode, type, description, nested field and column order', function () {
    expect(diffTables(table(ROWS), table(ROWS, withMode('id', 'NULLABLE')))).to.deep.equal([
      'schema: id: mode REQUIRED expected, got NULLABLE',
    ]);
    const changed: FieldSchema[] = [
      { ...SCHEMA[0]!, description: 'another' },
      SCHEMA[2]!,
      { ...SCHEMA[1]!, type: 'STRING' },
      ...SCHEMA.slice(3, 5),
      { ...SCHEMA[5]!, fields: [SCHEMA[5]!.fields![0]!] },
    ];
    expect(diffTables(table(ROWS), table(ROWS, changed))).to.deep.equal([
      'schema: id: description "row number" expected, got "another"',
      'schema: amount: type NUMERIC expected, got STRING',
      'schema: column detail.payload (JSON) is missing',
      'schema: column order id, amount, ratio, at, place, detail expected, got id, ratio, amount, at, place, detail',
    ]);
    expect(diffTables(table(ROWS), table(ROWS, changed), { ignoreFieldDescriptions: true })).to.not.include(
      'schema: id: description "row number" expected, got "another"',
    );
  });

  it('treats standard SQL type names as their legacy names and NULLABLE as the default mode', function () {
    const standard = SCHEMA.map((f) => ({
      ...f,
      type:
        ({ INTEGER: 'INT64', FLOAT: 'FLOAT64', RECORD: 'STRUCT' } as Record<string, string>)[f.type] ??
        f.type,
      ...(f.mode === undefined ? { mode: 'NULLABLE' } : {}),
    }));
    expect(diffTables(table(ROWS), table(ROWS, standard))).to.deep.equal([]);
  });

  it('allows FLOAT text round trips only when asked to', function () {
    const printed = ROWS.map((r) => (r['id'] === '1' ? { ...r, ratio: '0.10000000000000002' } : r));
    expect(diffTables(table(ROWS), table(printed))).to.deep.equal([
      'row id="1": ratio: "0.1" expected, got "0.10000000000000002"',
    ]);
    expect(diffTables(table(ROWS), table(printed), { tolerance: ['float-text'] })).to.deep.equal([]);
  });
});

describe('readTable against the BigQuery emulator', function () {
  this.timeout(60_000);
  let emulator: RunningBigQueryEmulator;
  let bigquery: BigQuery;
  const projectId = `compare-${randomUUID().slice(0, 8)}`;
  const ref = { projectId, datasetId: 'sales', tableId: 'all_types' };

  before(async function () {
    emulator = await startBigQueryEmulator({ port: 0 });
    bigquery = new BigQuery({ apiEndpoint: emulator.url, projectId, authClient: new PassThroughClient() });
    await seedDemoData(bigquery);
  });

  after(async function () {
    await emulator?.close();
  });

  it('reads every value of sales.all_types exactly, and the same rows at a snapshot after a later insert', async function () {
    const now = await readTable(bigquery, ref);
    expect(now.rows).to.have.length(20);
    const byId = new Map(now.rows.map((r) => [r['id'], r]));
    expect(byId.get('1')).to.deep.include({
      int_value: '9223372036854775807',
      numeric_value: '99999999999999999999999999999.999999999',
      bignumeric_value: '578960446186580977117854925043439539266.34992332820282019728792003956564819967',
      bytes_value: Buffer.from([0, 1, 2, 254, 255]).toString('base64'),
      time_value: '23:59:59.999999',
      datetime_value: '9999-12-31T23:59:59.999999',
      timestamp_value: '9999-12-31T23:59:59.999999Z',
      json_value: '{"a":[1,2,{"b":null}],"s":"x, \\"y\\""}',
    });
    expect(byId.get('2')).to.deep.include({
      int_value: '-9223372036854775808',
      float_value: '-2.5e-7',
      timestamp_value: '0001-01-01T00:00:00Z',
    });
    expect(byId.get('3')).to.deep.include({
      float_value: '3',
      timestamp_value: '1969-12-31T23:59:59.999999Z',
    });
    expect(Object.values(byId.get('4')!).filter((v) => v !== null)).to.deep.equal(['4']);
    expect(now.schema.find((f) => f.name === 'id')).to.deep.include({ mode: 'REQUIRED' });
    expect(diffTables(now, now)).to.deep.equal([]);

    // A clear millisecond between the snapshot instant and the next commit.
    await new Promise((r) => setTimeout(r, 20));
    const snapshotMillis = Date.now();
    await new Promise((r) => setTimeout(r, 20));
    await bigquery
      .dataset('sales')
      .table('all_types')
      .insert([{ id: 21, string_value: 'after the snapshot' }]);

    const atSnapshot = await readTable(bigquery, ref, snapshotMillis);
    expect(diffTables(now, atSnapshot)).to.deep.equal([]);
    const later = await readTable(bigquery, ref);
    const differences = diffTables(atSnapshot, later);
    expect(differences[0]).to.equal('rows: 20 expected, got 21');
    expect(differences[1]).to.match(/^unexpected row \{.*"id":"21".*"string_value":"after the snapshot"/);
    expect(differences).to.have.length(2);
  });
});
