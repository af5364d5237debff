import type { TableManifest } from '@bqbr/shared';
import { expect } from 'chai';
import { encryptionOf, newTableBody, settingsAfterLoad } from '../src/table-definition.js';

const NOW = Date.parse('2026-12-04T12:00:00Z');
const TARGET = { projectId: 'dev', datasetId: 'restored_sales', tableId: 'orders' };

const manifest = (extra: Partial<TableManifest>): TableManifest => ({
  manifestVersion: 1,
  kind: 'bqbr#table',
  operationId: 'op',
  source: { projectId: 'prod', datasetId: 'sales', tableId: 'orders' },
  snapshotMillis: NOW - 1000,
  snapshotTime: new Date(NOW - 1000).toISOString(),
  tableType: 'TABLE',
  schema: { fields: [{ name: 'id', type: 'INTEGER' }] },
  numRows: 0,
  export: {
    format: 'AVRO',
    compression: 'NONE',
    header: true,
    fieldDelimiter: ',',
    useAvroLogicalTypes: true,
  },
  files: [],
  createdAt: new Date(NOW).toISOString(),
  ...extra,
});

describe('table settings on restore', function () {
  it('keeps an expiration still ahead and leaves out one already past, saying so', function () {
    const ahead = String(NOW + 60_000);
    expect(settingsAfterLoad(manifest({ expirationTime: ahead }), TARGET, NOW)).to.deep.equal({
      patch: { expirationTime: ahead },
      notes: [],
    });
    const past = settingsAfterLoad(manifest({ expirationTime: String(NOW - 60_000) }), TARGET, NOW);
    expect(past.patch).to.deep.equal({});
    expect(past.notes).to.deep.equal([
      'restored without its expiration: it expired at 2026-12-04T11:59:00.000Z, before the restore',
    ]);
  });

  it('points foreign keys at the restored dataset and notes a snapshot restored as a table', function () {
    const { patch, notes } = settingsAfterLoad(
      manifest({
        tableConstraints: {
          primaryKey: { columns: ['id'] },
          foreignKeys: [
            {
              referencedTable: { projectId: 'prod', datasetId: 'sales', tableId: 'customers' },
              columnReferences: [{ referencingColumn: 'c', referencedColumn: 'id' }],
            },
          ],
        },
        snapshotDefinition: {
          baseTableReference: { projectId: 'prod', datasetId: 'sales', tableId: 'orders_live' },
        },
        requirePartitionFilter: true,
      }),
      TARGET,
      NOW,
    );
    expect(patch).to.deep.equal({
      requirePartitionFilter: true,
      tableConstraints: {
        primaryKey: { columns: ['id'] },
        foreignKeys: [
          {
            referencedTable: { projectId: 'dev', datasetId: 'restored_sales', tableId: 'customers' },
            columnReferences: [{ referencingColumn: 'c', referencedColumn: 'id' }],
          },
        ],
      },
    });
    expect(notes).to.deep.equal(['a table snapshot of prod:sales.orders_live: restored as a standard table']);
  });

  it('maps a CMEK key by kmsKeyMapping, keeps an unmapped one', function () {
    const keyed = manifest({ encryptionConfiguration: { kmsKeyName: 'k/prod' } });
    expect(encryptionOf(keyed, { 'k/prod': 'k/dev' })).to.deep.equal({ kmsKeyName: 'k/dev' });
    expect(encryptionOf(keyed, {})).to.deep.equal({ kmsKeyName: 'k/prod' });
    expect(encryptionOf(manifest({}), { 'k/prod': 'k/dev' })).to.equal(undefined);
    expect(newTableBody(keyed, { 'k/prod': 'k/dev' })).to.deep.include({
      encryptionConfiguration: { kmsKeyName: 'k/dev' },
    });
  });
});
