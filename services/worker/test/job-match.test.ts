// When a job found under a task's id is that task's job: extract, load and query jobs alike.
import { expect } from 'chai';
import { jobMismatch } from '../src/job-match.js';

const table = (tableId: string) => ({ projectId: 'p', datasetId: 'd', tableId });

describe('job match', function () {
  const extract = {
    extract: {
      sourceTable: table('orders@1700000000000'),
      destinationUris: ['gs://b/x/data-*.avro'],
      destinationFormat: 'AVRO',
      useAvroLogicalTypes: true,
    },
  };

  it('adopts the job this task would start, as BigQuery returns it (job type and defaults added)', function () {
    expect(jobMismatch(extract, { ...extract, jobType: 'EXTRACT' })).to.equal(undefined);
    const csv = { extract: { sourceTable: table('t@1'), destinationUris: ['gs://b/t/data-*.csv'] } };
    expect(jobMismatch({ extract: { ...csv.extract, destinationFormat: 'CSV' } }, csv)).to.equal(undefined);
  });

  it('names what differs in another extract: the snapshot, the destination, the format', function () {
    const other = (patch: object) => ({ extract: { ...extract.extract, ...patch } });
    expect(jobMismatch(extract, other({ sourceTable: table('orders@1700000000001') }))).to.equal(
      `its sourceTable is "p:d.orders@1700000000001" (this task's: "p:d.orders@1700000000000")`,
    );
    expect(jobMismatch(extract, other({ destinationUris: ['gs://b/y/data-*.avro'] }))).to.match(
      /^its destinationUris is \["gs:\/\/b\/y\/data-\*\.avro"\]/,
    );
    expect(jobMismatch(extract, other({ destinationFormat: 'PARQUET' }))).to.match(/destinationFormat/);
    expect(jobMismatch(extract, { load: { destinationTable: table('orders') } })).to.equal(
      "it is a load job (this task's is extract)",
    );
  });

  it('compares a load by destination table and source URIs, a query by destination and text', function () {
    const load = {
      load: { destinationTable: table('orders'), sourceUris: ['gs://b/x/data-000000000000.avro'] },
    };
    expect(jobMismatch(load, { ...load, jobType: 'LOAD' })).to.equal(undefined);
    expect(
      jobMismatch(load, { load: { ...load.load, sourceUris: ['gs://b/other/data-000000000000.avro'] } }),
    ).to.match(/^its sourceUris is/);
    expect(jobMismatch(load, { load: { ...load.load, destinationTable: table('other') } })).to.match(
      /^its destinationTable is "p:d.other"/,
    );
    const query = { query: { query: 'SELECT 1', destinationTable: table('orders'), useLegacySql: false } };
    expect(jobMismatch(query, query)).to.equal(undefined);
    expect(jobMismatch(query, { query: { ...query.query, query: 'SELECT 2' } })).to.match(/^its query is/);
  });
});
