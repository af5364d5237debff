// Extract and load through the official clients only: a table holding every type goes out to Cloud
// Storage in each format and compression and comes back value for value.
import { BigQuery, type Dataset, type Table } from '@google-cloud/bigquery';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { parquetMetadata } from 'hyparquet';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { startBigQueryEmulator, type RunningBigQueryEmulator } from '../src/bigquery/server.js';
import { startGcsEmulator, type RunningGcsEmulator } from '../src/gcs/server.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

// Independent readers: Apache's avro-js (its file module alone: the package entry needs `underscore`) and hyparquet.
const avroFiles = createRequire(import.meta.url)('avro-js/lib/files.js') as {
  extractFileHeader(path: string): { meta: Record<string, unknown> } | null;
};

const unique = (prefix: string): string => `${prefix}_${randomUUID().replaceAll('-', '').slice(0, 10)}`;

/** Every standard type, nested and repeated at several depths, with descriptions. */
export const EVERY_TYPE_SCHEMA = [
  { name: 'id', type: 'INT64', mode: 'REQUIRED', description: 'row number' },
  { name: 's', type: 'STRING' },
  { name: 'b', type: 'BYTES' },
  { name: 'i', type: 'INT64' },
  { name: 'f', type: 'FLOAT64' },
  { name: 'n', type: 'NUMERIC' },
  { name: 'bn', type: 'BIGNUMERIC' },
  { name: 'bool', type: 'BOOL' },
  { name: 'ts', type: 'TIMESTAMP' },
  { name: 'd', type: 'DATE' },
  { name: 't', type: 'TIME' },
  { name: 'dt', type: 'DATETIME' },
  { name: 'g', type: 'GEOGRAPHY' },
  { name: 'j', type: 'JSON' },
  { name: 'tags', type: 'STRING', mode: 'REPEATED' },
  {
    name: 'rec',
    type: 'RECORD',
    description: 'a struct',
    fields: [
      { name: 'x', type: 'INT64' },
      { name: 'when', type: 'TIMESTAMP' },
      { name: 'inner', type: 'RECORD', fields: [{ name: 'deep', type: 'STRING', mode: 'REPEATED' }] },
    ],
  },
  {
    name: 'items',
    type: 'RECORD',
    mode: 'REPEATED',
    fields: [
      { name: 'k', type: 'STRING' },
      { name: 'v', type: 'FLOAT64' },
      { name: 'on', type: 'DATE' },
    ],
  },
];

export const EVERY_TYPE_ROWS = [
  {
    id: 1,
    s: 'héllo, "world"\nnew line',
    b: Buffer.from([0, 1, 2, 255]).toString('base64'),
    i: '9223372036854775807',
    f: 1.5,
    n: '99999999999999999999999999999.999999999',
    bn: '578960446186580977117854925043439539266.34992332820282019728792003956564819967',
    bool: true,
    ts: '2021-03-04 05:06:07.123456 UTC',
    d: '2021-03-04',
    t: '23:59:59.999999',
    dt: '2021-03-04T05:06:07.5',
    g: 'POINT(1 2)',
    j: '{"a":[1,2,{"b":null}]}',
    tags: ['a', 'b', ''],
    rec: { x: '-9223372036854775808', when: '0001-01-01 00:00:00 UTC', inner: { deep: ['x', 'y'] } },
    items: [
      { k: 'one', v: -0.25, on: '0001-01-01' },
      { k: null, v: null, on: '9999-12-31' },
    ],
  },
  {
    id: 2,
    s: null,
    b: null,
    i: null,
    f: null,
    n: '-0.000000001',
    bn: null,
    bool: false,
    ts: '9999-12-31 23:59:59.999999 UTC',
    d: null,
    t: '00:00:00',
    dt: null,
    g: null,
    j: null,
    tags: [],
    rec: null,
    items: [],
  },
  {
    id: 3,
    s: '',
    b: 'AA==',
    i: '0',
    f: -1e300,
    n: '0',
    bn: '-1',
    bool: null,
    ts: null,
    d: '1970-01-01',
    t: null,
    dt: '0001-01-01T00:00:00',
    g: 'LINESTRING(0 0, 1 1)',
    j: '"just a string"',
    tags: ['only'],
    rec: { x: null, when: null, inner: null },
    items: [{ k: 'k', v: 3, on: null }],
  },
];

const FLAT_NAMES = new Set(['id', 's', 'b', 'i', 'f', 'n', 'bn', 'bool', 'ts', 'd', 't', 'dt', 'g', 'j']);

const FORMATS: { format: string; compressions: string[]; nested: boolean; ext: string }[] = [
  { format: 'CSV', compressions: ['NONE', 'GZIP'], nested: false, ext: 'csv' },
  { format: 'NEWLINE_DELIMITED_JSON', compressions: ['NONE', 'GZIP'], nested: true, ext: 'json' },
  { format: 'AVRO', compressions: ['NONE', 'DEFLATE', 'SNAPPY'], nested: true, ext: 'avro' },
  { format: 'PARQUET', compressions: ['NONE', 'SNAPPY', 'GZIP', 'ZSTD'], nested: true, ext: 'parquet' },
];

/** All rows, ordered by id, as the client parses them (exact integers). */
async function rowsOf(table: Table): Promise<unknown[]> {
  const [rows] = await table.getRows({ wrapIntegers: true });
  const parsed = JSON.parse(JSON.stringify(rows)) as { id: { value: string } }[];
  return parsed.sort((a, b) => Number(a.id.value) - Number(b.id.value));
}

interface JobMeta {
  status: { state: string };
  statistics: { extract: { destinationUriFileCounts: string[] }; load: { outputRows: string } };
}

async function failure(
  promise: Promise<unknown>,
): Promise<{ code?: number; message: string; errors?: { reason?: string }[] }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: number; message: string };
  }
  throw new Error('expected the call to fail');
}

describe('BigQuery emulator: extract and load round trips through the official clients', function () {
  this.timeout(120_000);
  let gcs: RunningGcsEmulator;
  let emulator: RunningBigQueryEmulator;
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

  async function sourceTable(nested: boolean): Promise<Table> {
    const schema = nested ? EVERY_TYPE_SCHEMA : EVERY_TYPE_SCHEMA.filter((f) => FLAT_NAMES.has(f.name));
    const [table] = await dataset.createTable(unique('src'), { schema: { fields: schema } });
    const rows = EVERY_TYPE_ROWS.map((r) =>
      Object.fromEntries(Object.entries(r).filter(([k]) => schema.some((f) => f.name === k))),
    );
    await table.insert(rows);
    return table;
  }

  for (const { format, compressions, nested, ext } of FORMATS) {
    for (const compression of compressions) {
      it(`${format} with ${compression}: every value comes back`, async function () {
        const source = await sourceTable(nested);
        const prefix = `${format}/${compression}/${source.id}`;
        const [job] = await source.createExtractJob(storage.bucket(bucket).file(`${prefix}/data-*.${ext}`), {
          // The client names NEWLINE_DELIMITED_JSON "JSON" for extracts.
          format: format === 'NEWLINE_DELIMITED_JSON' ? 'JSON' : format,
          gzip: compression === 'GZIP',
          ...(compression !== 'GZIP' && compression !== 'NONE' ? { compression } : {}),
          ...(format === 'AVRO' ? { useAvroLogicalTypes: true } : {}),
        } as never);
        await job.promise();
        const meta = (await job.getMetadata())[0] as JobMeta;
        expect(meta.status.state).to.equal('DONE');
        expect(meta.statistics.extract.destinationUriFileCounts).to.deep.equal(['1']);
        const [files] = await storage.bucket(bucket).getFiles({ prefix });
        expect(files.map((f) => f.name)).to.deep.equal([`${prefix}/data-000000000000.${ext}`]);
        if (compression === 'GZIP' && (format === 'CSV' || format === 'NEWLINE_DELIMITED_JSON')) {
          const [content] = await files[0]!.download();
          expect(gunzipSync(content).length).to.be.greaterThan(0);
        }

        const sourceSchema = (
          (await source.getMetadata())[0] as { schema: { fields: { name: string; type: string }[] } }
        ).schema;
        // BigQuery exports DATETIME to Avro as a string (logicalType "datetime") and cannot load that
        // string back into a DATETIME column: a restore keeps it as STRING. The emulator does the same.
        const schema =
          format === 'AVRO'
            ? { fields: sourceSchema.fields.map((f) => (f.name === 'dt' ? { ...f, type: 'STRING' } : f)) }
            : sourceSchema;
        const [restored] = await dataset.createTable(unique('dst'), { schema });
        const [load] = await restored.createLoadJob(storage.bucket(bucket).file(`${prefix}/data-*.${ext}`), {
          sourceFormat: format,
          // Values with line breaks need allowQuotedNewlines, as in BigQuery.
          ...(format === 'CSV' ? { skipLeadingRows: 1, allowQuotedNewlines: true } : {}),
          ...(format === 'AVRO' ? { useAvroLogicalTypes: true } : {}),
          // Appending into the pre-created table keeps its schema (as a restore does); WRITE_TRUNCATE
          // would take the file's schema for self-describing formats.
          writeDisposition: 'WRITE_APPEND',
        } as never);
        await load.promise();
        const loadMeta = (await load.getMetadata())[0] as JobMeta;
        expect(loadMeta.statistics.load.outputRows).to.equal('3');
        const expected = (await rowsOf(source)) as Record<string, unknown>[];
        if (format === 'AVRO') {
          const avroDatetimes = ['2021-03-04T05:06:07.500000', null, '0001-01-01T00:00:00'];
          expected.forEach((row, i) => (row['dt'] = avroDatetimes[i]));
        }
        expect(await rowsOf(restored)).to.deep.equal(expected);
      });
    }
  }

  it("extracts Avro and Parquet files that independent readers see with BigQuery's schema mapping", async function () {
    const source = await sourceTable(true);
    const work = await mkdtemp(join(tmpdir(), 'bq-independent-'));
    try {
      const [avroJob] = await source.createExtractJob(storage.bucket(bucket).file(`ind/${source.id}.avro`), {
        format: 'AVRO',
        useAvroLogicalTypes: true,
      });
      await avroJob.promise();
      const avroPath = join(work, 'x.avro');
      await writeFile(avroPath, (await storage.bucket(bucket).file(`ind/${source.id}.avro`).download())[0]);
      const header = avroFiles.extractFileHeader(avroPath);
      // avro-js decodes the header's schema itself.
      const schema = header!.meta['avro.schema'] as {
        name: string;
        fields: { name: string; type: unknown }[];
      };
      const typeOf = (name: string): unknown => schema.fields.find((f) => f.name === name)?.type;
      expect(schema.name).to.equal('Root');
      expect(typeOf('id')).to.equal('long');
      expect(typeOf('n')).to.deep.equal([
        'null',
        { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 9 },
      ]);
      expect(typeOf('ts')).to.deep.equal(['null', { type: 'long', logicalType: 'timestamp-micros' }]);
      expect(typeOf('d')).to.deep.equal(['null', { type: 'int', logicalType: 'date' }]);
      expect(typeOf('g')).to.deep.equal(['null', { type: 'string', sqlType: 'GEOGRAPHY' }]);
      expect(typeOf('tags')).to.deep.equal({ type: 'array', items: 'string' });

      const [parquetJob] = await source.createExtractJob(
        storage.bucket(bucket).file(`ind/${source.id}.parquet`),
        {
          format: 'PARQUET',
        },
      );
      await parquetJob.promise();
      const [bytes] = await storage.bucket(bucket).file(`ind/${source.id}.parquet`).download();
      const metadata = parquetMetadata(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer,
      );
      const element = (name: string) => metadata.schema.find((e) => e.name === name)!;
      expect(metadata.num_rows).to.equal(3n);
      expect([element('n').type, element('n').logical_type]).to.deep.equal([
        'FIXED_LEN_BYTE_ARRAY',
        { type: 'DECIMAL', precision: 38, scale: 9 },
      ]);
      expect([element('dt').type, element('dt').logical_type]).to.deep.equal([
        'INT64',
        { type: 'TIMESTAMP', isAdjustedToUTC: false, unit: 'MICROS' },
      ]);
      expect(element('t').logical_type).to.deep.equal({
        type: 'TIME',
        isAdjustedToUTC: true,
        unit: 'MICROS',
      });
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it('shards a wildcard export into numbered files that load back whole', async function () {
    const [table] = await dataset.createTable(unique('many'), {
      schema: { fields: [{ name: 'n', type: 'INT64' }] },
    });
    await table.insert(Array.from({ length: 25 }, (_, n) => ({ n })));
    await fetch(`${emulator.url}/emulator/v1/controls`, {
      method: 'PATCH',
      body: JSON.stringify({ exportShardRows: 10 }),
    });
    try {
      const [job] = await table.createExtractJob(
        storage.bucket(bucket).file(`shards/${table.id}/part-*.json`),
        {
          format: 'JSON',
        },
      );
      await job.promise();
      const [files] = await storage.bucket(bucket).getFiles({ prefix: `shards/${table.id}/` });
      expect(files.map((f) => f.name.split('/').pop())).to.deep.equal([
        'part-000000000000.json',
        'part-000000000001.json',
        'part-000000000002.json',
      ]);
      const [copy] = await dataset.createTable(unique('many_back'), {
        schema: { fields: [{ name: 'n', type: 'INT64' }] },
      });
      const [load] = await copy.createLoadJob(storage.bucket(bucket).file(`shards/${table.id}/part-*.json`), {
        sourceFormat: 'NEWLINE_DELIMITED_JSON',
      });
      await load.promise();
      const [rows] = await copy.getRows();
      expect((rows as { n: number }[]).map((r) => r.n).sort((a, b) => a - b)).to.deep.equal(
        Array.from({ length: 25 }, (_, n) => n),
      );
    } finally {
      await fetch(`${emulator.url}/emulator/v1/controls`, { method: 'DELETE' });
    }
  });

  it('exports a table as it was at a snapshot instant (table@millis)', async function () {
    const [table] = await dataset.createTable(unique('tt'), {
      schema: { fields: [{ name: 'n', type: 'INT64' }] },
    });
    await table.insert([{ n: 1 }, { n: 2 }]);
    await new Promise((r) => setTimeout(r, 5));
    const snapshot = Date.now();
    await new Promise((r) => setTimeout(r, 5));
    await table.insert([{ n: 3 }]);
    const past = dataset.table(`${table.id}@${snapshot}`);
    const [job] = await past.createExtractJob(storage.bucket(bucket).file(`tt/${table.id}.json`), {
      format: 'JSON',
    });
    await job.promise();
    const [content] = await storage.bucket(bucket).file(`tt/${table.id}.json`).download();
    const values = content
      .toString()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { n: string });
    expect(values.map((v) => v.n).sort()).to.deep.equal(['1', '2']);
  });

  it('exports one partition through a $YYYYMMDD decorator', async function () {
    const [table] = await dataset.createTable(unique('part'), {
      schema: {
        fields: [
          { name: 'day', type: 'DATE' },
          { name: 'n', type: 'INT64' },
        ],
      },
      timePartitioning: { type: 'DAY', field: 'day' },
    });
    await table.insert([
      { day: '2024-01-01', n: 1 },
      { day: '2024-01-02', n: 2 },
      { day: '2024-01-02', n: 3 },
    ]);
    const [job] = await dataset
      .table(`${table.id}$20240102`)
      .createExtractJob(storage.bucket(bucket).file(`part/${table.id}.csv`), { format: 'CSV' });
    await job.promise();
    const [content] = await storage.bucket(bucket).file(`part/${table.id}.csv`).download();
    expect(content.toString().trim().split('\n')).to.deep.equal(['day,n', '2024-01-02,2', '2024-01-02,3']);
  });

  it('refuses what BigQuery refuses, with its reasons', async function () {
    const nested = await sourceTable(true);
    const [csvJob] = await nested.createExtractJob(storage.bucket(bucket).file('x/nested.csv'), {
      format: 'CSV',
    });
    const csvError = await failure(csvJob.promise());
    expect(csvError.message).to.match(/nested schema/);
    const badCompression = await failure(
      nested.createExtractJob(storage.bucket(bucket).file('x/a.avro'), { format: 'AVRO', gzip: true }),
    );
    expect(badCompression.code).to.equal(400);
    expect(badCompression.errors?.[0]?.reason).to.equal('invalid');
    const [missingUri] = await dataset
      .table(unique('nope'))
      .createLoadJob(storage.bucket(bucket).file('no/such-*.csv'), {
        sourceFormat: 'CSV',
        autodetect: true,
      });
    const loadError = await failure(missingUri.promise());
    expect(loadError.message).to.match(/Not found: URI/);
    const [missingTable] = await dataset
      .table(unique('nope'))
      .createExtractJob(storage.bucket(bucket).file('x/none.csv'));
    const notFound = await failure(missingTable.promise());
    expect(notFound.message).to.match(/Not found: Table/);
  });
});
