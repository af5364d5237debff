// A small project that exercises what a backup must handle: several datasets, a partitioned and
// clustered table, nested and repeated fields, an empty table, a view and tables matched by a wildcard.
import type { BigQuery } from '@google-cloud/bigquery';

export interface DemoTable {
  readonly datasetId: string;
  readonly tableId: string;
  /** Rows inserted (views: none). */
  readonly rows: number;
  readonly type: 'TABLE' | 'VIEW';
  readonly nested: boolean;
}

const ORDERS = 500;
const CUSTOMERS = 50;

/** Creates the demo datasets in `bigquery`'s project unless the project already has datasets. Returns what exists. */
export async function seedDemoData(bigquery: BigQuery): Promise<{ seeded: boolean; tables: DemoTable[] }> {
  const [existing] = await bigquery.getDatasets();
  if (existing.length > 0) return { seeded: false, tables: [] };
  const tables: DemoTable[] = [];

  const [sales] = await bigquery.createDataset('sales', { description: 'bqbr demo: orders and customers' });
  const [orders] = await sales.createTable('orders', {
    description: 'one row per order',
    schema: {
      fields: [
        { name: 'order_id', type: 'INT64', mode: 'REQUIRED', description: 'unique order number' },
        { name: 'customer_id', type: 'INT64' },
        { name: 'order_date', type: 'DATE' },
        { name: 'amount', type: 'NUMERIC' },
        { name: 'status', type: 'STRING' },
        { name: 'created_at', type: 'TIMESTAMP' },
      ],
    },
    timePartitioning: { type: 'DAY', field: 'order_date' },
    clustering: { fields: ['customer_id'] },
    labels: { team: 'sales', demo: 'true' },
  });
  await orders.insert(
    Array.from({ length: ORDERS }, (_, i) => ({
      order_id: i + 1,
      customer_id: (i % CUSTOMERS) + 1,
      order_date: `2026-11-${String((i % 20) + 1).padStart(2, '0')}`,
      amount: ((i * 37) % 10000) / 100,
      status: ['NEW', 'PAID', 'SHIPPED', 'RETURNED'][i % 4],
      created_at: new Date(Date.UTC(2026, 10, (i % 20) + 1, i % 24)).toISOString(),
    })),
  );
  tables.push({ datasetId: 'sales', tableId: 'orders', rows: ORDERS, type: 'TABLE', nested: false });

  const [customers] = await sales.createTable('customers', {
    schema: {
      fields: [
        { name: 'customer_id', type: 'INT64', mode: 'REQUIRED' },
        { name: 'name', type: 'STRING' },
        {
          name: 'address',
          type: 'RECORD',
          fields: [
            { name: 'street', type: 'STRING' },
            { name: 'city', type: 'STRING' },
            { name: 'geo', type: 'GEOGRAPHY' },
          ],
        },
        { name: 'phones', type: 'STRING', mode: 'REPEATED' },
        { name: 'profile', type: 'JSON' },
      ],
    },
  });
  await customers.insert(
    Array.from({ length: CUSTOMERS }, (_, i) => ({
      customer_id: i + 1,
      name: `Customer ${i + 1}`,
      address: {
        street: `${i + 1} Main St`,
        city: ['Berlin', 'Lyon', 'Porto'][i % 3],
        geo: `POINT(${i} ${i / 2})`,
      },
      phones: i % 2 === 0 ? [`+49 30 ${1000 + i}`, `+49 160 ${2000 + i}`] : [],
      profile: JSON.stringify({ tier: i % 5 === 0 ? 'gold' : 'standard', since: 2020 + (i % 6) }),
    })),
  );
  tables.push({ datasetId: 'sales', tableId: 'customers', rows: CUSTOMERS, type: 'TABLE', nested: true });

  await sales.createTable('refunds', {
    schema: {
      fields: [
        { name: 'order_id', type: 'INT64' },
        { name: 'reason', type: 'STRING' },
      ],
    },
  });
  tables.push({ datasetId: 'sales', tableId: 'refunds', rows: 0, type: 'TABLE', nested: false });

  await sales.createTable('paid_orders', {
    view: { query: "SELECT order_id, amount FROM `sales.orders` WHERE status = 'PAID'", useLegacySql: false },
  });
  tables.push({ datasetId: 'sales', tableId: 'paid_orders', rows: 0, type: 'VIEW', nested: false });

  const [analytics] = await bigquery.createDataset('analytics');
  for (const day of ['2026_11_20', '2026_11_21', '2026_11_22']) {
    const [daily] = await analytics.createTable(`daily_${day}`, {
      schema: {
        fields: [
          { name: 'page', type: 'STRING' },
          { name: 'views', type: 'INT64' },
        ],
      },
    });
    await daily.insert(['/', '/pricing', '/docs'].map((page, i) => ({ page, views: (i + 1) * 10 })));
    tables.push({ datasetId: 'analytics', tableId: `daily_${day}`, rows: 3, type: 'TABLE', nested: false });
  }
  const [events] = await analytics.createTable('events', {
    schema: {
      fields: [
        { name: 'user_id', type: 'INT64' },
        { name: 'event', type: 'STRING' },
      ],
    },
    rangePartitioning: { field: 'user_id', range: { start: '0', end: '100', interval: '10' } },
  });
  await events.insert(
    Array.from({ length: 40 }, (_, i) => ({ user_id: i * 2, event: i % 2 ? 'click' : 'view' })),
  );
  tables.push({ datasetId: 'analytics', tableId: 'events', rows: 40, type: 'TABLE', nested: false });
  return { seeded: true, tables };
}
