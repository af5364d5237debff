import { expect } from 'chai';
import { describeFingerprint, fingerprintFromRow, fingerprintQuery } from '../src/index.js';

describe('content fingerprints', () => {
  it('reads a table at the snapshot, quoted, and a subquery as it is', () => {
    const table = fingerprintQuery({
      table: { projectId: 'my-project', datasetId: 'sales', tableId: 'orders' },
      snapshotMillis: 1_764_806_400_000,
    });
    expect(table).to.contain(
      'FROM `my-project.sales.orders` AS t FOR SYSTEM_TIME AS OF TIMESTAMP_MILLIS(1764806400000) GROUP BY row_json',
    );
    expect(fingerprintQuery({ table: { projectId: 'p', datasetId: 'd', tableId: 't' } })).to.contain(
      'FROM `p.d.t` AS t GROUP BY row_json',
    );
    expect(fingerprintQuery({ subquery: 'SELECT 1 AS x' })).to.contain(
      'FROM (SELECT 1 AS x) AS t GROUP BY row_json',
    );
  });

  it('turns the signed XOR into 16 hex digits, and no rows into the XOR of nothing', () => {
    expect(fingerprintFromRow({ n: 3, f: '-1' })).to.deep.equal({ rows: 3, value: 'ffffffffffffffff' });
    expect(fingerprintFromRow({ n: '2', f: '255' })).to.deep.equal({ rows: 2, value: '00000000000000ff' });
    expect(fingerprintFromRow({ n: null, f: null })).to.deep.equal({ rows: 0, value: '0000000000000000' });
    expect(fingerprintFromRow(undefined)).to.deep.equal({ rows: 0, value: '0000000000000000' });
    expect(describeFingerprint({ rows: 1, value: '00000000000000ff' })).to.equal(
      '00000000000000ff over 1 row',
    );
  });
});
