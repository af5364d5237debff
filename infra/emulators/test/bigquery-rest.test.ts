// The BigQuery emulator's REST resources (datasets, tables, tabledata, routines, jobs, copy jobs) driven
// through the official Node client, checked against BigQuery's documented behaviour.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BigQuery, type Dataset, type Job, type Table, type TableField } from '@google-cloud/bigquery';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { startBigQueryEmulator, type RunningBigQueryEmulator } from '../src/bigquery/server.js';

/** What the client's ApiError carries. */
interface ClientError {
  code?: number;
  message: string;
  errors?: { reason?: string; message?: string }[];
}

/** The client's PartialFailureError from table.insert. */
interface PartialFailure {
  name: string;
  errors: { row: Record<string, unknown>; errors: { reason: string; message: string }[] }[];
}

/** The fields of BigQuery's REST resources that these tests read. */
interface Resource {
  kind?: string;
  id?: string;
  etag?: string;
  creationTime?: string;
  lastModifiedTime?: string;
  expirationTime?: string;
  labels?: Record<string, string>;
  description?: string;
  friendlyName?: string;
  location?: string;
  defaultTableExpirationMs?: string;
  datasetReference?: { projectId: string; datasetId: string };
  tableReference?: { projectId: string; datasetId: string; tableId: string };
  routineReference?: { projectId: string; datasetId: string; routineId: string };
  schema?: { fields: TableField[] };
  type?: string;
  numRows?: string;
  numBytes?: string;
  timePartitioning?: Record<string, string>;
  rangePartitioning?: unknown;
  clustering?: { fields: string[] };
  requirePartitionFilter?: boolean;
  view?: { useLegacySql: boolean };
  snapshotDefinition?: { baseTableReference: unknown; snapshotTime: string };
  cloneDefinition?: { baseTableReference: { tableId: string } };
  routineType?: string;
  language?: string;
  arguments?: unknown[];
  returnType?: unknown;
  definitionBody?: string;
}

/** Raw REST bodies (error, insertAll, job, controls) the client does not show as they are. */
interface RawBody extends Resource {
  error?: { code: number; message: string; status: string; errors: { reason: string }[] };
  insertErrors?: { index: number; errors: { reason: string; location?: string }[] }[];
  jobLatencyMs?: Record<string, number>;
  jobReference?: { projectId: string; jobId: string };
  configuration?: { jobType: string };
  statistics?: { startTime: string; endTime: string };
  jobs?: { projectId: string; jobId: string; type: string; state: string; tableIds: string[] }[];
}

/** A row as the client returns it: values are numbers, strings, Buffers, Big, BigQueryTimestamp... */
type Row = Record<string, unknown>;

/** `.value` of the client's wrappers (BigQueryInt, BigQueryTimestamp, BigQueryDate, Geography...). */
const valueOf = (v: unknown): unknown => (v as { value: unknown }).value;
/** A Big (NUMERIC/BIGNUMERIC) in plain notation. */
const fixed = (v: unknown): string => (v as { toFixed(): string }).toFixed();

async function metadataOf(resource: { getMetadata(): Promise<unknown> }): Promise<Resource> {
  const [metadata] = (await resource.getMetadata()) as [Resource];
  return metadata;
}

type JobMetadata = {
  status: { state: string; errorResult?: { reason: string; message: string } };
  statistics?: { copy?: { copiedRows?: string } };
};

const hasQueryEngine = existsSync(fileURLToPath(new URL('../src/bigquery/sql/execute.ts', import.meta.url)));

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

let counter = 0;
const unique = (prefix: string): string => `${prefix}_${process.pid}_${Date.now().toString(36)}_${counter++}`;

/** Awaits a promise that must fail and returns the client's error. */
async function failure(promise: Promise<unknown>): Promise<ClientError> {
  try {
    await promise;
  } catch (err) {
    return err as ClientError;
  }
  throw new Error('expected the call to fail');
}

async function expectApiError(promise: Promise<unknown>, code: number, reason: string): Promise<ClientError> {
  const err = await failure(promise);
  expect(err.code, err.message).to.equal(code);
  expect(err.errors?.[0]?.reason, err.message).to.equal(reason);
  return err;
}

async function expectPartialFailure(promise: Promise<unknown>): Promise<PartialFailure> {
  const err = (await failure(promise)) as unknown as PartialFailure;
  expect(err.name).to.equal('PartialFailureError');
  return err;
}

function client(url: string, projectId: string): BigQuery {
  return new BigQuery({ apiEndpoint: url, projectId, authClient: new PassThroughClient() });
}

describe('BigQuery emulator REST resources through @google-cloud/bigquery', function () {
  this.timeout(30_000);
  let emulator: RunningBigQueryEmulator;
  let bq: BigQuery;
  const projectId = unique('p').replaceAll('_', '-');

  /** Raw REST calls, for shapes the client hides and for the emulator's own controls. */
  async function rest(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; json: RawBody }> {
    const res = await fetch(`${emulator.url}${path}`, {
      method,
      ...(body !== undefined
        ? { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }
        : {}),
    });
    const text = await res.text();
    return { status: res.status, json: (text === '' ? {} : JSON.parse(text)) as RawBody };
  }

  async function newDataset(options: Record<string, unknown> = {}): Promise<Dataset> {
    const [dataset] = await bq.createDataset(unique('ds'), options);
    return dataset;
  }

  async function newTable(
    dataset: Dataset,
    schema: TableField[],
    options: Record<string, unknown> = {},
  ): Promise<Table> {
    const [table] = await dataset.createTable(unique('t'), { schema: { fields: schema }, ...options });
    return table;
  }

  const newTableId = (): string => unique('t');

  async function rowsOf(table: Table, options: Record<string, unknown> = {}): Promise<Row[]> {
    const [rows] = await table.getRows(options);
    return rows as Row[];
  }

  async function waitDone(job: Job, timeoutMs = 10_000): Promise<JobMetadata> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const [metadata] = (await job.getMetadata()) as unknown as [JobMetadata];
      if (metadata.status.state === 'DONE') return metadata;
      if (Date.now() > until) throw new Error(`job ${job.id ?? ''} not done in ${timeoutMs} ms`);
      await sleep(25);
    }
  }

  async function copyJob(
    source: Table | string,
    destination: Table,
    extra: Record<string, unknown> = {},
    jobId?: string,
  ): Promise<Job> {
    const sourceTable =
      typeof source === 'string'
        ? { projectId, datasetId: destination.dataset.id, tableId: source }
        : { projectId, datasetId: source.dataset.id, tableId: source.id };
    const [job] = await bq.createJob({
      ...(jobId ? { jobId } : {}),
      configuration: {
        copy: {
          sourceTable,
          destinationTable: { projectId, datasetId: destination.dataset.id, tableId: destination.id },
          ...extra,
        },
      },
    });
    return job;
  }

  before(async function () {
    emulator = await startBigQueryEmulator({ port: 0 });
    bq = client(emulator.url, projectId);
  });

  after(async function () {
    await emulator?.close();
  });

  afterEach(async function () {
    await rest('DELETE', '/emulator/v1/controls');
  });

  describe('datasets', function () {
    it('creates a dataset with labels, description, location and default table expiration, and gets it back', async function () {
      const id = unique('ds');
      const [dataset] = await bq.createDataset(id, {
        labels: { env: 'test', team: 'data' },
        description: 'a dataset',
        location: 'EU',
        defaultTableExpirationMs: '7200000',
        friendlyName: 'Friendly',
      });
      expect(dataset.id).to.equal(id);
      const metadata = await metadataOf(bq.dataset(id));
      expect(metadata.labels).to.deep.equal({ env: 'test', team: 'data' });
      expect(metadata.description).to.equal('a dataset');
      expect(metadata.location).to.equal('EU');
      expect(metadata.defaultTableExpirationMs).to.equal('7200000');
      expect(metadata.friendlyName).to.equal('Friendly');
      expect(metadata.datasetReference).to.deep.equal({ projectId, datasetId: id });

      const raw = await rest('GET', `/bigquery/v2/projects/${projectId}/datasets/${id}`);
      expect(raw.status).to.equal(200);
      expect(raw.json.kind).to.equal('bigquery#dataset');
      expect(raw.json.id).to.equal(`${projectId}:${id}`);
      expect(raw.json.etag).to.be.a('string').and.not.be.empty;
      expect(Number(raw.json.creationTime)).to.be.closeTo(Date.now(), 60_000);
      expect(raw.json.lastModifiedTime).to.equal(raw.json.creationTime);

      // New tables inherit the dataset's default expiration.
      const before = Date.now();
      const [table] = await dataset.createTable('inherits', { schema: 'a:STRING' });
      const expiration = Number((table.metadata as Resource).expirationTime);
      expect(expiration).to.be.within(before + 7_200_000 - 5_000, Date.now() + 7_200_000 + 5_000);
    });

    it('accepts any project id and keeps projects apart', async function () {
      const other = client(emulator.url, 'some-other-project-42');
      const [a] = await other.createDataset(unique('ds'));
      const [mine] = await bq.getDatasets();
      expect(mine.map((d) => d.id)).not.to.include(a.id);
      const [theirs] = await other.getDatasets();
      expect(theirs.map((d) => d.id)).to.include(a.id);
      const metadata = await metadataOf(other.dataset(a.id!));
      expect(metadata.datasetReference?.projectId).to.equal('some-other-project-42');
    });

    it('lists datasets page by page with maxResults and pageToken', async function () {
      const p = client(emulator.url, unique('paging').replaceAll('_', '-'));
      const ids = ['ds_a', 'ds_b', 'ds_c', 'ds_d', 'ds_e'];
      for (const id of ids) await p.createDataset(id);
      const [first, next] = await p.getDatasets({ maxResults: 2, autoPaginate: false });
      expect(first.map((d) => d.id)).to.have.length(2);
      expect(next).to.have.property('pageToken').that.is.a('string');
      const seen = first.map((d) => d.id);
      let query: Record<string, unknown> | null = next as Record<string, unknown>;
      let pages = 1;
      while (query) {
        const [more, nextQuery] = await p.getDatasets({ ...query, autoPaginate: false });
        seen.push(...more.map((d) => d.id));
        query = nextQuery as Record<string, unknown> | null;
        pages++;
      }
      expect(pages).to.equal(3);
      expect(seen).to.deep.equal(ids);
      const [all] = await p.getDatasets();
      expect(all.map((d) => d.id)).to.deep.equal(ids);
    });

    it('filters the list by labels', async function () {
      const p = client(emulator.url, unique('filter').replaceAll('_', '-'));
      await p.createDataset('prod_one', { labels: { env: 'prod', tier: 'gold' } });
      await p.createDataset('prod_two', { labels: { env: 'prod' } });
      await p.createDataset('dev_one', { labels: { env: 'dev' } });
      await p.createDataset('unlabelled');
      const ids = async (filter: string): Promise<string[]> =>
        (await p.getDatasets({ filter }))[0].map((d) => d.id!);
      expect(await ids('labels.env:prod')).to.deep.equal(['prod_one', 'prod_two']);
      expect(await ids('labels.env:prod labels.tier:gold')).to.deep.equal(['prod_one']);
      expect(await ids('labels.tier')).to.deep.equal(['prod_one']);
      expect(await ids('labels.env:qa')).to.deep.equal([]);
    });

    it('patches a dataset: changed fields replace, labels merge and null removes', async function () {
      const dataset = await newDataset({ labels: { a: '1', b: '2' }, description: 'old' });
      const before = await metadataOf(dataset);
      await sleep(5);
      await dataset.setMetadata({ description: 'new', labels: { b: null, c: '3' } });
      const after = await metadataOf(dataset);
      expect(after.description).to.equal('new');
      expect(after.labels).to.deep.equal({ a: '1', c: '3' });
      expect(after.etag).not.to.equal(before.etag);
      expect(Number(after.lastModifiedTime)).to.be.greaterThan(Number(before.lastModifiedTime));
      expect(after.creationTime).to.equal(before.creationTime);
      // The location cannot change.
      await expectApiError(dataset.setMetadata({ location: 'asia-northeast1' }), 400, 'invalid');
    });

    it('refuses to delete a dataset that holds tables unless deleteContents', async function () {
      const dataset = await newDataset();
      await dataset.createTable('t', { schema: 'a:STRING' });
      const err = await expectApiError(dataset.delete(), 400, 'resourceInUse');
      expect(err.message).to.contain('is still in use');
      await dataset.delete({ force: true });
      await expectApiError(dataset.getMetadata(), 404, 'notFound');
      const [exists] = await dataset.exists();
      expect(exists).to.equal(false);
      // An empty dataset deletes without deleteContents.
      const empty = await newDataset();
      await empty.delete();
      expect((await empty.exists())[0]).to.equal(false);
    });

    it('answers duplicate, notFound and invalid ids with BigQuery errors', async function () {
      const dataset = await newDataset();
      const dup = await expectApiError(bq.createDataset(dataset.id!), 409, 'duplicate');
      expect(dup.message).to.contain(`Already Exists: Dataset ${projectId}:${dataset.id}`);
      const missing = await expectApiError(bq.dataset('no_such_dataset').getMetadata(), 404, 'notFound');
      expect(missing.message).to.contain(`Not found: Dataset ${projectId}:no_such_dataset`);
      await expectApiError(bq.dataset('no_such_dataset').delete(), 404, 'notFound');
      await expectApiError(bq.createDataset('bad-id!'), 400, 'invalid');
      await expectApiError(bq.createDataset(unique('ds'), { notAField: 1 } as never), 400, 'invalid');
      await expectApiError(bq.createDataset(unique('ds'), { labels: { 'Upper-Case': 'x' } }), 400, 'invalid');

      const raw = await rest('GET', `/bigquery/v2/projects/${projectId}/datasets/no_such_dataset`);
      expect(raw.status).to.equal(404);
      expect(raw.json.error?.code).to.equal(404);
      expect(raw.json.error?.message).to.contain('Not found: Dataset');
      expect(raw.json.error?.errors[0]?.reason).to.equal('notFound');
      expect(raw.json.error?.status).to.equal('NOT_FOUND');
    });
  });

  describe('tables', function () {
    const ALL_TYPES: TableField[] = [
      { name: 's', type: 'STRING', mode: 'REQUIRED', description: 'a string' },
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
      { name: 'tags', type: 'STRING', mode: 'REPEATED', description: 'labels' },
      {
        name: 'rec',
        type: 'STRUCT',
        mode: 'NULLABLE',
        description: 'level 1',
        fields: [
          { name: 'x', type: 'INT64', mode: 'REQUIRED' },
          { name: 'ys', type: 'FLOAT64', mode: 'REPEATED' },
          {
            name: 'inner',
            type: 'RECORD',
            mode: 'REPEATED',
            description: 'level 2',
            fields: [
              { name: 'z', type: 'TIMESTAMP', description: 'level 3' },
              { name: 'deep', type: 'RECORD', fields: [{ name: 'w', type: 'STRING', mode: 'REPEATED' }] },
            ],
          },
        ],
      },
    ];

    const LEGACY: Record<string, string> = {
      INT64: 'INTEGER',
      FLOAT64: 'FLOAT',
      BOOL: 'BOOLEAN',
      STRUCT: 'RECORD',
    };
    const legacy = (fields: TableField[]): TableField[] =>
      fields.map((f) => ({
        ...f,
        type: LEGACY[f.type!] ?? f.type,
        mode: f.mode ?? 'NULLABLE',
        ...(f.fields ? { fields: legacy(f.fields) } : {}),
      }));

    it('creates a table with every type, mode and nesting depth; the schema comes back with legacy type names', async function () {
      const dataset = await newDataset();
      const table = await newTable(dataset, ALL_TYPES, {
        description: 'all types',
        labels: { kind: 'wide' },
      });
      const metadata = await metadataOf(table);
      expect(metadata.schema?.fields).to.deep.equal(legacy(ALL_TYPES));
      expect(metadata.description).to.equal('all types');
      expect(metadata.labels).to.deep.equal({ kind: 'wide' });
      expect(metadata.type).to.equal('TABLE');
      expect(metadata.numRows).to.equal('0');
      expect(metadata.tableReference).to.deep.equal({ projectId, datasetId: dataset.id, tableId: table.id });
      const raw = await rest(
        'GET',
        `/bigquery/v2/projects/${projectId}/datasets/${dataset.id}/tables/${table.id}`,
      );
      expect(raw.json.kind).to.equal('bigquery#table');
      expect(raw.json.id).to.equal(`${projectId}:${dataset.id}.${table.id}`);
      expect(raw.json.etag).to.be.a('string').and.not.be.empty;
    });

    it('keeps time partitioning by column and by ingestion time, at every granularity', async function () {
      const dataset = await newDataset();
      const schema: TableField[] = [
        { name: 'd', type: 'DATE' },
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'dt', type: 'DATETIME' },
      ];
      const cases = [
        { type: 'DAY', field: 'd' },
        { type: 'HOUR', field: 'ts' },
        { type: 'MONTH', field: 'dt' },
        { type: 'YEAR', field: 'd' },
        { type: 'DAY' },
        { type: 'HOUR' },
      ];
      for (const timePartitioning of cases) {
        const table = await newTable(dataset, schema, {
          timePartitioning: { ...timePartitioning, expirationMs: '86400000' },
        });
        const metadata = await metadataOf(table);
        expect(metadata.timePartitioning).to.deep.include({ ...timePartitioning, expirationMs: '86400000' });
        const [listed] = await dataset.getTables();
        expect(
          (listed.find((t) => t.id === table.id)?.metadata as Resource | undefined)?.timePartitioning?.[
            'type'
          ],
        ).to.equal(timePartitioning.type);
      }
      const [rows] = await (
        await newTable(dataset, schema, { timePartitioning: { type: 'DAY' } })
      ).insert([{ d: '2020-01-01' }]);
      expect(rows).to.have.property('kind', 'bigquery#tableDataInsertAllResponse');
    });

    it('keeps integer range partitioning, clustering, labels and description', async function () {
      const dataset = await newDataset();
      const table = await newTable(
        dataset,
        [
          { name: 'id', type: 'INTEGER' },
          { name: 'country', type: 'STRING' },
          { name: 'day', type: 'DATE' },
        ],
        {
          rangePartitioning: { field: 'id', range: { start: '0', end: '100', interval: '10' } },
          clustering: { fields: ['country', 'day'] },
          labels: { owner: 'me' },
          description: 'clustered',
          friendlyName: 'Clustered table',
        },
      );
      const metadata = await metadataOf(table);
      expect(metadata.rangePartitioning).to.deep.equal({
        field: 'id',
        range: { start: '0', end: '100', interval: '10' },
      });
      expect(metadata.clustering).to.deep.equal({ fields: ['country', 'day'] });
      expect(metadata.labels).to.deep.equal({ owner: 'me' });
      expect(metadata.description).to.equal('clustered');
      expect(metadata.friendlyName).to.equal('Clustered table');
    });

    it('rejects bad partitioning, clustering, duplicates, unknown body fields and answers notFound', async function () {
      const dataset = await newDataset();
      const schema: TableField[] = [
        { name: 's', type: 'STRING' },
        { name: 'd', type: 'DATE' },
        { name: 'n', type: 'INTEGER' },
      ];
      const create = (options: Record<string, unknown>): Promise<unknown> =>
        dataset.createTable(unique('bad'), { schema: { fields: schema }, ...options });
      await expectApiError(create({ timePartitioning: { type: 'DAY', field: 's' } }), 400, 'invalid');
      await expectApiError(create({ timePartitioning: { type: 'DAY', field: 'missing' } }), 400, 'invalid');
      await expectApiError(create({ timePartitioning: { type: 'WEEK', field: 'd' } }), 400, 'invalid');
      await expectApiError(create({ timePartitioning: { type: 'HOUR', field: 'd' } }), 400, 'invalid');
      await expectApiError(
        create({ rangePartitioning: { field: 's', range: { start: '0', end: '10', interval: '1' } } }),
        400,
        'invalid',
      );
      await expectApiError(create({ clustering: { fields: ['nope'] } }), 400, 'invalid');
      await expectApiError(create({ clustering: { fields: ['s', 'd', 'n', 's', 'd'] } }), 400, 'invalid');
      await expectApiError(create({ notAField: true }), 400, 'invalid');
      await expectApiError(
        dataset.createTable('bad_schema', { schema: { fields: [{ name: 'x', type: 'VARCHAR' }] } }),
        400,
        'invalid',
      );
      await expectApiError(dataset.createTable('bad table/id', { schema: 'a:STRING' }), 400, 'invalid');

      const table = await newTable(dataset, schema);
      const dup = await expectApiError(
        dataset.createTable(table.id!, { schema: 'a:STRING' }),
        409,
        'duplicate',
      );
      expect(dup.message).to.contain(`Already Exists: Table ${projectId}:${dataset.id}.${table.id}`);
      const missing = await expectApiError(dataset.table('missing').getMetadata(), 404, 'notFound');
      expect(missing.message).to.contain(`Not found: Table ${projectId}:${dataset.id}.missing`);
      await expectApiError(
        bq.dataset('no_dataset').createTable('t', { schema: 'a:STRING' }),
        404,
        'notFound',
      );
      await expectApiError(dataset.table('missing').delete(), 404, 'notFound');
      await expectApiError(dataset.table('missing').getRows(), 404, 'notFound');
    });

    it('lists tables page by page', async function () {
      const dataset = await newDataset();
      const ids = ['t1', 't2', 't3', 't4', 't5'];
      for (const id of ids) await dataset.createTable(id, { schema: 'a:STRING', labels: { n: id } });
      const [first, next] = await dataset.getTables({ maxResults: 2, autoPaginate: false });
      expect(first.map((t) => t.id)).to.deep.equal(['t1', 't2']);
      expect((first[0]!.metadata as Resource).labels).to.deep.equal({ n: 't1' });
      expect((first[0]!.metadata as Resource).type).to.equal('TABLE');
      const [second, next2] = await dataset.getTables({ ...(next as object), autoPaginate: false });
      expect(second.map((t) => t.id)).to.deep.equal(['t3', 't4']);
      const [third, next3] = await dataset.getTables({ ...(next2 as object), autoPaginate: false });
      expect(third.map((t) => t.id)).to.deep.equal(['t5']);
      expect(next3).to.equal(null);
      const [all] = await dataset.getTables();
      expect(all.map((t) => t.id)).to.deep.equal(ids);
    });

    it('reports numRows, numBytes, creation and modification times, type and a changing etag', async function () {
      const dataset = await newDataset();
      const before = Date.now();
      const table = await newTable(dataset, [
        { name: 'a', type: 'STRING' },
        { name: 'n', type: 'INTEGER' },
      ]);
      const empty = await metadataOf(table);
      expect(Number(empty.creationTime)).to.be.within(before - 1000, Date.now() + 1000);
      expect(empty.numRows).to.equal('0');
      expect(empty.numBytes).to.equal('0');
      await sleep(5);
      await table.insert([
        { a: 'abc', n: 1 },
        { a: 'de', n: 2 },
      ]);
      const full = await metadataOf(table);
      expect(full.numRows).to.equal('2');
      // STRING is 2 bytes + the UTF-8 length, INT64 8 bytes (https://cloud.google.com/bigquery/pricing#data).
      expect(full.numBytes).to.equal(String(2 + 3 + 8 + 2 + 2 + 8));
      expect(full.type).to.equal('TABLE');
      expect(full.etag).not.to.equal(empty.etag);
      expect(Number(full.lastModifiedTime)).to.be.greaterThan(Number(empty.lastModifiedTime));
      expect(full.creationTime).to.equal(empty.creationTime);
    });

    it('patches the schema: adds columns and relaxes REQUIRED, rejects other changes', async function () {
      const dataset = await newDataset();
      const fields: TableField[] = [
        { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
        { name: 'name', type: 'STRING', mode: 'NULLABLE' },
        {
          name: 'rec',
          type: 'RECORD',
          mode: 'NULLABLE',
          fields: [{ name: 'x', type: 'INTEGER', mode: 'NULLABLE' }],
        },
      ];
      const table = await newTable(dataset, fields);
      await table.insert([{ id: 1, name: 'one', rec: { x: 1 } }]);

      const added: TableField[] = [
        { name: 'id', type: 'INTEGER', mode: 'NULLABLE' },
        { name: 'name', type: 'STRING', mode: 'NULLABLE' },
        {
          name: 'rec',
          type: 'RECORD',
          mode: 'NULLABLE',
          fields: [
            { name: 'x', type: 'INTEGER', mode: 'NULLABLE' },
            { name: 'y', type: 'STRING', mode: 'NULLABLE' },
          ],
        },
        { name: 'extra', type: 'FLOAT', mode: 'NULLABLE', description: 'new column' },
        { name: 'list', type: 'STRING', mode: 'REPEATED' },
      ];
      await table.setMetadata({ schema: { fields: added }, description: 'evolved' });
      const metadata = await metadataOf(table);
      expect(metadata.schema?.fields).to.deep.equal(added);
      expect(metadata.description).to.equal('evolved');
      await table.insert([{ name: 'two', rec: { x: 2, y: 'why' }, extra: 1.5, list: ['a'] }]);
      const rows = await rowsOf(table);
      expect(rows).to.deep.equal([
        { id: 1, name: 'one', rec: { x: 1, y: null }, extra: null, list: [] },
        { id: null, name: 'two', rec: { x: 2, y: 'why' }, extra: 1.5, list: ['a'] },
      ]);

      const changed = (name: string, change: Partial<TableField> | null): TableField[] =>
        added.flatMap((f) => (f.name !== name ? [f] : change === null ? [] : [{ ...f, ...change }]));
      await expectApiError(
        table.setMetadata({ schema: { fields: changed('name', { type: 'INTEGER' }) } }),
        400,
        'invalid',
      );
      await expectApiError(
        table.setMetadata({ schema: { fields: changed('name', { mode: 'REQUIRED' }) } }),
        400,
        'invalid',
      );
      await expectApiError(
        table.setMetadata({ schema: { fields: changed('list', { mode: 'NULLABLE' }) } }),
        400,
        'invalid',
      );
      await expectApiError(table.setMetadata({ schema: { fields: changed('extra', null) } }), 400, 'invalid');
      await expectApiError(
        table.setMetadata({
          schema: { fields: [...added, { name: 'must', type: 'STRING', mode: 'REQUIRED' }] },
        }),
        400,
        'invalid',
      );
      const unchanged = await metadataOf(table);
      expect(unchanged.schema?.fields).to.deep.equal(added);
    });

    it('patches partition expiration and requirePartitionFilter, but not the partitioning itself', async function () {
      const dataset = await newDataset();
      const schema: TableField[] = [
        { name: 'd', type: 'DATE' },
        { name: 'n', type: 'INTEGER' },
      ];
      const table = await newTable(dataset, schema, { timePartitioning: { type: 'MONTH', field: 'd' } });
      await table.setMetadata({
        timePartitioning: { type: 'MONTH', field: 'd', expirationMs: '86400000' },
        requirePartitionFilter: true,
      });
      const metadata = await metadataOf(table);
      expect(metadata.timePartitioning).to.deep.include({
        type: 'MONTH',
        field: 'd',
        expirationMs: '86400000',
      });
      expect(metadata.requirePartitionFilter).to.equal(true);
      await expectApiError(
        table.setMetadata({ timePartitioning: { type: 'DAY', field: 'd' } }),
        400,
        'invalid',
      );
      const plain = await newTable(dataset, schema);
      await expectApiError(
        plain.setMetadata({ timePartitioning: { type: 'DAY', field: 'd' } }),
        400,
        'invalid',
      );
      // Clustering may be added to an existing table.
      await plain.setMetadata({ clustering: { fields: ['n'] } });
      expect((await metadataOf(plain)).clustering).to.deep.equal({ fields: ['n'] });
    });

    it('patches labels and description, and deletes tables', async function () {
      const dataset = await newDataset();
      const table = await newTable(dataset, [{ name: 'a', type: 'STRING' }], { labels: { a: '1', b: '2' } });
      await table.setMetadata({ labels: { a: null, c: '3' } as never, description: 'described' });
      const metadata = await metadataOf(table);
      expect(metadata.labels).to.deep.equal({ b: '2', c: '3' });
      expect(metadata.description).to.equal('described');
      await table.delete();
      await expectApiError(table.getMetadata(), 404, 'notFound');
      const [tables] = await dataset.getTables();
      expect(tables.map((t) => t.id)).not.to.include(table.id);
    });

    it('drops tables once their expirationTime passes', async function () {
      const dataset = await newDataset();
      const table = await newTable(dataset, [{ name: 'a', type: 'STRING' }], {
        expirationTime: String(Date.now() + 400),
      });
      const keep = await newTable(dataset, [{ name: 'a', type: 'STRING' }]);
      const metadata = await metadataOf(table);
      expect(Number(metadata.expirationTime)).to.be.greaterThan(Date.now() - 1000);
      await sleep(500);
      await expectApiError(table.getMetadata(), 404, 'notFound');
      const [tables] = await dataset.getTables();
      expect(tables.map((t) => t.id)).to.deep.equal([keep.id]);
      // The id is free again.
      await dataset.createTable(table.id!, { schema: 'a:STRING' });
      // A dataset whose only tables expired is empty.
      const other = await newDataset();
      await other.createTable('short', { schema: 'a:STRING', expirationTime: String(Date.now() + 100) });
      await sleep(150);
      await other.delete();
    });

    it('creates a view whose schema comes from its query', async function () {
      if (!hasQueryEngine) this.skip();
      const dataset = await newDataset();
      const base = await newTable(dataset, [
        { name: 'a', type: 'STRING' },
        { name: 'n', type: 'INTEGER' },
      ]);
      const [view] = await dataset.createTable(unique('v'), {
        view: {
          query: `SELECT a, n * 2 AS doubled FROM \`${projectId}.${dataset.id}.${base.id}\``,
          useLegacySql: false,
        },
      });
      const metadata = await metadataOf(view);
      expect(metadata.type).to.equal('VIEW');
      expect(metadata.view?.useLegacySql).to.equal(false);
      expect(metadata.schema?.fields.map((f: TableField) => [f.name, f.type])).to.deep.equal([
        ['a', 'STRING'],
        ['doubled', 'INTEGER'],
      ]);
      const [listed] = await dataset.getTables();
      expect((listed.find((t) => t.id === view.id)?.metadata as Resource | undefined)?.type).to.equal('VIEW');
    });
  });

  describe('tabledata', function () {
    const SIMPLE: TableField[] = [
      { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
      { name: 'name', type: 'STRING' },
    ];

    it('de-duplicates rows by insertId', async function () {
      const table = await newTable(await newDataset(), SIMPLE);
      await table.insert(
        [
          { insertId: 'a', json: { id: 1, name: 'one' } },
          { insertId: 'b', json: { id: 2, name: 'two' } },
        ],
        { raw: true },
      );
      await table.insert(
        [
          { insertId: 'a', json: { id: 1, name: 'one' } },
          { insertId: 'c', json: { id: 3, name: 'three' } },
          { insertId: 'c', json: { id: 3, name: 'three' } },
        ],
        { raw: true },
      );
      // Rows without insertId are never de-duplicated.
      await table.insert([{ id: 4 }, { id: 4 }], { createInsertId: false });
      const rows = await rowsOf(table);
      expect(rows.map((r) => r['id'])).to.deep.equal([1, 2, 3, 4, 4]);
    });

    it('does not count rows of a rejected request as seen: resending them with the same insertIds writes them', async function () {
      const table = await newTable(await newDataset(), SIMPLE);
      await failure(
        table.insert(
          [
            { insertId: 'good', json: { id: 1 } },
            { insertId: 'bad', json: { id: 'two' } },
          ],
          { raw: true, partialRetries: 0 },
        ),
      );
      await table.insert(
        [
          { insertId: 'good', json: { id: 1 } },
          { insertId: 'bad', json: { id: 2 } },
        ],
        { raw: true },
      );
      expect((await rowsOf(table)).map((r) => r['id'])).to.deep.equal([1, 2]);
    });

    it('rejects the whole request for one bad row: the bad row is invalid, the others stopped', async function () {
      const table = await newTable(await newDataset(), SIMPLE);
      const err = await expectPartialFailure(
        table.insert([{ id: 1 }, { id: 'not a number' }, { name: 'no id' }], { partialRetries: 0 }),
      );
      expect(err.errors).to.have.length(3);
      expect(err.errors.map((e) => e.row)).to.deep.equal([
        { id: 1 },
        { id: 'not a number' },
        { name: 'no id' },
      ]);
      expect(err.errors[0]!.errors.map((e) => e.reason)).to.deep.equal(['stopped']);
      expect(err.errors[1]!.errors[0]!.reason).to.equal('invalid');
      expect(err.errors[2]!.errors[0]!.reason).to.equal('invalid');
      expect(await rowsOf(table)).to.deep.equal([]);

      // The raw response: insertErrors with index, reason and location.
      const raw = await rest(
        'POST',
        `/bigquery/v2/projects/${projectId}/datasets/${table.dataset.id}/tables/${table.id}/insertAll`,
        { rows: [{ json: { id: 1 } }, { json: { name: 'x' } }] },
      );
      expect(raw.status).to.equal(200);
      expect(raw.json.kind).to.equal('bigquery#tableDataInsertAllResponse');
      expect(raw.json.insertErrors?.map((e: { index: number }) => e.index)).to.deep.equal([0, 1]);
      expect(raw.json.insertErrors?.[1]?.errors[0]).to.include({ reason: 'invalid', location: 'id' });
      expect(raw.json.insertErrors?.[0]?.errors[0]).to.include({ reason: 'stopped' });
    });

    it('inserts the valid rows with skipInvalidRows and reports only the invalid ones', async function () {
      const table = await newTable(await newDataset(), SIMPLE);
      const err = await expectPartialFailure(
        table.insert([{ id: 1, name: 'a' }, { id: 'x' }, { id: 3, name: 'c' }, { id: 4, bogus: true }], {
          skipInvalidRows: true,
          partialRetries: 0,
        }),
      );
      expect(err.errors.map((e) => e.row)).to.deep.equal([{ id: 'x' }, { id: 4, bogus: true }]);
      expect(err.errors.every((e) => e.errors[0]!.reason === 'invalid')).to.equal(true);
      const rows = await rowsOf(table);
      expect(rows).to.deep.equal([
        { id: 1, name: 'a' },
        { id: 3, name: 'c' },
      ]);
    });

    it('ignores unknown fields with ignoreUnknownValues, at every depth', async function () {
      const table = await newTable(await newDataset(), [
        ...SIMPLE,
        { name: 'rec', type: 'RECORD', fields: [{ name: 'x', type: 'INTEGER' }] },
      ]);
      const err = await expectPartialFailure(
        table.insert([{ id: 1, rec: { x: 1, nope: 2 } }], { partialRetries: 0 }),
      );
      expect(err.errors[0]!.errors[0]!.reason).to.equal('invalid');
      await table.insert([{ id: 1, extra: 'x', rec: { x: 1, nope: 2 } }], { ignoreUnknownValues: true });
      expect(await rowsOf(table)).to.deep.equal([{ id: 1, name: null, rec: { x: 1 } }]);
    });

    it('rejects rows missing a REQUIRED field, nested ones included', async function () {
      const table = await newTable(await newDataset(), [
        { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
        {
          name: 'rec',
          type: 'RECORD',
          mode: 'NULLABLE',
          fields: [{ name: 'must', type: 'STRING', mode: 'REQUIRED' }],
        },
      ]);
      const err = await expectPartialFailure(
        table.insert([{ id: 1, rec: {} }, { id: null }], { skipInvalidRows: true, partialRetries: 0 }),
      );
      expect(err.errors).to.have.length(2);
      expect(err.errors.every((e) => e.errors[0]!.reason === 'invalid')).to.equal(true);
      // A NULL record may hold REQUIRED fields.
      await table.insert([{ id: 2 }, { id: 3, rec: { must: 'yes' } }]);
      expect(await rowsOf(table)).to.deep.equal([
        { id: 2, rec: null },
        { id: 3, rec: { must: 'yes' } },
      ]);
    });

    it('pages through rows with maxResults, pageToken and startIndex', async function () {
      const table = await newTable(await newDataset(), SIMPLE);
      await table.insert([1, 2, 3, 4, 5].map((id) => ({ id, name: `n${id}` })));
      const [page1, next1, response1] = await table.getRows({ maxResults: 2, autoPaginate: false });
      expect((page1 as Row[]).map((r) => r['id'])).to.deep.equal([1, 2]);
      expect((response1 as { totalRows: string }).totalRows).to.equal('5');
      expect(next1).to.have.property('pageToken');
      const [page2, next2] = await table.getRows({ ...(next1 as object), autoPaginate: false });
      expect((page2 as Row[]).map((r) => r['id'])).to.deep.equal([3, 4]);
      const [page3, next3] = await table.getRows({ ...(next2 as object), autoPaginate: false });
      expect((page3 as Row[]).map((r) => r['id'])).to.deep.equal([5]);
      expect(next3).to.equal(null);
      const [fromIndex] = await table.getRows({ startIndex: '3', maxResults: 10, autoPaginate: false });
      expect((fromIndex as Row[]).map((r) => r['id'])).to.deep.equal([4, 5]);
      // With autoPaginate, maxResults caps the total the client collects.
      const [capped] = await table.getRows({ maxResults: 4 });
      expect((capped as Row[]).map((r) => r['id'])).to.deep.equal([1, 2, 3, 4]);
    });

    it('returns only selectedFields, top-level and nested', async function () {
      const table = await newTable(await newDataset(), [
        { name: 'a', type: 'STRING' },
        { name: 'b', type: 'INTEGER' },
        {
          name: 'rec',
          type: 'RECORD',
          fields: [
            { name: 'x', type: 'INTEGER' },
            { name: 'y', type: 'STRING' },
            {
              name: 'deep',
              type: 'RECORD',
              fields: [
                { name: 'p', type: 'STRING' },
                { name: 'q', type: 'STRING' },
              ],
            },
          ],
        },
        { name: 'c', type: 'BOOLEAN' },
      ]);
      await table.insert([{ a: 'A', b: 2, rec: { x: 1, y: 'Y', deep: { p: 'P', q: 'Q' } }, c: true }]);
      expect(await rowsOf(table, { selectedFields: 'c,a' })).to.deep.equal([{ a: 'A', c: true }]);
      expect(await rowsOf(table, { selectedFields: 'b' })).to.deep.equal([{ b: 2 }]);
      expect(await rowsOf(table, { selectedFields: 'rec.y,a' })).to.deep.equal([{ a: 'A', rec: { y: 'Y' } }]);
      expect(await rowsOf(table, { selectedFields: 'rec.deep.q' })).to.deep.equal([
        { rec: { deep: { q: 'Q' } } },
      ]);
    });

    it('returns nested, repeated and NULL values as they were written', async function () {
      const table = await newTable(await newDataset(), [
        { name: 'id', type: 'INTEGER' },
        { name: 'tags', type: 'STRING', mode: 'REPEATED' },
        {
          name: 'people',
          type: 'RECORD',
          mode: 'REPEATED',
          fields: [
            { name: 'name', type: 'STRING' },
            { name: 'scores', type: 'FLOAT', mode: 'REPEATED' },
            {
              name: 'address',
              type: 'RECORD',
              fields: [
                { name: 'city', type: 'STRING' },
                { name: 'zip', type: 'INTEGER' },
              ],
            },
          ],
        },
        { name: 'maybe', type: 'RECORD', fields: [{ name: 'v', type: 'DATE' }] },
      ]);
      const written = [
        {
          id: 1,
          tags: ['a', 'b'],
          people: [
            { name: 'ann', scores: [1.5, 2], address: { city: 'Oslo', zip: 150 } },
            { name: null, scores: [], address: null },
          ],
          maybe: { v: '2020-02-29' },
        },
        { id: null, tags: [], people: [], maybe: null },
      ];
      await table.insert(written);
      const rows = await rowsOf(table);
      expect(rows[0]!['tags']).to.deep.equal(['a', 'b']);
      expect(rows[0]!['people']).to.deep.equal([
        { name: 'ann', scores: [1.5, 2], address: { city: 'Oslo', zip: 150 } },
        { name: null, scores: [], address: null },
      ]);
      expect(valueOf((rows[0]!['maybe'] as Row)['v'])).to.equal('2020-02-29');
      expect(rows[1]).to.deep.equal({ id: null, tags: [], people: [], maybe: null });
    });

    it('round-trips edge values of every type', async function () {
      const table = await newTable(await newDataset(), [
        { name: 'k', type: 'INTEGER' },
        { name: 'i', type: 'INTEGER' },
        { name: 'f', type: 'FLOAT' },
        { name: 'n', type: 'NUMERIC' },
        { name: 'bn', type: 'BIGNUMERIC' },
        { name: 'ts', type: 'TIMESTAMP' },
        { name: 'd', type: 'DATE' },
        { name: 't', type: 'TIME' },
        { name: 'dt', type: 'DATETIME' },
        { name: 'b', type: 'BYTES' },
        { name: 'j', type: 'JSON' },
        { name: 'g', type: 'GEOGRAPHY' },
        { name: 's', type: 'STRING' },
        { name: 'bool', type: 'BOOLEAN' },
      ]);
      const NUMERIC_MAX = '99999999999999999999999999999.999999999';
      const BIGNUMERIC = '578960446186580977117854925043439539266.34992332820282019728792003956564819967';
      await table.insert(
        [
          {
            json: {
              k: '1',
              i: '9223372036854775807',
              f: 'NaN',
              n: NUMERIC_MAX,
              bn: BIGNUMERIC,
              ts: '0001-01-01 00:00:00 UTC',
              d: '0001-01-01',
              t: '00:00:00',
              dt: '0001-01-01T00:00:00',
              b: Buffer.from([0, 1, 254, 255]).toString('base64'),
              j: '{"a":[1,2,{"b":null}],"c":"d"}',
              g: 'POINT(1 2)',
              s: 'ünïcødé ✓',
              bool: true,
            },
          },
          {
            json: {
              k: '2',
              i: '-9223372036854775808',
              f: 'Infinity',
              n: '-' + NUMERIC_MAX,
              bn: '-1.5',
              ts: '9999-12-31 23:59:59.999999 UTC',
              d: '9999-12-31',
              t: '23:59:59.999999',
              dt: '9999-12-31T23:59:59.999999',
              b: '',
              j: { nested: { x: 1.5 } },
              g: 'LINESTRING(0 0, 1 1)',
              s: '',
              bool: false,
            },
          },
          { json: { k: '3', f: '-Infinity', n: '0.000000001', ts: '2020-01-01T12:34:56.789012Z' } },
          { json: { k: '4', f: 1.5e-300 } },
        ],
        { raw: true },
      );
      const rows = await rowsOf(table, { wrapIntegers: true, parseJSON: true });
      expect(rows.map((r) => valueOf(r['k']))).to.deep.equal(['1', '2', '3', '4']);
      const [r1, r2, r3, r4] = rows as [Row, Row, Row, Row];
      expect(valueOf(r1['i'])).to.equal('9223372036854775807');
      expect(valueOf(r2['i'])).to.equal('-9223372036854775808');
      expect(Number.isNaN(r1['f'])).to.equal(true);
      expect(r2['f']).to.equal(Infinity);
      expect(r3['f']).to.equal(-Infinity);
      expect(r4['f']).to.equal(1.5e-300);
      expect(fixed(r1['n'])).to.equal(NUMERIC_MAX);
      expect(fixed(r2['n'])).to.equal('-' + NUMERIC_MAX);
      expect(fixed(r3['n'])).to.equal('0.000000001');
      expect(fixed(r1['bn'])).to.equal(BIGNUMERIC);
      expect(fixed(r2['bn'])).to.equal('-1.5');
      expect(valueOf(r1['ts'])).to.equal('0001-01-01T00:00:00.000Z');
      expect(valueOf(r2['ts'])).to.equal('9999-12-31T23:59:59.999999000Z');
      expect(valueOf(r3['ts'])).to.equal('2020-01-01T12:34:56.789012000Z');
      expect(valueOf(r1['d'])).to.equal('0001-01-01');
      expect(valueOf(r2['d'])).to.equal('9999-12-31');
      expect(valueOf(r1['t'])).to.equal('00:00:00');
      expect(valueOf(r2['t'])).to.equal('23:59:59.999999');
      expect(valueOf(r1['dt'])).to.equal('0001-01-01T00:00:00');
      expect(valueOf(r2['dt'])).to.equal('9999-12-31T23:59:59.999999');
      expect([...(r1['b'] as Buffer)]).to.deep.equal([0, 1, 254, 255]);
      expect([...(r2['b'] as Buffer)]).to.deep.equal([]);
      expect(r1['j']).to.deep.equal({ a: [1, 2, { b: null }], c: 'd' });
      expect(r2['j']).to.deep.equal({ nested: { x: 1.5 } });
      expect(valueOf(r1['g'])).to.equal('POINT(1 2)');
      expect(valueOf(r2['g'])).to.equal('LINESTRING(0 0, 1 1)');
      expect(r1['s']).to.equal('ünïcødé ✓');
      expect(r2['s']).to.equal('');
      expect([r1['bool'], r2['bool'], r3['bool']]).to.deep.equal([true, false, null]);
      for (const key of ['i', 'bn', 'd', 't', 'dt', 'b', 'j', 'g', 's']) expect(r4[key], key).to.equal(null);
    });

    it('writes and reads single partitions through $decorators', async function () {
      const dataset = await newDataset();
      const day = new Date().toISOString().slice(0, 10);
      const decorator = day.replaceAll('-', '');
      const ingestion = await newTable(dataset, [{ name: 'v', type: 'INTEGER' }], {
        timePartitioning: { type: 'DAY' },
      });
      await dataset.table(`${ingestion.id}$${decorator}`).insert([{ v: 1 }, { v: 2 }]);
      await ingestion.insert([{ v: 3 }]);
      expect((await rowsOf(dataset.table(`${ingestion.id}$${decorator}`))).map((r) => r['v'])).to.deep.equal([
        1, 2, 3,
      ]);
      expect(await rowsOf(dataset.table(`${ingestion.id}$20000101`))).to.deep.equal([]);
      await expectApiError(dataset.table(`${ingestion.id}$2000`).getRows(), 400, 'invalid');

      const byColumn = await newTable(
        dataset,
        [
          { name: 'd', type: 'DATE' },
          { name: 'v', type: 'INTEGER' },
        ],
        { timePartitioning: { type: 'MONTH', field: 'd' } },
      );
      await byColumn.insert([
        { d: '2020-01-05', v: 1 },
        { d: '2020-02-05', v: 2 },
        { d: null, v: 3 },
        { d: '2020-01-31', v: 4 },
      ]);
      const month = async (id: string): Promise<number[]> =>
        (await rowsOf(dataset.table(`${byColumn.id}$${id}`))).map((r) => r['v'] as number);
      expect(await month('202001')).to.deep.equal([1, 4]);
      expect(await month('202002')).to.deep.equal([2]);
      expect(await month('__NULL__')).to.deep.equal([3]);
      await expectApiError(dataset.table(`${newTableId()}$20200101`).getRows(), 404, 'notFound');
      const plain = await newTable(dataset, [{ name: 'v', type: 'INTEGER' }]);
      await expectApiError(dataset.table(`${plain.id}$20200101`).getRows(), 400, 'invalid');
    });

    it('keeps per-partition modification times in INFORMATION_SCHEMA.PARTITIONS and deletes a partition by its decorator', async function () {
      const dataset = await newDataset();
      const table = await newTable(
        dataset,
        [
          { name: 'd', type: 'DATE' },
          { name: 'v', type: 'INTEGER' },
        ],
        { timePartitioning: { type: 'DAY', field: 'd' } },
      );
      await table.insert([
        { d: '2020-01-01', v: 1 },
        { d: '2020-01-02', v: 2 },
        { d: '2020-01-03', v: 3 },
      ]);
      const partitions = async (): Promise<Record<string, { rows: number; modified: number }>> => {
        const [rows] = await bq.query({
          query: `SELECT partition_id, total_rows, UNIX_MILLIS(last_modified_time) AS m FROM \`${dataset.id}.INFORMATION_SCHEMA.PARTITIONS\` WHERE table_name = @t ORDER BY partition_id`,
          params: { t: table.id },
        });
        return Object.fromEntries(
          (rows as Record<string, unknown>[]).map((r) => [
            String(r['partition_id']),
            { rows: Number(r['total_rows']), modified: Number(r['m']) },
          ]),
        );
      };
      const before = await partitions();
      expect(Object.keys(before)).to.deep.equal(['20200101', '20200102', '20200103']);
      const beforeDelete = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 5));
      // One partition changed, one deleted (bq rm 't$20200103'), one untouched.
      await table.insert([{ d: '2020-01-02', v: 22 }]);
      await dataset.table(`${table.id}$20200103`).delete();
      const after = await partitions();
      expect(Object.keys(after)).to.deep.equal(['20200101', '20200102']);
      expect(after['20200101']).to.deep.equal(before['20200101']);
      expect(after['20200102']!.rows).to.equal(2);
      expect(after['20200102']!.modified).to.be.greaterThan(before['20200102']!.modified);
      // Time travel still reads the deleted partition before its deletion.
      expect(await rowsOf(dataset.table(`${table.id}@${beforeDelete}$20200103`))).to.have.length(1);
      expect(await rowsOf(dataset.table(`${table.id}$20200103`))).to.deep.equal([]);
    });

    it('returns timestamps as float seconds when the client asks for them', async function () {
      const table = await newTable(await newDataset(), [{ name: 'ts', type: 'TIMESTAMP' }]);
      await table.insert([
        { ts: '2020-01-01T12:34:56.789Z' },
        { ts: '1970-01-01T00:00:00Z' },
        { ts: '1969-12-31T23:59:59.5Z' },
      ]);
      const rows = await rowsOf(table, { 'formatOptions.useInt64Timestamp': false });
      // (The client itself misreads negative fractional seconds, so only the raw text is checked for those.)
      expect(rows.slice(0, 2).map((r) => valueOf(r['ts']))).to.deep.equal([
        '2020-01-01T12:34:56.789Z',
        '1970-01-01T00:00:00.000Z',
      ]);
      const [, , float] = await table.getRows({
        'formatOptions.useInt64Timestamp': false,
        autoPaginate: false,
      });
      expect((float as { rows: { f: { v: string }[] }[] }).rows.map((r) => Number(r.f[0]!.v))).to.deep.equal([
        1577882096.789, 0, -0.5,
      ]);
      const [, , raw] = await table.getRows({ 'formatOptions.useInt64Timestamp': true, autoPaginate: false });
      expect((raw as { rows: { f: { v: string }[] }[] }).rows.map((r) => r.f[0]!.v)).to.deep.equal([
        '1577882096789000',
        '0',
        '-500000',
      ]);
    });

    it('refuses rows for views, snapshots and missing tables', async function () {
      const dataset = await newDataset();
      await expectApiError(dataset.table('missing').insert([{ a: 1 }]), 404, 'notFound');
      if (!hasQueryEngine) return;
      const [view] = await dataset.createTable(unique('v'), {
        view: { query: 'SELECT 1 AS x', useLegacySql: false },
      });
      await expectApiError(view.insert([{ x: 1 }]), 400, 'invalid');
      await expectApiError(view.getRows(), 400, 'invalid');
    });

    it('rejects values outside their type range', async function () {
      const table = await newTable(await newDataset(), [
        { name: 'i', type: 'INTEGER' },
        { name: 'n', type: 'NUMERIC' },
        { name: 'd', type: 'DATE' },
        { name: 'ts', type: 'TIMESTAMP' },
      ]);
      const bad = [
        { i: '9223372036854775808' },
        { n: '1e30' },
        { d: '2020-02-30' },
        { ts: 'yesterday' },
        { i: 1.5 },
      ];
      const err = await expectPartialFailure(table.insert(bad, { skipInvalidRows: true, partialRetries: 0 }));
      expect(err.errors.map((e) => e.row)).to.deep.equal(bad);
      expect(err.errors.every((e) => e.errors[0]!.reason === 'invalid')).to.equal(true);
      expect(await rowsOf(table)).to.deep.equal([]);
    });
  });

  describe('time travel through tabledata.list', function () {
    it('reads a table as of an instant; before creation, beyond 7 days and the future are invalid', async function () {
      const table = await newTable(await newDataset(), [{ name: 'v', type: 'STRING' }]);
      const created = await metadataOf(table);
      await table.insert([{ v: 'first' }]);
      await sleep(10);
      const between = Date.now();
      // The relative read below names `between` as an offset from the server's now: the request's
      // latency moves that instant later, so the second row comes well after it.
      await sleep(1_000);
      await table.insert([{ v: 'second' }]);
      const dataset = table.dataset;
      const past = await rowsOf(dataset.table(`${table.id}@${between}`));
      expect(past.map((r) => r['v'])).to.deep.equal(['first']);
      expect((await rowsOf(table)).map((r) => r['v'])).to.deep.equal(['first', 'second']);
      const relative = await rowsOf(dataset.table(`${table.id}@-${Date.now() - between}`));
      expect(relative.map((r) => r['v'])).to.deep.equal(['first']);

      // @0 is the oldest data available: the table as created, empty.
      expect(await rowsOf(dataset.table(`${table.id}@0`))).to.deep.equal([]);

      const creation = Number(created.creationTime);
      await expectApiError(dataset.table(`${table.id}@${creation - 60_000}`).getRows(), 400, 'invalid');
      await expectApiError(
        dataset.table(`${table.id}@${Date.now() - 8 * 24 * 3600 * 1000}`).getRows(),
        400,
        'invalid',
      );
      await expectApiError(dataset.table(`${table.id}@${Date.now() + 3_600_000}`).getRows(), 400, 'invalid');
    });

    it('does not see rows removed by a later WRITE_TRUNCATE, but the past still does', async function () {
      const dataset = await newDataset();
      const source = await newTable(dataset, [{ name: 'v', type: 'INTEGER' }]);
      const target = await newTable(dataset, [{ name: 'v', type: 'INTEGER' }]);
      await source.insert([{ v: 1 }]);
      await target.insert([{ v: 100 }, { v: 200 }]);
      await sleep(10);
      const before = Date.now();
      await sleep(10);
      await waitDone(await copyJob(source, target, { writeDisposition: 'WRITE_TRUNCATE' }));
      expect((await rowsOf(target)).map((r) => r['v'])).to.deep.equal([1]);
      expect((await rowsOf(dataset.table(`${target.id}@${before}`))).map((r) => r['v'])).to.deep.equal([
        100, 200,
      ]);
    });
  });

  describe('routines', function () {
    it('creates, gets, lists and deletes a SQL UDF and a procedure', async function () {
      const dataset = await newDataset();
      const [udf] = await dataset.createRoutine('add_one', {
        routineType: 'SCALAR_FUNCTION',
        language: 'SQL',
        arguments: [{ name: 'x', dataType: { typeKind: 'INT64' } }],
        returnType: { typeKind: 'INT64' },
        definitionBody: 'x + 1',
        description: 'adds one',
      });
      expect(udf.id).to.equal('add_one');
      const [proc] = await dataset.createRoutine('do_things', {
        routineType: 'PROCEDURE',
        definitionBody: 'BEGIN SELECT 1; END',
      });

      const metadata = await metadataOf(dataset.routine('add_one'));
      expect(metadata.routineReference).to.deep.equal({
        projectId,
        datasetId: dataset.id,
        routineId: 'add_one',
      });
      expect(metadata.definitionBody).to.equal('x + 1');
      expect(metadata.routineType).to.equal('SCALAR_FUNCTION');
      expect(metadata.arguments).to.deep.equal([{ name: 'x', dataType: { typeKind: 'INT64' } }]);
      expect(metadata.returnType).to.deep.equal({ typeKind: 'INT64' });
      expect(metadata.description).to.equal('adds one');
      expect(metadata.etag).to.be.a('string');
      expect(Number(metadata.creationTime)).to.be.closeTo(Date.now(), 60_000);
      const procMetadata = await metadataOf(proc);
      expect(procMetadata.definitionBody).to.equal('BEGIN SELECT 1; END');
      expect(procMetadata.language).to.equal('SQL');

      const [routines] = await dataset.getRoutines();
      expect(routines.map((r) => r.id)).to.deep.equal(['add_one', 'do_things']);

      await expectApiError(
        dataset.createRoutine('add_one', { routineType: 'SCALAR_FUNCTION', definitionBody: 'x' }),
        409,
        'duplicate',
      );
      await expectApiError(
        dataset.createRoutine('no_body', { routineType: 'SCALAR_FUNCTION' }),
        400,
        'invalid',
      );

      await udf.delete();
      await expectApiError(dataset.routine('add_one').getMetadata(), 404, 'notFound');
      const [left] = await dataset.getRoutines();
      expect(left.map((r) => r.id)).to.deep.equal(['do_things']);
      // A dataset holding a routine is in use too.
      await expectApiError(dataset.delete(), 400, 'resourceInUse');
    });
  });

  describe('jobs', function () {
    async function filled(rows = 2): Promise<{ dataset: Dataset; source: Table }> {
      const dataset = await newDataset();
      const source = await newTable(dataset, [{ name: 'v', type: 'INTEGER' }]);
      if (rows > 0) await source.insert(Array.from({ length: rows }, (_, i) => ({ v: i + 1 })));
      return { dataset, source };
    }

    it('runs a slow copy job through PENDING/RUNNING to DONE, visible in jobs.list by state', async function () {
      const controls = await rest('PATCH', '/emulator/v1/controls', { jobLatencyMs: { COPY: 1500 } });
      expect(controls.json.jobLatencyMs?.COPY).to.equal(1500);
      const { dataset, source } = await filled();
      const jobId = unique('slow_copy');
      const job = await copyJob(source, dataset.table('dest'), {}, jobId);
      const [early] = (await job.getMetadata()) as unknown as [JobMetadata];
      expect(early.status.state).to.be.oneOf(['PENDING', 'RUNNING']);
      const [running] = await bq.getJobs({ stateFilter: ['running', 'pending'] } as never);
      expect(running.map((j) => j.id)).to.include(jobId);
      const [done] = await bq.getJobs({ stateFilter: 'done' } as never);
      expect(done.map((j) => j.id)).not.to.include(jobId);
      // The destination is not written before the job is done.
      expect((await dataset.table('dest').exists())[0]).to.equal(false);
      const finished = await waitDone(job);
      expect(finished.status.errorResult).to.equal(undefined);
      expect(finished.statistics?.copy?.copiedRows).to.equal('2');
      const [doneLater] = await bq.getJobs({ stateFilter: 'done' } as never);
      expect(doneLater.map((j) => j.id)).to.include(jobId);
      expect((await rowsOf(dataset.table('dest'))).map((r) => r['v'])).to.deep.equal([1, 2]);

      const raw = await rest('GET', `/bigquery/v2/projects/${projectId}/jobs/${jobId}`);
      expect(raw.json.kind).to.equal('bigquery#job');
      expect(raw.json.jobReference).to.include({ projectId, jobId });
      expect(raw.json.configuration?.jobType).to.equal('COPY');
      expect(Number(raw.json.statistics?.endTime)).to.be.at.least(Number(raw.json.statistics?.startTime));

      const all = await rest('GET', '/emulator/v1/jobs');
      const mine = all.json.jobs?.find((j: { jobId: string }) => j.jobId === jobId);
      expect(mine).to.include({ projectId, type: 'COPY', state: 'DONE' });
      expect(mine?.tableIds).to.include(source.id);
    });

    it('pages jobs.list, newest first, and deletes finished jobs', async function () {
      const p = client(emulator.url, unique('jobs').replaceAll('_', '-'));
      const [dataset] = await p.createDataset('d');
      const [source] = await dataset.createTable('s', { schema: 'v:INTEGER' });
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const [job] = await p.createJob({
          jobId: `job_${i}`,
          configuration: {
            copy: {
              sourceTable: { projectId: p.projectId, datasetId: 'd', tableId: source.id },
              destinationTable: { projectId: p.projectId, datasetId: 'd', tableId: `c${i}` },
            },
          },
        });
        await waitDone(job);
        ids.push(job.id!);
        await sleep(2);
      }
      const [page1, next] = await p.getJobs({ maxResults: 2, autoPaginate: false });
      expect(page1.map((j) => j.id)).to.deep.equal(['job_2', 'job_1']);
      const [page2, last] = await p.getJobs({ ...(next as object), autoPaginate: false });
      expect(page2.map((j) => j.id)).to.deep.equal(['job_0']);
      expect(last).to.equal(null);
      await p.job('job_1').delete();
      await expectApiError(p.job('job_1').getMetadata(), 404, 'notFound');
      const [left] = await p.getJobs();
      expect(left.map((j) => j.id)).to.deep.equal(['job_2', 'job_0']);
    });

    it('cancels a slow job: it ends DONE with errorResult stopped and writes nothing', async function () {
      await rest('PATCH', '/emulator/v1/controls', { jobLatencyMs: { COPY: 3000 } });
      const { dataset, source } = await filled();
      const job = await copyJob(source, dataset.table('never'));
      await job.cancel();
      const metadata = await waitDone(job, 2000);
      expect(metadata.status.errorResult?.reason).to.equal('stopped');
      expect((await dataset.table('never').exists())[0]).to.equal(false);
    });

    it('refuses a second job with the same id', async function () {
      const { dataset, source } = await filled();
      const jobId = unique('same');
      await waitDone(await copyJob(source, dataset.table('a'), {}, jobId));
      const err = await expectApiError(copyJob(source, dataset.table('b'), {}, jobId), 409, 'duplicate');
      expect(err.message).to.contain(jobId);
      await expectApiError(bq.job('no_such_job').getMetadata(), 404, 'notFound');
    });

    it('fails the next copy jobs with an injected fault, then succeeds', async function () {
      const { dataset, source } = await filled();
      await rest('POST', '/emulator/v1/faults', { jobType: 'COPY', count: 2, reason: 'backendError' });
      const reasons: (string | undefined)[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        const metadata = await waitDone(await copyJob(source, dataset.table(`dest_${attempt}`)));
        reasons.push(metadata.status.errorResult?.reason);
      }
      expect(reasons).to.deep.equal(['backendError', 'backendError', undefined]);
      expect((await dataset.table('dest_0').exists())[0]).to.equal(false);
      expect((await rowsOf(dataset.table('dest_2'))).map((r) => r['v'])).to.deep.equal([1, 2]);
      // The client surfaces a failed job as an error.
      await rest('POST', '/emulator/v1/faults', { jobType: 'COPY', reason: 'rateLimitExceeded' });
      const err = await failure(source.copy(dataset.table('dest_3')));
      expect(err.errors?.[0]?.reason ?? err.message).to.satisfy((s: string) =>
        s.includes('rateLimitExceeded'),
      );
    });

    it('injects faults only into jobs touching the targeted table', async function () {
      const { dataset, source } = await filled();
      const [other] = await dataset.createTable(unique('other'), { schema: 'v:INTEGER' });
      await rest('POST', '/emulator/v1/faults', {
        jobType: 'ANY',
        tableId: source.id,
        reason: 'internalError',
        count: 1,
      });
      const untouched = await waitDone(await copyJob(other, dataset.table('o_copy')));
      expect(untouched.status.errorResult).to.equal(undefined);
      const hit = await waitDone(await copyJob(source, dataset.table('s_copy')));
      expect(hit.status.errorResult?.reason).to.equal('internalError');
      const retry = await waitDone(await copyJob(source, dataset.table('s_copy')));
      expect(retry.status.errorResult).to.equal(undefined);
    });
  });

  describe('copy jobs', function () {
    const SCHEMA: TableField[] = [
      { name: 'v', type: 'INTEGER' },
      { name: 's', type: 'STRING' },
    ];

    async function withRows(dataset: Dataset, values: number[]): Promise<Table> {
      const table = await newTable(dataset, SCHEMA, { description: 'source', clustering: { fields: ['s'] } });
      if (values.length > 0) await table.insert(values.map((v) => ({ v, s: `s${v}` })));
      return table;
    }
    const values = async (table: Table): Promise<number[]> =>
      (await rowsOf(table)).map((r) => r['v'] as number);

    it('copies with WRITE_EMPTY by default, and truncates or appends when asked', async function () {
      const dataset = await newDataset();
      const source = await withRows(dataset, [1, 2]);
      const dest = dataset.table('dest');
      await source.copy(dest);
      expect(await values(dest)).to.deep.equal([1, 2]);
      const metadata = await metadataOf(dest);
      expect(metadata.schema?.fields).to.deep.equal(SCHEMA.map((f) => ({ ...f, mode: 'NULLABLE' })));
      expect(metadata.clustering).to.deep.equal({ fields: ['s'] });

      const refused = await waitDone(await copyJob(source, dest));
      expect(refused.status.errorResult?.reason).to.equal('duplicate');
      await failure(source.copy(dest));

      await source.copy(dest, { writeDisposition: 'WRITE_APPEND' });
      expect(await values(dest)).to.deep.equal([1, 2, 1, 2]);
      const other = await withRows(dataset, [7]);
      await other.copy(dest, { writeDisposition: 'WRITE_TRUNCATE' });
      expect(await values(dest)).to.deep.equal([7]);

      // An existing empty destination takes WRITE_EMPTY.
      const empty = await newTable(dataset, SCHEMA);
      await source.copy(empty);
      expect(await values(empty)).to.deep.equal([1, 2]);
      // Several sources append into one.
      const [job] = await bq.createJob({
        configuration: {
          copy: {
            sourceTables: [source, other].map((t) => ({ projectId, datasetId: dataset.id, tableId: t.id })),
            destinationTable: { projectId, datasetId: dataset.id, tableId: 'union' },
          },
        },
      });
      await waitDone(job);
      expect(await values(dataset.table('union'))).to.deep.equal([1, 2, 7]);
      // CREATE_NEVER into a missing table fails with notFound.
      const never = await waitDone(
        await copyJob(source, dataset.table('missing'), { createDisposition: 'CREATE_NEVER' }),
      );
      expect(never.status.errorResult?.reason).to.equal('notFound');
    });

    it('takes a SNAPSHOT, of now or of the past, that is read-only and expires', async function () {
      const dataset = await newDataset();
      const source = await withRows(dataset, [1]);
      await sleep(10);
      const between = Date.now();
      await sleep(10);
      await source.insert([{ v: 2, s: 's2' }]);

      const expires = new Date(Date.now() + 3_600_000);
      const snap = dataset.table('snap');
      const done = await waitDone(
        await copyJob(source, snap, {
          operationType: 'SNAPSHOT',
          destinationExpirationTime: expires.toISOString(),
        }),
      );
      expect(done.status.errorResult).to.equal(undefined);
      const metadata = await metadataOf(snap);
      expect(metadata.type).to.equal('SNAPSHOT');
      expect(metadata.snapshotDefinition?.baseTableReference).to.deep.equal({
        projectId,
        datasetId: dataset.id,
        tableId: source.id,
      });
      expect(Date.parse(metadata.snapshotDefinition?.snapshotTime ?? '')).to.be.closeTo(Date.now(), 60_000);
      expect(Number(metadata.expirationTime)).to.equal(expires.getTime());
      expect(await values(snap)).to.deep.equal([1, 2]);

      // Snapshots are read-only.
      await expectApiError(snap.insert([{ v: 3 }]), 400, 'invalid');
      const write = await waitDone(await copyJob(source, snap, { writeDisposition: 'WRITE_TRUNCATE' }));
      expect(write.status.errorResult?.reason).to.equal('invalid');

      // A snapshot of the past through the @millis decorator.
      const old = dataset.table('snap_old');
      await waitDone(await copyJob(`${source.id}@${between}`, old, { operationType: 'SNAPSHOT' }));
      expect(await values(old)).to.deep.equal([1]);
      const oldMetadata = await metadataOf(old);
      expect(Date.parse(oldMetadata.snapshotDefinition?.snapshotTime ?? '')).to.equal(between);

      // A snapshot past its expiration is gone.
      const brief = dataset.table('snap_brief');
      await waitDone(
        await copyJob(source, brief, {
          operationType: 'SNAPSHOT',
          destinationExpirationTime: new Date(Date.now() + 200).toISOString(),
        }),
      );
      expect((await brief.exists())[0]).to.equal(true);
      await sleep(250);
      expect((await brief.exists())[0]).to.equal(false);

      // A snapshot destination must not exist.
      const again = await waitDone(await copyJob(source, snap, { operationType: 'SNAPSHOT' }));
      expect(again.status.errorResult?.reason).to.equal('duplicate');
    });

    it('keeps ingestion-time partitions through SNAPSHOT and RESTORE', async function () {
      const dataset = await newDataset();
      const source = await newTable(dataset, SCHEMA, { timePartitioning: { type: 'DAY' } });
      const day = (daysAgo: number): string =>
        new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
      await dataset.table(`${source.id}$${day(10)}`).insert([{ v: 10, s: 'ten days' }]);
      await dataset.table(`${source.id}$${day(3)}`).insert([{ v: 3, s: 'three days' }]);
      const snap = dataset.table('snap');
      await waitDone(await copyJob(source, snap, { operationType: 'SNAPSHOT' }));
      const restored = dataset.table('restored');
      const done = await waitDone(await copyJob(snap, restored, { operationType: 'RESTORE' }));
      expect(done.status.errorResult).to.equal(undefined);
      for (const table of [snap, restored]) {
        expect(await values(dataset.table(`${table.id}$${day(10)}`)), table.id).to.deep.equal([10]);
        expect(await values(dataset.table(`${table.id}$${day(3)}`)), table.id).to.deep.equal([3]);
      }
      const metadata = await metadataOf(restored);
      expect(metadata.timePartitioning).to.deep.include({ type: 'DAY' });
    });

    it('CLONEs into a writable table and RESTOREs a snapshot', async function () {
      const dataset = await newDataset();
      const source = await withRows(dataset, [1, 2]);
      const clone = dataset.table('clone');
      await waitDone(await copyJob(source, clone, { operationType: 'CLONE' }));
      const cloneMetadata = await metadataOf(clone);
      expect(cloneMetadata.type).to.equal('TABLE');
      expect(cloneMetadata.cloneDefinition?.baseTableReference.tableId).to.equal(source.id);
      await clone.insert([{ v: 3, s: 's3' }]);
      expect(await values(clone)).to.deep.equal([1, 2, 3]);
      expect(await values(source)).to.deep.equal([1, 2]);

      const snap = dataset.table('snap');
      await waitDone(await copyJob(source, snap, { operationType: 'SNAPSHOT' }));
      const restored = dataset.table('restored');
      const done = await waitDone(await copyJob(snap, restored, { operationType: 'RESTORE' }));
      expect(done.status.errorResult).to.equal(undefined);
      const restoredMetadata = await metadataOf(restored);
      expect(restoredMetadata.type).to.equal('TABLE');
      await restored.insert([{ v: 9, s: 's9' }]);
      expect(await values(restored)).to.deep.equal([1, 2, 9]);
      // RESTORE needs a snapshot as its source.
      const notSnapshot = await waitDone(
        await copyJob(source, dataset.table('r2'), { operationType: 'RESTORE' }),
      );
      expect(notSnapshot.status.errorResult?.reason).to.equal('invalid');
    });
  });

  describe('BIGQUERY_EMULATOR_HOST', function () {
    it('serves a client that calls paths without /bigquery/v2', async function () {
      const saved = process.env['BIGQUERY_EMULATOR_HOST'];
      process.env['BIGQUERY_EMULATOR_HOST'] = emulator.url;
      try {
        const viaEnv = new BigQuery({ projectId, authClient: new PassThroughClient() });
        const [dataset] = await viaEnv.createDataset(unique('env'));
        const [table] = await dataset.createTable('t', { schema: 'a:STRING' });
        await table.insert([{ a: 'x' }]);
        expect(await rowsOf(table)).to.deep.equal([{ a: 'x' }]);
        const [datasets] = await viaEnv.getDatasets();
        expect(datasets.map((d) => d.id)).to.include(dataset.id);
      } finally {
        if (saved === undefined) delete process.env['BIGQUERY_EMULATOR_HOST'];
        else process.env['BIGQUERY_EMULATOR_HOST'] = saved;
      }
      // The other client still works.
      expect((await bq.getDatasets())[0].length).to.be.greaterThan(0);
    });
  });
});

describe('BigQuery emulator persistence', function () {
  this.timeout(30_000);
  let dataDir: string;

  before(async function () {
    dataDir = await mkdtemp(join(tmpdir(), 'bq-rest-persist-'));
  });

  after(async function () {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('keeps datasets, tables, rows and routines across a restart on the same dataDir', async function () {
    const projectId = 'persisted-project';
    const first = await startBigQueryEmulator({ port: 0, dataDir });
    let createdAt: string;
    try {
      const bq = client(first.url, projectId);
      const [dataset] = await bq.createDataset('kept', { labels: { keep: 'yes' } });
      const [table] = await dataset.createTable('rows', {
        schema: {
          fields: [
            { name: 'id', type: 'INTEGER', mode: 'REQUIRED' },
            { name: 'tags', type: 'STRING', mode: 'REPEATED' },
          ],
        },
        timePartitioning: { type: 'DAY' },
      });
      createdAt = (table.metadata as Resource).creationTime!;
      await table.insert([
        { id: 1, tags: ['a'] },
        { id: 2, tags: [] },
      ]);
      await dataset.createRoutine('f', { routineType: 'SCALAR_FUNCTION', definitionBody: '1' });
    } finally {
      await first.close();
    }

    const second = await startBigQueryEmulator({ port: 0, dataDir });
    try {
      const bq = client(second.url, projectId);
      const [datasets] = await bq.getDatasets();
      expect(datasets.map((d) => d.id)).to.deep.equal(['kept']);
      const dataset = bq.dataset('kept');
      expect((await metadataOf(dataset)).labels).to.deep.equal({ keep: 'yes' });
      const metadata = await metadataOf(dataset.table('rows'));
      expect(metadata.creationTime).to.equal(createdAt);
      expect(metadata.numRows).to.equal('2');
      expect(metadata.timePartitioning).to.deep.include({ type: 'DAY' });
      expect(
        await dataset
          .table('rows')
          .getRows()
          .then(([rows]) => rows as Row[]),
      ).to.deep.equal([
        { id: 1, tags: ['a'] },
        { id: 2, tags: [] },
      ]);
      const [routines] = await dataset.getRoutines();
      expect(routines.map((r) => r.id)).to.deep.equal(['f']);
      // And it stays writable.
      await dataset.table('rows').insert([{ id: 3 }]);
      expect((await metadataOf(dataset.table('rows'))).numRows).to.equal('3');
    } finally {
      await second.close();
    }
  });
});
