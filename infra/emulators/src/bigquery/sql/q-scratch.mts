import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', {});
const c = await inst.connect();
const qs = process.argv.slice(2);
for (const q of qs) {
  try {
    const r = await c.runAndReadAll(q);
    console.log(q, '=>', JSON.stringify(r.getRowObjectsJson()), r.columnTypes().map(t => t.toString() + '/' + t.typeId + (t.alias ? '/' + t.alias : '')).join(', '), r.columnNames());
  } catch (e) { console.log(q, 'ERR', (e as Error).message); }
}
