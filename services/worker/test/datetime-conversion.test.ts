// DATETIME through an Avro backup: the staging schema and the conversion query as text, then the whole
// path (extract to Avro, load into staging, convert into the real table) against the BigQuery and
// Cloud Storage emulators through the official clients.
import { randomUUID } from 'node:crypto';
import { BigQuery, type Dataset, type Table } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { startBigQueryEmulator, startGcsEmulator } from '@bqbr/emulators';
import type { FieldSchema } from '@bqbr/shared';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { conversionQuery, hasDatetime, stagingSchema } from '../src/datetime-conversion.js';

const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 10)}`;

/** DATETIME at the top level, in records (nullable, required, nested), in arrays and arrays of records. */
const SCHEMA: FieldSchema[] = [
  { name: 'id', type: 'INTEGER', mode: 'REQUIRED', description: 'row number' },
  { name: 'dt', type: 'DATETIME', mode: 'NULLABLE', description: 'when, locally' },
  { name: 'dt_req', type: 'DATETIME', mode: 'REQUIRED' },
  { name: 'name', type: 'STRING', mode: 'NULLABLE' },
  { name: 'ts', type: 'TIMESTAMP', mode: 'NULLABLE' },
  { name: 'd', type: 'DATE', mode: 'NULLABLE' },
  { name: 'n', type: 'NUMERIC', mode: 'NULLABLE' },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  { name: 'dts', type: 'DATETIME', mode: 'REPEATED' },
  {
    name: 'plain',
    type: 'RECORD',
    mode: 'NULLABLE',
    fields: [
      { name: 'x', type: 'INTEGER', mode: 'NULLABLE' },
      { name: 's', type: 'STRING', mode: 'NULLABLE' },
    ],
  },
  {
    name: 'rec',
    type: 'RECORD',
    mode: 'NULLABLE',
    description: 'a record with datetimes',
    fields: [
      { name: 'at', type: 'DATETIME', mode: 'NULLABLE' },
      { name: 'label', type: 'STRING', mode: 'NULLABLE' },
      {
        name: 'inner',
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: [
          { name: 'deep', type: 'DATETIME', mode: 'NULLABLE' },
          { name: 'deeps', type: 'DATETIME', mode: 'REPEATED' },
        ],
      },
    ],
  },
  {
    name: 'req_rec',
    type: 'RECORD',
    mode: 'REQUIRED',
    fields: [
      { name: 'at', type: 'DATETIME', mode: 'REQUIRED' },
      { name: 'k', type: 'INTEGER', mode: 'NULLABLE' },
    ],
  },
  {
    name: 'events',
    type: 'RECORD',
    mode: 'REPEATED',
    fields: [
      { name: 'at', type: 'DATETIME', mode: 'NULLABLE' },
      { name: 'kind', type: 'STRING', mode: 'NULLABLE' },
      { name: 'whens', type: 'DATETIME', mode: 'REPEATED' },
      {
        name: 'sub',
        type: 'RECORD',
        mode: 'NULLABLE',
        fields: [{ name: 'at', type: 'DATETIME', mode: 'NULLABLE' }],
      },
    ],
  },
  // Named like the query's element alias: the UNNEST argument must still read the column.
  { name: 'e0', type: 'DATETIME', mode: 'REPEATED' },
];

const ROWS = [
  {
    id: 1,
    dt: '2021-03-04T05:06:07.5',
    dt_req: '2021-03-04 05:06:07.123456',
    name: 'full',
    ts: '2021-03-04 05:06:07.123456 UTC',
    d: '2021-03-04',
    n: '12.5',
    tags: ['a', 'b'],
    dts: ['2020-01-01T00:00:00', '1999-12-31T23:59:59.999999', '2020-01-01T00:00:00'],
    plain: { x: 7, s: 'seven' },
    rec: {
      at: '2022-02-02T02:02:02',
      label: 'outer',
      inner: { deep: '0001-01-01T00:00:00', deeps: ['9999-12-31T23:59:59.999999', '2000-02-29T12:00:00'] },
    },
    req_rec: { at: '2023-06-07T08:09:10.000001', k: 1 },
    events: [
      {
        at: '2024-01-01T10:00:00',
        kind: 'first',
        whens: ['2024-01-01T10:00:01', '2024-01-01T10:00:00'],
        sub: { at: '2024-01-01T11:00:00' },
      },
      { at: null, kind: 'second', whens: [], sub: null },
      { at: '2024-01-03T10:00:00', kind: null, whens: ['2024-01-03T10:00:00'], sub: { at: null } },
    ],
    e0: ['2001-01-01T01:01:01', '2000-01-01T00:00:00'],
  },
  {
    id: 2,
    dt: null,
    dt_req: '1970-01-01T00:00:00',
    name: null,
    ts: null,
    d: null,
    n: null,
    tags: [],
    dts: [],
    plain: null,
    rec: null,
    req_rec: { at: '1970-01-01T00:00:00', k: null },
    events: [],
    e0: [],
  },
  {
    id: 3,
    dt: '2021-12-31T23:59:59',
    dt_req: '2021-12-31T23:59:59',
    name: '',
    ts: '1970-01-01 00:00:00 UTC',
    d: '0001-01-01',
    n: '-0.000000001',
    tags: [''],
    dts: ['2021-12-31T23:59:59'],
    plain: { x: null, s: null },
    rec: { at: null, label: null, inner: null },
    req_rec: { at: '2021-12-31T23:59:59', k: -1 },
    events: [{ at: '2021-12-31T23:59:59', kind: 'only', whens: [], sub: null }],
    e0: ['2021-12-31T23:59:59'],
  },
];

const STAGING = { projectId: 'my-project', datasetId: 'ds', tableId: 'staging_t' };

describe('DATETIME conversion for Avro restores', function () {
  describe('hasDatetime', function () {
    it('finds DATETIME at the top level, in records at any depth and in repeated fields', function () {
      expect(hasDatetime([{ name: 'a', type: 'DATETIME' }])).to.equal(true);
      expect(hasDatetime([{ name: 'a', type: 'DATETIME', mode: 'REPEATED' }])).to.equal(true);
      expect(
        hasDatetime([
          { name: 'a', type: 'STRING' },
          {
            name: 'r',
            type: 'RECORD',
            mode: 'REPEATED',
            fields: [{ name: 'i', type: 'RECORD', fields: [{ name: 'x', type: 'DATETIME' }] }],
          },
        ]),
      ).to.equal(true);
      expect(
        hasDatetime([{ name: 's', type: 'STRUCT', fields: [{ name: 'x', type: 'DATETIME' }] }]),
      ).to.equal(true);
    });

    it('is false without DATETIME, for TIMESTAMP, DATE and TIME, and for no fields', function () {
      expect(hasDatetime([])).to.equal(false);
      expect(
        hasDatetime([
          { name: 'ts', type: 'TIMESTAMP' },
          { name: 'd', type: 'DATE' },
          { name: 't', type: 'TIME' },
          { name: 'r', type: 'RECORD', fields: [{ name: 'x', type: 'STRING', mode: 'REPEATED' }] },
        ]),
      ).to.equal(false);
    });
  });

  describe('stagingSchema', function () {
    it('turns every DATETIME into STRING at any depth and keeps names, modes, descriptions and order', function () {
      const staged = stagingSchema(SCHEMA);
      expect(hasDatetime(staged)).to.equal(false);
      expect(staged[1]).to.deep.equal({
        name: 'dt',
        type: 'STRING',
        mode: 'NULLABLE',
        description: 'when, locally',
      });
      expect(staged[2]).to.deep.equal({ name: 'dt_req', type: 'STRING', mode: 'REQUIRED' });
      expect(staged[8]).to.deep.equal({ name: 'dts', type: 'STRING', mode: 'REPEATED' });
      expect(staged[10]).to.deep.equal({
        name: 'rec',
        type: 'RECORD',
        mode: 'NULLABLE',
        description: 'a record with datetimes',
        fields: [
          { name: 'at', type: 'STRING', mode: 'NULLABLE' },
          { name: 'label', type: 'STRING', mode: 'NULLABLE' },
          {
            name: 'inner',
            type: 'RECORD',
            mode: 'NULLABLE',
            fields: [
              { name: 'deep', type: 'STRING', mode: 'NULLABLE' },
              { name: 'deeps', type: 'STRING', mode: 'REPEATED' },
            ],
          },
        ],
      });
      // Everything but the type is the table's own schema.
      const strip = (fields: readonly FieldSchema[]): unknown =>
        fields.map(({ type: _type, fields: inner, ...rest }) => ({
          ...rest,
          ...(inner ? { fields: strip(inner) } : {}),
        }));
      expect(strip(staged)).to.deep.equal(strip(SCHEMA));
    });

    it('copies deeply and leaves its input alone', function () {
      const input: FieldSchema[] = [
        { name: 'r', type: 'RECORD', fields: [{ name: 'x', type: 'DATETIME', mode: 'REQUIRED' }] },
      ];
      const before = JSON.stringify(input);
      const staged = stagingSchema(input);
      expect(JSON.stringify(input)).to.equal(before);
      staged[0]!.fields![0]!.name = 'changed';
      expect(input[0]!.fields![0]!.name).to.equal('x');
    });
  });

  describe('conversionQuery', function () {
    it('casts top-level DATETIME columns and passes every other column through, in order', function () {
      const sql = conversionQuery(
        [
          { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
          { name: 'dt', type: 'DATETIME' },
          { name: 'tags', type: 'STRING', mode: 'REPEATED' },
          { name: 'plain', type: 'RECORD', fields: [{ name: 'x', type: 'INTEGER' }] },
        ],
        STAGING,
      );
      expect(sql).to.equal(
        'SELECT `id` AS `id`, CAST(`dt` AS DATETIME) AS `dt`, `tags` AS `tags`, `plain` AS `plain` ' +
          'FROM `my-project.ds.staging_t`',
      );
    });

    it('rebuilds nullable records with IF, required records with STRUCT, and repeated fields in order', function () {
      const sql = conversionQuery(
        [
          { name: 'dts', type: 'DATETIME', mode: 'REPEATED' },
          {
            name: 'rec',
            type: 'RECORD',
            fields: [
              { name: 'at', type: 'DATETIME' },
              { name: 'k', type: 'INTEGER' },
            ],
          },
          { name: 'req', type: 'RECORD', mode: 'REQUIRED', fields: [{ name: 'at', type: 'DATETIME' }] },
          {
            name: 'evs',
            type: 'RECORD',
            mode: 'REPEATED',
            fields: [
              { name: 'at', type: 'DATETIME' },
              { name: 'whens', type: 'DATETIME', mode: 'REPEATED' },
            ],
          },
        ],
        STAGING,
      );
      expect(sql).to.equal(
        [
          'SELECT ARRAY(SELECT CAST(`e0` AS DATETIME) FROM UNNEST(`dts`) AS `e0` WITH OFFSET AS `o0` ORDER BY `o0`) AS `dts`, ',
          'IF(`rec` IS NULL, NULL, STRUCT(CAST(`rec`.`at` AS DATETIME) AS `at`, `rec`.`k` AS `k`)) AS `rec`, ',
          'STRUCT(CAST(`req`.`at` AS DATETIME) AS `at`) AS `req`, ',
          'ARRAY(SELECT AS STRUCT CAST(`e0`.`at` AS DATETIME) AS `at`, ',
          'ARRAY(SELECT CAST(`e1` AS DATETIME) FROM UNNEST(`e0`.`whens`) AS `e1` WITH OFFSET AS `o1` ORDER BY `o1`) AS `whens` ',
          'FROM UNNEST(`evs`) AS `e0` WITH OFFSET AS `o0` ORDER BY `o0`) AS `evs` ',
          'FROM `my-project.ds.staging_t`',
        ].join(''),
      );
    });
  });

  describe('against the BigQuery and Cloud Storage emulators', function () {
    this.timeout(120_000);
    let gcs: Awaited<ReturnType<typeof startGcsEmulator>>;
    let emulator: Awaited<ReturnType<typeof startBigQueryEmulator>>;
    let bq: BigQuery;
    let storage: Storage;
    let dataset: Dataset;
    let bucket: string;
    const projectId = unique('proj').replaceAll('_', '-');

    before(async function () {
      gcs = await startGcsEmulator({ port: 0 });
      emulator = await startBigQueryEmulator({ port: 0, storageUrl: gcs.url });
      bq = new BigQuery({ apiEndpoint: emulator.url, projectId, authClient: new PassThroughClient() });
      storage = new Storage({ apiEndpoint: gcs.url, projectId });
      bucket = unique('bkt').replaceAll('_', '-');
      await storage.createBucket(bucket);
      [dataset] = await bq.createDataset(unique('ds'));
    });

    after(async function () {
      await emulator?.close();
      await gcs?.close();
    });

    /** All rows, ordered by id, as plain JSON (exact integers, DATETIME as BigQuery's text). */
    async function rowsOf(table: Table): Promise<Record<string, unknown>[]> {
      const [rows] = await table.getRows({ wrapIntegers: true });
      const parsed = JSON.parse(JSON.stringify(rows)) as { id: { value: string } }[];
      return parsed.sort((a, b) => Number(a.id.value) - Number(b.id.value));
    }

    const fieldsOf = async (table: Table): Promise<FieldSchema[]> =>
      ((await table.getMetadata())[0] as { schema: { fields: FieldSchema[] } }).schema.fields;

    it('restores DATETIME values exactly: Avro extract, staging load, conversion query into the table', async function () {
      const [source] = await dataset.createTable(unique('src'), { schema: { fields: SCHEMA } });
      await source.insert(ROWS);
      const prefix = `backup/${source.id}`;
      const [extract] = await source.createExtractJob(storage.bucket(bucket).file(`${prefix}/data-*.avro`), {
        format: 'AVRO',
        useAvroLogicalTypes: true,
      });
      await extract.promise();

      const [staging] = await dataset.createTable(unique('staging'), {
        schema: { fields: stagingSchema(SCHEMA) },
      });
      const [load] = await staging.createLoadJob(storage.bucket(bucket).file(`${prefix}/data-*.avro`), {
        sourceFormat: 'AVRO',
        useAvroLogicalTypes: true,
        writeDisposition: 'WRITE_APPEND',
      });
      await load.promise();
      const staged = await rowsOf(staging);
      expect(staged.map((r) => r['dt'])).to.deep.equal([
        '2021-03-04T05:06:07.500000',
        null,
        '2021-12-31T23:59:59',
      ]);

      const [target] = await dataset.createTable(unique('dst'), { schema: { fields: SCHEMA } });
      const [query] = await bq.createQueryJob({
        query: conversionQuery(SCHEMA, { projectId, datasetId: dataset.id!, tableId: staging.id! }),
        useLegacySql: false,
        destination: target,
        writeDisposition: 'WRITE_APPEND',
      });
      await query.promise();

      const restored = await rowsOf(target);
      const original = await rowsOf(source);
      expect(restored).to.have.length(ROWS.length);
      for (const [k, row] of original.entries()) {
        for (const field of SCHEMA)
          expect(restored[k]![field.name], `row ${k + 1}, ${field.name}`).to.deep.equal(row[field.name]);
      }
      expect(restored).to.deep.equal(original);
      // The append kept the table exactly as created: REQUIRED modes, descriptions, nesting.
      expect(await fieldsOf(target)).to.deep.equal(await fieldsOf(source));
      await staging.delete();
    });
  });
});
