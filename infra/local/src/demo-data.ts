// A small project that exercises what a backup must handle: several datasets, a partitioned and
// clustered table, nested and repeated fields, a flat table holding every other type at its limits, an
// empty table, a view and tables matched by a wildcard.
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

/** Every BigQuery type except RECORD and REPEATED (so CSV can hold it too), with descriptions. */
const ALL_TYPES_SCHEMA = [
  { name: 'id', type: 'INT64', mode: 'REQUIRED', description: 'row number, unique' },
  { name: 'flag', type: 'BOOL', description: 'true, false or NULL' },
  { name: 'int_value', type: 'INT64', description: 'up to the INT64 limits' },
  { name: 'float_value', type: 'FLOAT64' },
  { name: 'numeric_value', type: 'NUMERIC', description: 'scale 9' },
  { name: 'bignumeric_value', type: 'BIGNUMERIC' },
  { name: 'string_value', type: 'STRING', description: 'unicode, commas, quotes, line breaks' },
  { name: 'bytes_value', type: 'BYTES' },
  { name: 'date_value', type: 'DATE' },
  { name: 'time_value', type: 'TIME' },
  { name: 'datetime_value', type: 'DATETIME' },
  { name: 'timestamp_value', type: 'TIMESTAMP' },
  { name: 'geography_value', type: 'GEOGRAPHY' },
  { name: 'json_value', type: 'JSON' },
];

/** Rows in the forms tabledata.insertAll takes: INT64 limits as strings, BYTES base64, TIMESTAMP text in UTC. */
function allTypesRows(): Record<string, unknown>[] {
  const base64 = (bytes: number[] | string): string => Buffer.from(bytes).toString('base64');
  const limits = [
    {
      id: 1,
      flag: true,
      int_value: '9223372036854775807',
      float_value: 1.5,
      numeric_value: '99999999999999999999999999999.999999999',
      bignumeric_value: '578960446186580977117854925043439539266.34992332820282019728792003956564819967',
      string_value: 'Grüße aus München, "Zürich"\nund 東京 🙂',
      bytes_value: base64([0, 1, 2, 254, 255]),
      date_value: '9999-12-31',
      time_value: '23:59:59.999999',
      datetime_value: '9999-12-31T23:59:59.999999',
      timestamp_value: '9999-12-31 23:59:59.999999 UTC',
      geography_value: 'POINT(13.405 52.52)',
      json_value: JSON.stringify({ a: [1, 2, { b: null }], s: 'x, "y"' }),
    },
    {
      id: 2,
      flag: false,
      int_value: '-9223372036854775808',
      float_value: -2.5e-7,
      numeric_value: '-0.000000001',
      bignumeric_value: '-0.00000000000000000000000000000000000001',
      string_value: '',
      bytes_value: base64('\r\n,"'),
      date_value: '0001-01-01',
      time_value: '00:00:00',
      datetime_value: '0001-01-01T00:00:00',
      timestamp_value: '0001-01-01 00:00:00 UTC',
      geography_value: 'LINESTRING(0 0, 1 1)',
      json_value: '"just a string"',
    },
    {
      id: 3,
      flag: false,
      int_value: '0',
      // An integer-valued FLOAT64: text formats may print it as 3 or 3.0.
      float_value: 3,
      numeric_value: '0',
      bignumeric_value: '0',
      string_value: 'tab\there, comma, "quote" and\r\nCRLF',
      bytes_value: base64([]),
      date_value: '1970-01-01',
      time_value: '12:34:56.789012',
      datetime_value: '2026-11-20T12:34:56.789012',
      // One microsecond before the epoch.
      timestamp_value: '1969-12-31 23:59:59.999999 UTC',
      geography_value: 'POLYGON((0 0, 1 0, 1 1, 0 1, 0 0))',
      json_value: '[1, "two", true, 2.5]',
    },
    // Every nullable column NULL.
    { id: 4 },
  ];
  const generated = Array.from({ length: 16 }, (_, k) => {
    const i = k + 5;
    // Each column is NULL in a different row.
    const unless = (column: number, value: unknown): unknown => (i % 16 === column ? null : value);
    return {
      id: i,
      flag: unless(1, i % 2 === 0),
      int_value: unless(2, String((i % 2 === 0 ? 1 : -1) * i * 1_000_003)),
      float_value: unless(3, i / 10),
      numeric_value: unless(4, `${i * 1000}.${String(i * 7).padStart(9, '0')}`),
      bignumeric_value: unless(5, `${'9'.repeat(i)}.${String(i).padStart(38, '0')}`),
      string_value: unless(6, `row ${i}: ${['ä', 'ß', 'ç', 'ñ'][i % 4]}, "#${i}"`),
      bytes_value: unless(7, base64(`bytes ${i}`)),
      date_value: unless(8, `2026-${String((i % 12) + 1).padStart(2, '0')}-${String(i).padStart(2, '0')}`),
      time_value: unless(
        9,
        `${String(i).padStart(2, '0')}:${String(i * 2).padStart(2, '0')}:00.${String(i * 1001).padStart(6, '0')}`,
      ),
      datetime_value: unless(
        10,
        `2026-11-${String(i).padStart(2, '0')}T0${i % 10}:30:00.${String(i).padStart(6, '0')}`,
      ),
      timestamp_value: unless(
        11,
        `2026-11-${String(i).padStart(2, '0')} ${String(i).padStart(2, '0')}:00:00.${String(i * 3).padStart(6, '0')} UTC`,
      ),
      geography_value: unless(12, `POINT(${i} ${i / 2})`),
      json_value: unless(13, JSON.stringify({ n: i, tags: i % 3 === 0 ? [] : ['t', i], ok: i % 2 === 0 })),
    };
  });
  return [...limits, ...generated];
}

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

  const [allTypes] = await sales.createTable('all_types', {
    description: 'one column of every flat type, with limits, NULLs and awkward text',
    schema: { fields: ALL_TYPES_SCHEMA },
    labels: { team: 'qa', demo: 'true' },
  });
  const allTypesRowsToInsert = allTypesRows();
  await allTypes.insert(allTypesRowsToInsert);
  tables.push({
    datasetId: 'sales',
    tableId: 'all_types',
    rows: allTypesRowsToInsert.length,
    type: 'TABLE',
    nested: false,
  });

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
