// Reads whole BigQuery tables into canonical values and compares two of them value by value, so a
// restore can be checked against its source: same schema, same multiset of rows, in any order.
import type { BigQuery } from '@google-cloud/bigquery';
import type { FieldSchema } from '@bqbr/shared';

export interface TableRows {
  schema: FieldSchema[];
  rows: Record<string, unknown>[];
}

export interface TableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

/**
 * Documented limits of a backup format that a comparison may allow:
 * - `float-text`: CSV and JSON carry FLOAT64 as text, so values are compared to 15 significant digits.
 */
export type Tolerance = 'float-text';

export interface DiffOptions {
  /** Leave field descriptions out of the schema comparison. */
  ignoreFieldDescriptions?: boolean;
  tolerance?: readonly Tolerance[];
}

/** At most this many differences are listed; the rest are counted. */
const MAX_DIFFERENCES = 50;
/** Missing rows beyond this many are not paired with unexpected ones (pairing is quadratic). */
const MAX_PAIRED_ROWS = 200;

/**
 * Every row of a table (optionally at a snapshot instant, `table@millis`), read with tabledata.list
 * through @google-cloud/bigquery (all pages), as canonical JSON-able values sorted by their JSON.
 * The rows are read unparsed and converted here: the client turns epoch microseconds before 1970 with a
 * sub-millisecond part into the wrong instant (-1 µs reads as 1970-01-01T00:00:00.999999Z), and would
 * round INT64 without wrapIntegers.
 */
export async function readTable(
  bigquery: BigQuery,
  ref: TableRef,
  snapshotMillis?: number,
): Promise<TableRows> {
  const dataset = bigquery.dataset(ref.datasetId, { projectId: ref.projectId });
  const [metadata] = (await dataset.table(ref.tableId).getMetadata()) as unknown as [
    { schema?: { fields?: FieldSchema[] } },
  ];
  const schema = metadata.schema?.fields ?? [];
  const tableId = snapshotMillis === undefined ? ref.tableId : `${ref.tableId}@${snapshotMillis}`;
  const [rows] = (await dataset.table(tableId).getRows({
    skipParsing: true,
    autoPaginate: true,
    'formatOptions.useInt64Timestamp': true,
  })) as unknown as [ApiRow[]];
  const canonical = rows.map((row) => canonicalRow(schema, fromApiRow(schema, row)));
  return { schema, rows: sortRows(canonical) };
}

// ---- tabledata.list cells to plain values ----

interface ApiRow {
  f: { v: unknown }[];
}

function fromApiRow(fields: readonly FieldSchema[], row: ApiRow): Record<string, unknown> {
  return Object.fromEntries(fields.map((field, i) => [field.name, fromApiCell(field, row.f[i]?.v)]));
}

function fromApiCell(field: FieldSchema, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (field.mode === 'REPEATED')
    return (value as { v: unknown }[]).map((element) =>
      fromApiCell({ ...field, mode: 'NULLABLE' }, element.v),
    );
  if (isRecord(field)) return fromApiRow(field.fields ?? [], value as ApiRow);
  // tabledata.list sends TIMESTAMP as epoch microseconds (useInt64Timestamp).
  if (legacyType(field.type) === 'TIMESTAMP' && typeof value === 'string' && /^-?\d+$/.test(value))
    return microsToIso(BigInt(value));
  return value;
}

// ---- canonical values ----

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  INT64: 'INTEGER',
  FLOAT64: 'FLOAT',
  BOOL: 'BOOLEAN',
  STRUCT: 'RECORD',
  DECIMAL: 'NUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
};

/** The legacy type name BigQuery answers with (INT64 → INTEGER...). */
const legacyType = (type: string): string => TYPE_ALIASES[type.toUpperCase()] ?? type.toUpperCase();
const isRecord = (field: FieldSchema): boolean => legacyType(field.type) === 'RECORD';
const modeOf = (field: FieldSchema): string => (field.mode ?? 'NULLABLE').toUpperCase();

/**
 * A row as canonical values: every scalar a string (INT64 and NUMERIC exact, FLOAT shortest text, BYTES
 * base64, TIMESTAMP `...Z` in UTC, fractions without trailing zeros, JSON with sorted keys), records as
 * objects, arrays as arrays, NULL as null. Takes tabledata.list text and the client's objects (BigQueryInt,
 * Big, BigQueryDate/Datetime/Time/Timestamp, Geography, Buffer) alike; canonical values map to themselves.
 */
export function canonicalRow(
  fields: readonly FieldSchema[],
  row: Record<string, unknown>,
): Record<string, unknown> {
  const byName = new Map(Object.entries(row).map(([k, v]) => [k.toLowerCase(), v]));
  return Object.fromEntries(
    fields.map((field) => [field.name, canonicalValue(field, byName.get(field.name.toLowerCase()))]),
  );
}

export function canonicalValue(field: FieldSchema, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (field.mode === 'REPEATED') {
    const element = { ...field, mode: 'NULLABLE' };
    return (Array.isArray(value) ? value : [value]).map((v) => canonicalValue(element, v));
  }
  if (isRecord(field)) return canonicalRow(field.fields ?? [], value as Record<string, unknown>);
  const type = legacyType(field.type);
  if (type === 'JSON') return canonicalJson(value);
  if (type === 'BYTES')
    return (Buffer.isBuffer(value) ? value : Buffer.from(text(value), 'base64')).toString('base64');
  if (type === 'NUMERIC' || type === 'BIGNUMERIC') return canonicalDecimal(value);
  const t = text(value);
  switch (type) {
    case 'INTEGER':
      return /^\s*[+-]?\d+\s*$/.test(t) ? BigInt(t.trim()).toString() : t;
    case 'FLOAT':
      return floatText(Number(t));
    case 'BOOLEAN':
      return t.trim().toLowerCase();
    case 'TIME':
      return trimFraction(t.trim());
    case 'DATETIME':
      return trimFraction(t.trim().replace(' ', 'T'));
    case 'TIMESTAMP': {
      const micros = isoToMicros(t);
      return micros === undefined ? t : microsToIso(micros);
    }
    case 'GEOGRAPHY':
      // Whitespace is not significant in WKT.
      return t
        .trim()
        .replace(/\s+/g, ' ')
        .replace(/\s*\(\s*/g, '(')
        .replace(/\s*\)/g, ')')
        .replace(/\s*,\s*/g, ', ');
    default:
      return t;
  }
}

/** The text inside a client object: BigQueryInt, BigQueryDate... and Geography keep it in `value`. */
function text(value: unknown): string {
  if (typeof value === 'object' && value !== null && 'value' in value) return String(value.value);
  if (value instanceof Date) return value.toISOString();
  return String(value);
}

function floatText(n: number): string {
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

/** A decimal without exponent, '+', leading zeros or trailing fraction zeros ("-0" is "0"). */
function canonicalDecimal(value: unknown): string {
  // big.js objects print exactly with toFixed().
  const t =
    typeof value === 'object' && value !== null && 'toFixed' in value && typeof value.toFixed === 'function'
      ? String((value as { toFixed(): string }).toFixed())
      : text(value).trim();
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(t);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) return t;
  const [, sign, whole = '', fraction = '', exponent = '0'] = m;
  // Shift the decimal point by the exponent over the digit string.
  const digits = whole + fraction;
  const point = whole.length + Number(exponent);
  const padded =
    point < 0
      ? '0'.repeat(-point) + digits
      : point > digits.length
        ? digits + '0'.repeat(point - digits.length)
        : digits;
  const at = Math.max(point, 0);
  const intPart = padded.slice(0, at).replace(/^0+/, '') || '0';
  const fracPart = padded.slice(at).replace(/0+$/, '');
  const body = fracPart === '' ? intPart : `${intPart}.${fracPart}`;
  return sign === '-' && body !== '0' ? `-${body}` : body;
}

/** `12:00:00.500000` → `12:00:00.5`, `12:00:00.000000` → `12:00:00`. */
const trimFraction = (t: string): string => t.replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '');

/** JSON text (or a parsed value) re-serialized with object keys sorted. */
function canonicalJson(value: unknown): string {
  if (typeof value !== 'string') return stableStringify(value);
  try {
    return stableStringify(JSON.parse(value));
  } catch {
    return value;
  }
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableStringify((value as Record<string, unknown>)[k])}`);
    return `{${entries.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

const MICROS_PER_SECOND = 1_000_000n;

/** Epoch microseconds as `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` (fraction without trailing zeros). */
function microsToIso(micros: bigint): string {
  let seconds = micros / MICROS_PER_SECOND;
  let fraction = micros % MICROS_PER_SECOND;
  if (fraction < 0n) {
    fraction += MICROS_PER_SECOND;
    seconds -= 1n;
  }
  const whole = new Date(Number(seconds) * 1000).toISOString().slice(0, 19);
  return `${trimFraction(`${whole}.${fraction.toString().padStart(6, '0')}`)}Z`;
}

/** `YYYY-MM-DD[( |T)HH:MM[:SS[.f]]][Z| UTC|±HH[:MM]]` to epoch microseconds (digits past micros dropped). */
function isoToMicros(t: string): bigint | undefined {
  const m =
    /^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$/i.exec(
      t.trim(),
    );
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', f = '', zone = 'Z'] = m;
  const date = new Date(0);
  // setUTCFullYear, unlike Date.UTC, keeps years below 100 as they are.
  date.setUTCFullYear(Number(y), Number(mo) - 1, Number(d));
  date.setUTCHours(Number(h), Number(mi), Number(s), 0);
  let offsetMinutes = 0;
  const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone);
  if (z) offsetMinutes = (z[1] === '-' ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? '0'));
  const micros = BigInt(f.slice(0, 6).padEnd(6, '0'));
  return (BigInt(date.getTime()) - BigInt(offsetMinutes) * 60_000n) * 1000n + micros;
}

const sortRows = (rows: Record<string, unknown>[]): Record<string, unknown>[] =>
  rows
    .map((row) => ({ row, key: stableStringify(row) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map(({ row }) => row);

// ---- comparison ----

/**
 * Compares two tables value by value, independent of row order; returns human-readable differences
 * (empty = equal): schema (names, types, modes, nesting, descriptions) and rows. `tolerance` names
 * documented format limits to allow, e.g. FLOAT text round trip in CSV/JSON.
 */
export function diffTables(expected: TableRows, actual: TableRows, options: DiffOptions = {}): string[] {
  const differences = [
    ...diffFields(expected.schema, actual.schema, '', options),
    ...diffRows(expected, actual, new Set(options.tolerance ?? [])),
  ];
  if (differences.length <= MAX_DIFFERENCES) return differences;
  return [
    ...differences.slice(0, MAX_DIFFERENCES),
    `... and ${differences.length - MAX_DIFFERENCES} more differences`,
  ];
}

function typeText(field: FieldSchema): string {
  // Parameterized types: STRING(maxLength), NUMERIC(precision, scale).
  const params = [field['maxLength'], field['precision'], field['scale']]
    .filter((p): p is string | number => typeof p === 'string' || typeof p === 'number')
    .map(String);
  return params.length > 0 ? `${legacyType(field.type)}(${params.join(', ')})` : legacyType(field.type);
}

function diffFields(
  expected: readonly FieldSchema[],
  actual: readonly FieldSchema[],
  prefix: string,
  options: DiffOptions,
): string[] {
  const out: string[] = [];
  const where = prefix === '' ? 'schema' : `schema ${prefix.slice(0, -1)}`;
  const actualByName = new Map(actual.map((f) => [f.name.toLowerCase(), f]));
  const expectedNames = new Set(expected.map((f) => f.name.toLowerCase()));
  for (const e of expected) {
    const a = actualByName.get(e.name.toLowerCase());
    const path = `${prefix}${e.name}`;
    if (!a) {
      out.push(`schema: column ${path} (${typeText(e)}) is missing`);
      continue;
    }
    if (a.name !== e.name) out.push(`schema: column ${path} is named ${prefix}${a.name}`);
    if (typeText(a) !== typeText(e))
      out.push(`schema: ${path}: type ${typeText(e)} expected, got ${typeText(a)}`);
    if (modeOf(a) !== modeOf(e)) out.push(`schema: ${path}: mode ${modeOf(e)} expected, got ${modeOf(a)}`);
    if (!options.ignoreFieldDescriptions && (a.description ?? '') !== (e.description ?? ''))
      out.push(
        `schema: ${path}: description ${JSON.stringify(e.description ?? '')} expected, got ${JSON.stringify(a.description ?? '')}`,
      );
    if (isRecord(e) && isRecord(a))
      out.push(...diffFields(e.fields ?? [], a.fields ?? [], `${path}.`, options));
  }
  for (const a of actual)
    if (!expectedNames.has(a.name.toLowerCase()))
      out.push(`schema: unexpected column ${prefix}${a.name} (${typeText(a)})`);
  const common = (fields: readonly FieldSchema[], others: Set<string>): string[] =>
    fields.map((f) => f.name.toLowerCase()).filter((n) => others.has(n));
  const expectedOrder = common(expected, new Set(actualByName.keys()));
  const actualOrder = common(actual, expectedNames);
  if (expectedOrder.join(',') !== actualOrder.join(','))
    out.push(`${where}: column order ${expectedOrder.join(', ')} expected, got ${actualOrder.join(', ')}`);
  return out;
}

/** Applies tolerances to a canonical value, identically on both sides. */
function tolerate(field: FieldSchema, value: unknown, tolerance: ReadonlySet<Tolerance>): unknown {
  if (value === null || tolerance.size === 0) return value;
  if (field.mode === 'REPEATED')
    return (value as unknown[]).map((v) => tolerate({ ...field, mode: 'NULLABLE' }, v, tolerance));
  if (isRecord(field)) return tolerateRow(field.fields ?? [], value as Record<string, unknown>, tolerance);
  if (tolerance.has('float-text') && legacyType(field.type) === 'FLOAT') {
    const n = Number(value);
    return Number.isFinite(n) ? floatText(Number(n.toPrecision(15))) : value;
  }
  return value;
}

const tolerateRow = (
  fields: readonly FieldSchema[],
  row: Record<string, unknown>,
  tolerance: ReadonlySet<Tolerance>,
): Record<string, unknown> =>
  Object.fromEntries(fields.map((f) => [f.name, tolerate(f, row[f.name], tolerance)]));

interface Keyed {
  readonly values: Record<string, unknown>;
  readonly key: string;
}

/**
 * The fields both schemas have, at every depth, as two schemas that both use the expected names (rows
 * are read by name case-insensitively) and keep each side's own types and modes.
 */
function commonSchemas(
  expected: readonly FieldSchema[],
  actual: readonly FieldSchema[],
): { expected: FieldSchema[]; actual: FieldSchema[] } {
  const actualByName = new Map(actual.map((f) => [f.name.toLowerCase(), f]));
  const out = { expected: [] as FieldSchema[], actual: [] as FieldSchema[] };
  for (const e of expected) {
    const a = actualByName.get(e.name.toLowerCase());
    if (!a) continue;
    if (isRecord(e) && isRecord(a)) {
      const inner = commonSchemas(e.fields ?? [], a.fields ?? []);
      out.expected.push({ ...e, fields: inner.expected });
      out.actual.push({ ...a, name: e.name, fields: inner.actual });
    } else {
      out.expected.push(e);
      out.actual.push({ ...a, name: e.name });
    }
  }
  return out;
}

function diffRows(expected: TableRows, actual: TableRows, tolerance: ReadonlySet<Tolerance>): string[] {
  // Rows are compared on the columns both tables have; the schema comparison reports the others.
  const schemas = commonSchemas(expected.schema, actual.schema);
  const keyed = (rows: Record<string, unknown>[], fields: readonly FieldSchema[]): Keyed[] =>
    rows.map((row) => {
      const values = tolerateRow(fields, canonicalRow(fields, row), tolerance);
      return { values, key: stableStringify(values) };
    });
  const want = keyed(expected.rows, schemas.expected);
  const got = keyed(actual.rows, schemas.actual);
  const out: string[] = [];
  if (want.length !== got.length) out.push(`rows: ${want.length} expected, got ${got.length}`);

  // Multiset difference: rows present on one side more often than on the other.
  const counts = new Map<string, number>();
  for (const w of want) counts.set(w.key, (counts.get(w.key) ?? 0) + 1);
  const unexpected: Keyed[] = [];
  for (const g of got) {
    const n = counts.get(g.key) ?? 0;
    if (n > 0) counts.set(g.key, n - 1);
    else unexpected.push(g);
  }
  const missing: Keyed[] = [];
  for (const w of want) {
    const n = counts.get(w.key) ?? 0;
    if (n > 0) {
      missing.push(w);
      counts.set(w.key, n - 1);
    }
  }

  // Pair a missing row with the unexpected row sharing most values (at least half): a changed value.
  const names = schemas.expected.map((f) => f.name);
  const label = (row: Keyed): string =>
    names.length > 0 ? `${names[0]}=${JSON.stringify(row.values[names[0]!])}` : row.key;
  const unmatched = [...unexpected];
  for (const [index, m] of missing.entries()) {
    if (index >= MAX_PAIRED_ROWS) {
      out.push(`missing row ${m.key}`);
      continue;
    }
    let best = -1;
    let bestSame = 0;
    unmatched.forEach((u, i) => {
      const same = names.filter((n) => stableStringify(m.values[n]) === stableStringify(u.values[n])).length;
      if (same > bestSame) [best, bestSame] = [i, same];
    });
    if (best >= 0 && bestSame * 2 >= names.length) {
      const [u] = unmatched.splice(best, 1);
      for (const n of names) {
        const [e, a] = [stableStringify(m.values[n]), stableStringify(u!.values[n])];
        if (e !== a) out.push(`row ${label(m)}: ${n}: ${e} expected, got ${a}`);
      }
    } else {
      out.push(`missing row ${m.key}`);
    }
  }
  for (const u of unmatched) out.push(`unexpected row ${u.key}`);
  return out;
}
