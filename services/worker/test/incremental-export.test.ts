// What an incremental chain's table task decides to export (planIncremental), with a hand-written table
// reader and base folder: the end-to-end behaviour is test/e2e/incremental.test.ts.
import { expect } from 'chai';
import { createHash } from 'node:crypto';
import type { BackupTaskSpec, TableManifest, TableRef } from '@bqbr/shared';
import type { PartitionNow, TableReader } from '../src/table-reader.js';
import { planIncremental } from '../src/incremental-export.js';
import type { TableHome } from '../src/table-home.js';
import type { TableMetadata } from '../src/table-manifest.js';

const BASE_SNAPSHOT = 1_000;
const SNAPSHOT = 2_000;
const BASE_PATH = 'backups/base/p/ds/t';
const FIELDS = [
  { name: 'd', type: 'DATE' },
  { name: 'n', type: 'INTEGER' },
];
const PARTITIONED: TableMetadata = {
  type: 'TABLE',
  schema: { fields: FIELDS },
  timePartitioning: { type: 'DAY', field: 'd' },
};

const spec = (manifestMd5?: string): BackupTaskSpec =>
  ({
    kind: 'backup',
    source: { projectId: 'p', datasetId: 'ds', tableId: 't' },
    snapshotMillis: SNAPSHOT,
    format: 'AVRO',
    compression: 'NONE',
    header: true,
    fieldDelimiter: ',',
    incremental: {
      base: { tablePath: BASE_PATH, snapshotMillis: BASE_SNAPSHOT, ...(manifestMd5 ? { manifestMd5 } : {}) },
    },
  }) as unknown as BackupTaskSpec;

const baseManifest = (overrides: Partial<TableManifest> = {}): TableManifest => ({
  manifestVersion: 1,
  kind: 'bqbr#table',
  operationId: 'base',
  source: { projectId: 'p', datasetId: 'ds', tableId: 't' },
  snapshotMillis: BASE_SNAPSHOT,
  snapshotTime: new Date(BASE_SNAPSHOT).toISOString(),
  tableType: 'TABLE',
  schema: { fields: FIELDS },
  numRows: 6,
  export: {
    format: 'AVRO',
    compression: 'NONE',
    header: true,
    fieldDelimiter: ',',
    useAvroLogicalTypes: true,
  },
  files: ['a', 'b', 'c'].map((p) => ({
    name: `data-p${p}-000000000000.avro`,
    uri: `u/${p}`,
    bytes: 10,
    partition: p,
  })),
  createdAt: new Date(BASE_SNAPSHOT).toISOString(),
  timePartitioning: { type: 'DAY', field: 'd' },
  partitions: ['a', 'b', 'c'].map((id) => ({ id, rows: 2, lastModifiedMillis: 500 })),
  extractJobs: 3,
  ...overrides,
});

function homeWith(manifest: TableManifest | undefined): { home: TableHome; md5: string } {
  const bytes = manifest === undefined ? undefined : Buffer.from(JSON.stringify(manifest));
  const home = {
    folder: 'backups/this/p/ds/t/',
    read: (path: string) => Promise.resolve(path === `${BASE_PATH}/_table.json` ? bytes : undefined),
  } as unknown as TableHome;
  return { home, md5: bytes ? createHash('md5').update(bytes).digest('base64') : '' };
}

/** Partitions now; rows at the snapshot per partition where asked (else `now`'s), and the table's total. */
function reader(now: PartitionNow[], atSnapshot: Record<string, number> = {}, total?: number): TableReader {
  return {
    get: () => Promise.resolve(undefined),
    rowsAt: (_ref: TableRef, _at: number, partition?: string) =>
      Promise.resolve(
        partition === undefined
          ? (total ?? now.reduce((sum, p) => sum + (atSnapshot[p.id] ?? p.rows), 0))
          : (atSnapshot[partition] ?? 0),
      ),
    partitions: () => Promise.resolve(now),
  };
}

describe('planIncremental: what a table of an incremental chain exports', function () {
  it('exports changed and new partitions, references the others from the base, records deleted ones', async function () {
    const { home, md5 } = homeWith(baseManifest());
    const plan = await planIncremental(
      spec(md5),
      PARTITIONED,
      home,
      reader(
        [
          { id: 'a', rows: 2, lastModifiedMillis: 500 },
          { id: 'b', rows: 3, lastModifiedMillis: 1_500 },
          { id: 'd', rows: 1, lastModifiedMillis: 1_600 },
        ],
        { b: 3, d: 1 },
      ),
    );
    expect(plan.kind).to.equal('partitions');
    if (plan.kind !== 'partitions') return;
    expect(plan.exported).to.deep.equal(['b', 'd']);
    expect(plan.deletedPartitions).to.deep.equal(['c']);
    expect(plan.referenced.map((f) => [f.partition, f.folder])).to.deep.equal([['a', `${BASE_PATH}/`]]);
    expect(plan.numRows).to.equal(6);
  });

  it('counts a partition changed after the snapshot at the snapshot, and leaves out one empty then', async function () {
    const { home, md5 } = homeWith(baseManifest());
    const plan = await planIncremental(
      spec(md5),
      PARTITIONED,
      home,
      // `a` changed after this snapshot but had its base rows at it; `e` was created after it.
      reader(
        [
          { id: 'a', rows: 9, lastModifiedMillis: 2_500 },
          { id: 'b', rows: 2, lastModifiedMillis: 500 },
          { id: 'c', rows: 2, lastModifiedMillis: 500 },
          { id: 'e', rows: 4, lastModifiedMillis: 2_600 },
        ],
        { a: 2, e: 0 },
        6,
      ),
    );
    if (plan.kind !== 'partitions') throw new Error(`planned ${plan.kind}`);
    expect(plan.partitions.map((p) => [p.id, p.rows])).to.deep.equal([
      ['a', 2],
      ['b', 2],
      ['c', 2],
    ]);
    // Modified after the base's snapshot: exported again (at this snapshot), though its rows are the same.
    expect(plan.exported).to.deep.equal(['a']);
  });

  it('exports the table whole when its partitions do not add up to its rows at the snapshot', async function () {
    const { home, md5 } = homeWith(baseManifest());
    const plan = await planIncremental(
      spec(md5),
      PARTITIONED,
      home,
      reader([{ id: 'a', rows: 2, lastModifiedMillis: 500 }], {}, 6),
    );
    expect(plan.kind).to.equal('whole');
    expect(plan.kind === 'whole' ? plan.why : '').to.match(
      /partitions hold 2 rows at the snapshot but the table 6/,
    );
  });

  it('exports every partition when the base is changed, missing, or of another schema', async function () {
    const now = [{ id: 'a', rows: 2, lastModifiedMillis: 500 }];
    for (const [home, md5, table] of [
      [homeWith(baseManifest()).home, 'not-the-md5', PARTITIONED],
      [homeWith(undefined).home, undefined, PARTITIONED],
      [
        homeWith(baseManifest()).home,
        homeWith(baseManifest()).md5,
        { ...PARTITIONED, schema: { fields: [...FIELDS, { name: 'x', type: 'STRING' }] } },
      ],
    ] as const) {
      const plan = await planIncremental(spec(md5), table, home, reader(now));
      if (plan.kind !== 'partitions') throw new Error(`planned ${plan.kind}`);
      expect(plan.exported).to.deep.equal(['a']);
      expect(plan.referenced).to.deep.equal([]);
    }
  });

  it('references an unpartitioned table whole when it is unchanged, and exports it whole otherwise', async function () {
    const plainBase = baseManifest({
      timePartitioning: undefined,
      partitions: undefined,
      extractJobs: undefined,
      extractJobId: 'job',
      numRows: 6,
      files: [{ name: 'data-000000000000.avro', uri: 'u', bytes: 10 }],
    });
    delete (plainBase as Partial<TableManifest>).timePartitioning;
    const { home, md5 } = homeWith(plainBase);
    const table: TableMetadata = { type: 'TABLE', schema: { fields: FIELDS }, lastModifiedTime: '900' };
    const unchanged = await planIncremental(spec(md5), table, home, reader([], {}, 6));
    expect(unchanged).to.deep.equal({
      kind: 'unchanged',
      numRows: 6,
      referenced: [{ name: 'data-000000000000.avro', uri: 'u', bytes: 10, folder: `${BASE_PATH}/` }],
    });
    const modified = await planIncremental(
      spec(md5),
      { ...table, lastModifiedTime: '1500' },
      home,
      reader([], {}, 6),
    );
    expect(modified).to.deep.equal({ kind: 'whole' });
  });
});
