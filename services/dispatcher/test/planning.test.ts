// Planning logic: wildcard matching, scope (selections, exclusions, missing tables), the snapshot window;
// dry-run sizing, also against the BigQuery emulator through the official client.
import { startBigQueryEmulator, type RunningBigQueryEmulator } from '@bqbr/emulators';
import { decodeRequest, type BackupRequest, type TableRef } from '@bqbr/shared';
import { BigQuery } from '@google-cloud/bigquery';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import { finalStatus } from '../src/engine/completion.js';
import { pages } from '../src/engine/pages.js';
import { bigQueryCatalog, type Catalog, type ListedTable } from '../src/kinds/backup/catalog.js';
import { dryRunPlan } from '../src/kinds/backup/dry-run-sizing.js';
import { resolveSnapshot } from '../src/kinds/backup/snapshot-window.js';
import {
  isExcluded,
  isSelected,
  matchesPattern,
  matchesQualifiedPattern,
} from '../src/kinds/backup/table-patterns.js';
import { classifyTable, planTables, type PlannedTable } from '../src/kinds/backup/table-selection.js';
import { readRequest } from '../src/request-envelope.js';

const PROJECT = 'demo-project';

function backup(bigQuery: object, extra: object = {}): BackupRequest {
  const decoded = decodeRequest({
    bigQuery: { projectId: PROJECT, ...bigQuery },
    backupStorage: {
      gcsOptions: { uri: 'gs://bucket/x', exportOptions: { format: 'AVRO', overwrite: true } },
    },
    ...extra,
  });
  if (decoded.kind !== 'backup') throw new Error('expected a backup');
  return decoded.request;
}

/** A project in memory, listed a few tables per page so paging is exercised. */
function fakeCatalog(datasets: Record<string, ListedTable[]>, pageSize = 2): Catalog {
  const pageOf = <T>(items: T[], token?: string): { items: T[]; next?: string } => {
    const start = Number(token ?? 0);
    const next = start + pageSize < items.length ? { next: String(start + pageSize) } : {};
    return { items: items.slice(start, start + pageSize), ...next };
  };
  return {
    listDatasets: (_projectId, token) => {
      const { items, ...next } = pageOf(Object.keys(datasets), token);
      return Promise.resolve({ ids: items, ...next });
    },
    listTables: (_projectId, datasetId, token) => {
      const tables = datasets[datasetId];
      if (!tables)
        return Promise.reject(Object.assign(new Error(`Not found: Dataset ${datasetId}`), { code: 404 }));
      const { items, ...next } = pageOf(tables, token);
      return Promise.resolve({ tables: items, ...next });
    },
    getTable: (ref: TableRef) => {
      const table = datasets[ref.datasetId]?.find((t) => t.tableId === ref.tableId);
      return Promise.resolve(table ? { ...table, numBytes: 10, numRows: 1 } : undefined);
    },
    getDataset: (_projectId, datasetId) =>
      Promise.resolve(datasets[datasetId] === undefined ? undefined : { description: datasetId }),
  };
}

const table = (tableId: string, type = 'TABLE', creationTime = 1_000): ListedTable => ({
  tableId,
  type,
  creationTime,
});

const catalog = fakeCatalog({
  sales: [table('orders'), table('customers'), table('refunds'), table('paid_orders', 'VIEW')],
  analytics: [
    table('daily_2026_11_20'),
    table('daily_2026_11_21'),
    table('events'),
    table('ext', 'EXTERNAL'),
    table('late', 'TABLE', 9_000),
  ],
  empty: [],
});

async function plan(request: BackupRequest, snapshotMillis = 5_000): Promise<PlannedTable[]> {
  const result: PlannedTable[] = [];
  for await (const entry of planTables(catalog, request, snapshotMillis)) result.push(entry);
  return result;
}

const summary = (entries: PlannedTable[]): string[] =>
  entries.map(
    (e) => `${e.table.datasetId}.${e.table.tableId}:${e.action}${e.error ? `:${e.error.reason}` : ''}`,
  );

describe('table patterns', () => {
  it('matches * as any run of characters, everything else literally', () => {
    expect(matchesPattern('daily_*', 'daily_2026')).to.equal(true);
    expect(matchesPattern('daily_*', 'daily_')).to.equal(true);
    expect(matchesPattern('daily_*', 'weekly_2026')).to.equal(false);
    expect(matchesPattern('*_tmp', 'orders_tmp')).to.equal(true);
    expect(matchesPattern('a*b*c', 'axxbyyc')).to.equal(true);
    expect(matchesPattern('orders', 'orders_2')).to.equal(false);
    // Regex metacharacters in names mean themselves; names are case-sensitive.
    expect(matchesPattern('a.b', 'axb')).to.equal(false);
    expect(matchesPattern('Orders', 'orders')).to.equal(false);
    expect(matchesPattern('tabelle-ä*', 'tabelle-äpfel')).to.equal(true);
  });

  it('reads request-wide exclusions as dataset.table or a table in any dataset', () => {
    expect(matchesQualifiedPattern('sales.tmp_*', 'sales', 'tmp_1')).to.equal(true);
    expect(matchesQualifiedPattern('sales.tmp_*', 'analytics', 'tmp_1')).to.equal(false);
    expect(matchesQualifiedPattern('*.tmp_*', 'analytics', 'tmp_1')).to.equal(true);
    expect(matchesQualifiedPattern('tmp_*', 'anything', 'tmp_1')).to.equal(true);
    expect(isExcluded(['x*'], [], 'd', 'xy')).to.equal(true);
    expect(isExcluded([], ['d.xy'], 'd', 'xy')).to.equal(true);
    expect(isExcluded([], ['e.xy'], 'd', 'xy')).to.equal(false);
  });

  it('selects named tables and filter matches; everything when neither is given', () => {
    expect(isSelected({}, 'any')).to.equal(true);
    expect(isSelected({ tables: ['a'] }, 'a')).to.equal(true);
    expect(isSelected({ tables: ['a'] }, 'b')).to.equal(false);
    expect(isSelected({ tableFilter: 'b*' }, 'bc')).to.equal(true);
    expect(isSelected({ tables: ['a'], tableFilter: 'b*' }, 'bc')).to.equal(true);
  });
});

describe('planner scope', () => {
  it('without tablesToBackup, plans every table of every dataset, through every page', async () => {
    const entries = await plan(backup({}));
    expect(summary(entries)).to.deep.equal([
      'sales.orders:EXPORT',
      'sales.customers:EXPORT',
      'sales.refunds:EXPORT',
      // Views go to the worker, which writes their definition to _table.json and skips them.
      'sales.paid_orders:EXPORT',
      'analytics.daily_2026_11_20:EXPORT',
      'analytics.daily_2026_11_21:EXPORT',
      'analytics.events:EXPORT',
      'analytics.ext:SKIP',
      'analytics.late:SKIP',
    ]);
    expect(entries.find((e) => e.table.tableId === 'late')?.note).to.equal('created after the snapshot');
    expect(entries.every((e) => e.table.projectId === PROJECT)).to.equal(true);
  });

  it('plans named tables, filters, and exclusions per selection and request-wide', async () => {
    const entries = await plan(
      backup({
        tablesToBackup: [
          { datasetName: 'sales', tables: ['orders', 'customers', 'refunds'], excludeTables: ['ref*'] },
          { datasetName: 'analytics', tableFilter: 'daily_*' },
        ],
        excludeTables: ['analytics.*_21', 'customers'],
      }),
    );
    expect(summary(entries)).to.deep.equal(['sales.orders:EXPORT', 'analytics.daily_2026_11_20:EXPORT']);
  });

  it('fails a named table that does not exist, and the named tables of a missing dataset, as tasks', async () => {
    const entries = await plan(
      backup({
        tablesToBackup: [
          { datasetName: 'sales', tables: ['orders', 'nope'] },
          { datasetName: 'gone', tables: ['t1'] },
          { datasetName: 'gone2', tableFilter: 'x*' },
          { datasetName: 'analytics', tables: ['missing'], tableFilter: 'events' },
        ],
      }),
    );
    expect(summary(entries)).to.deep.equal([
      'sales.orders:EXPORT',
      'sales.nope:FAIL:notFound',
      'gone.t1:FAIL:notFound',
      'gone2.x*:FAIL:notFound',
      'analytics.events:EXPORT',
      'analytics.missing:FAIL:notFound',
    ]);
  });

  it('plans nothing for an empty dataset', async () => {
    expect(await plan(backup({ tablesToBackup: [{ datasetName: 'empty' }] }))).to.deep.equal([]);
  });

  it('skips external tables and tables created after the snapshot, exports the rest', () => {
    const ref = { projectId: PROJECT, datasetId: 'd', tableId: 't' };
    expect(classifyTable(ref, table('t', 'TABLE', 10), 10).action).to.equal('EXPORT');
    expect(classifyTable(ref, table('t', 'TABLE', 11), 10).action).to.equal('SKIP');
    expect(classifyTable(ref, table('t', 'EXTERNAL', 1), 10).action).to.equal('SKIP');
    expect(classifyTable(ref, table('t', 'MATERIALIZED_VIEW', 1), 10).action).to.equal('EXPORT');
  });

  it('groups entries into pages of the batch size', async () => {
    const result: number[][] = [];
    for await (const page of pages([0, 1, 2, 3, 4, 5, 6], 3)) result.push(page);
    expect(result).to.deep.equal([[0, 1, 2], [3, 4, 5], [6]]);
  });
});

/** `count` tables t_0000, t_0001, …, in the order BigQuery lists them. */
const wide = (count: number): ListedTable[] =>
  Array.from({ length: count }, (_, i) => table(`t_${String(i).padStart(4, '0')}`));

describe('dry-run sizing', function () {
  it('sums bytes and rows over every exported table, not only the 1,000 of the sample', async function () {
    const tables = wide(2_500);
    tables.push(table('ext', 'EXTERNAL'));
    const { plan, fields } = await dryRunPlan(fakeCatalog({ wide: tables }, 1000), backup({}), 5_000);
    // The fake sizes every table at 10 bytes and 1 row.
    expect(plan).to.include({ tables: 2_501, skipped: 1, bytes: 25_000, rows: 2_500 });
    expect(plan.sample).to.have.length(1000);
    expect(plan.sample[999]).to.deep.equal({ table: 'wide.t_0999', action: 'EXPORT', bytes: 10 });
    expect(fields).to.equal(undefined);
  });

  it('labels the totals partial when a table cannot be sized, in the sample or past it', async function () {
    const inner = fakeCatalog({ wide: wide(1_500) }, 1000);
    const unreadable = new Set(['t_0003', 't_1200']);
    const flaky: Catalog = {
      ...inner,
      getTable: (ref) =>
        unreadable.has(ref.tableId)
          ? Promise.reject(
              Object.assign(new Error(`Exceeded rate limits reading ${ref.tableId}`), {
                code: 403,
                errors: [{ reason: 'rateLimitExceeded' }],
              }),
            )
          : inner.getTable(ref),
    };
    const { plan, fields } = await dryRunPlan(flaky, backup({}), 5_000);
    expect(plan).to.include({ tables: 1_500, skipped: 0, bytes: 14_980, rows: 1_498, unsizedTables: 2 });
    expect(plan.sample[3]).to.deep.equal({
      table: 'wide.t_0003',
      action: 'EXPORT',
      note: 'size unknown: rateLimitExceeded: Exceeded rate limits reading t_0003',
    });
    expect(fields?.warnings).to.have.length(1);
    expect(fields?.warnings?.[0])
      .to.contain('dry-run totals are partial')
      .and.to.contain('1498 of 1500 exported tables')
      .and.to.contain('2 could not be sized')
      .and.to.contain('wide.t_0003');
  });
});

describe('dry-run sizing against the BigQuery emulator', function () {
  this.timeout(180_000);
  let emulator: RunningBigQueryEmulator;
  let bigquery: BigQuery;

  before(async function () {
    emulator = await startBigQueryEmulator({ port: 0 });
    bigquery = new BigQuery({
      apiEndpoint: emulator.url,
      projectId: PROJECT,
      authClient: new PassThroughClient(),
    });
  });

  after(async function () {
    await emulator?.close();
  });

  it('reports bytes and rows over all of more than 1,000 tables', async function () {
    const [dataset] = await bigquery.createDataset('wide');
    const names = wide(1_025).map((t) => t.tableId);
    for (let i = 0; i < names.length; i += 50)
      await Promise.all(
        names
          .slice(i, i + 50)
          .map((name) => dataset.createTable(name, { schema: { fields: [{ name: 'n', type: 'INT64' }] } })),
      );
    // Rows in the first table and in two well past the first 1,000 BigQuery lists.
    const filled = { t_0000: 2, t_1020: 3, t_1024: 4 };
    let bytes = 0;
    for (const [name, count] of Object.entries(filled)) {
      await dataset.table(name).insert(Array.from({ length: count }, (_, n) => ({ n })));
      const [metadata] = (await dataset.table(name).getMetadata()) as unknown as [{ numBytes?: string }];
      bytes += Number(metadata.numBytes ?? 0);
    }
    expect(bytes).to.be.greaterThan(0);

    const { plan, fields } = await dryRunPlan(
      bigQueryCatalog(bigquery),
      backup({ tablesToBackup: [{ datasetName: 'wide' }] }),
      Date.now(),
    );
    expect(plan).to.include({ tables: 1_025, skipped: 0, rows: 9, bytes });
    expect(plan.sample).to.have.length(1000);
    expect(plan.sample.map((s) => s.table)).not.to.include('wide.t_1020');
    expect(fields).to.equal(undefined);
  });
});

describe('snapshot window', () => {
  const now = new Date('2026-11-20T12:00:00.000Z');
  const week = 7 * 24 * 3_600_000 - 5 * 60_000;
  const at = (localDateTime: string, timezone = 'UTC'): BackupRequest =>
    backup({}, { backupTime: { localDateTime, timezone } });

  it('is now without backupTime, else the named wall-clock time in its zone', () => {
    expect(resolveSnapshot(backup({}), now, week)).to.equal(now.getTime());
    expect(resolveSnapshot(at('2026-11-20T12:30:00', 'Europe/Berlin'), now, week)).to.equal(
      Date.parse('2026-11-20T11:30:00Z'),
    );
  });

  it('refuses an instant in the future or beyond the 7-day time travel window, naming backupTime', () => {
    for (const request of [at('2026-11-20T12:00:01'), at('2026-11-13T12:04:00')]) {
      expect(() => resolveSnapshot(request, now, week))
        .to.throw()
        .with.property('issues')
        .that.satisfies((issues: { path: string }[]) => issues[0]?.path === 'backupTime');
    }
    expect(resolveSnapshot(at('2026-11-13T12:06:00'), now, week)).to.equal(
      Date.parse('2026-11-13T12:06:00Z'),
    );
  });
});

describe('final status', () => {
  it('is SUCCEEDED without failures, FAILED when nothing succeeded, PARTIALLY_FAILED in between', () => {
    expect(finalStatus({ SUCCEEDED: 3, FAILED: 0 })).to.equal('SUCCEEDED');
    expect(finalStatus({ SUCCEEDED: 0, FAILED: 0 })).to.equal('SUCCEEDED');
    expect(finalStatus({ SUCCEEDED: 0, FAILED: 2 })).to.equal('FAILED');
    expect(finalStatus({ SUCCEEDED: 1, FAILED: 2 })).to.equal('PARTIALLY_FAILED');
  });
});

describe('request messages', () => {
  const body = {
    bigQuery: { projectId: PROJECT },
    backupStorage: {
      gcsOptions: { uri: 'gs://bucket/x', exportOptions: { format: 'AVRO', overwrite: true } },
    },
  };
  const message = (data: unknown, attributes: Record<string, string> = {}) => ({
    data: Buffer.from(typeof data === 'string' ? data : JSON.stringify(data)),
    attributes,
    messageId: 'm-1',
  });

  it('names the operation by attribute, else body operationId, else the message id', () => {
    expect(readRequest(message(body)).operationId).to.equal('m-1');
    expect(readRequest(message({ ...body, operationId: 'op-b' })).operationId).to.equal('op-b');
    expect(
      readRequest(message({ ...body, operationId: 'op-b' }, { operationId: 'op-a' })).operationId,
    ).to.equal('op-a');
  });

  it('reports bad JSON and bad fields with their paths', () => {
    expect(readRequest(message('{oops')).error?.issues[0]?.path).to.equal('');
    const bad = readRequest(message({ ...body, bigQuery: { projectId: 'X' } }, { kind: 'backup' }));
    expect(bad.error?.issues.map((i) => i.path)).to.deep.equal(['bigQuery.projectId']);
    expect(bad.operationId).to.equal('m-1');
    expect(readRequest(message(body, { operationId: 'a/b' })).error?.issues[0]?.path).to.equal(
      'attributes.operationId',
    );
  });

  it('tells a restore from a backup by attribute or shape', () => {
    expect(readRequest(message({ restoreStorage: {} })).kind).to.equal('restore');
    expect(readRequest(message(body, { kind: 'restore' })).kind).to.equal('restore');
    expect(readRequest(message(body)).decoded?.kind).to.equal('backup');
  });
});
