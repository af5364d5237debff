// The demo's proof that a restore gave back what was backed up: every restored table has its source's
// schema and settings, and the rows its source had at the backup's instant, by count and by a content
// fingerprint that BigQuery itself computes on both sides.
import type { BigQuery } from '@google-cloud/bigquery';
import { fingerprintFromRow, fingerprintQuery, type ContentFingerprint, type TableRef } from '@bqbr/shared';

export interface RestoredTable {
  readonly datasetId: string;
  readonly tableId: string;
  readonly type: 'TABLE' | 'VIEW';
}

export interface RestoreCheckInput {
  readonly projectId: string;
  readonly targetProjectId: string;
  /** The backup's instant: the source is read as it was then. */
  readonly snapshotMillis: number;
  readonly tables: readonly RestoredTable[];
  readonly targetDataset: (datasetId: string) => string;
}

/** Row count and content fingerprint of one side. */
type Content = ContentFingerprint;

export interface TableCheck {
  readonly source: string;
  readonly target: string;
  readonly type: 'TABLE' | 'VIEW';
  readonly expected?: Content;
  readonly actual?: Content;
  /** Human-readable differences; empty when the restored table matches. */
  readonly problems: readonly string[];
}

/** A table read as of `snapshotMillis` when given; a view has no history and is read as it is now. */
async function content(bigquery: BigQuery, table: TableRef, snapshotMillis?: number): Promise<Content> {
  const query = fingerprintQuery({ table, ...(snapshotMillis === undefined ? {} : { snapshotMillis }) });
  const [result] = await bigquery.query({ query });
  return fingerprintFromRow((result as Record<string, unknown>[])[0]);
}

/** Checks every table of `input.tables` against its restored copy. */
export async function verifyRestore(bigquery: BigQuery, input: RestoreCheckInput): Promise<TableCheck[]> {
  const checks: TableCheck[] = [];
  for (const table of input.tables) {
    const sourceRef = { projectId: input.projectId, datasetId: table.datasetId, tableId: table.tableId };
    const targetRef = {
      projectId: input.targetProjectId,
      datasetId: input.targetDataset(table.datasetId),
      tableId: table.tableId,
    };
    const source = `${sourceRef.datasetId}.${sourceRef.tableId}`;
    const target =
      input.targetProjectId === input.projectId
        ? `${targetRef.datasetId}.${targetRef.tableId}`
        : `${targetRef.projectId}.${targetRef.datasetId}.${targetRef.tableId}`;
    const problems: string[] = [];
    let expected: Content | undefined;
    let actual: Content | undefined;
    try {
      const [sourceMeta, targetMeta] = await Promise.all([
        metadata(bigquery, sourceRef),
        metadata(bigquery, targetRef),
      ]);
      problems.push(...compareMetadata(sourceMeta, targetMeta));
      if (table.type === 'VIEW') problems.push(...viewProblems(sourceMeta, targetMeta, input));
      expected = await content(
        bigquery,
        sourceRef,
        table.type === 'TABLE' ? input.snapshotMillis : undefined,
      );
      actual = await content(bigquery, targetRef);
      if (expected.rows !== actual.rows)
        problems.push(`${actual.rows} rows restored, ${expected.rows} in the source at the snapshot`);
      else if (expected.value !== actual.value)
        problems.push(`content fingerprint ${actual.value} restored, ${expected.value} in the source`);
    } catch (err) {
      problems.push(err instanceof Error ? err.message : String(err));
    }
    checks.push({
      source,
      target,
      type: table.type,
      ...(expected ? { expected } : {}),
      ...(actual ? { actual } : {}),
      problems,
    });
  }
  return checks;
}

interface TableMetadata {
  type?: string;
  schema?: { fields?: Field[] };
  view?: { query?: string };
  [setting: string]: unknown;
}

interface Field {
  name: string;
  type: string;
  mode?: string;
  description?: string;
  fields?: Field[];
  [key: string]: unknown;
}

async function metadata(
  bigquery: BigQuery,
  ref: { projectId: string; datasetId: string; tableId: string },
): Promise<TableMetadata> {
  const [meta] = (await bigquery
    .dataset(ref.datasetId, { projectId: ref.projectId })
    .table(ref.tableId)
    .getMetadata()) as unknown as [TableMetadata];
  return meta;
}

/** What a restore must carry over besides the rows. */
const SETTINGS = [
  'description',
  'labels',
  'timePartitioning',
  'rangePartitioning',
  'clustering',
  'requirePartitionFilter',
] as const;

function compareMetadata(source: TableMetadata, target: TableMetadata): string[] {
  const problems: string[] = [];
  if (source.type !== target.type)
    problems.push(`a ${target.type ?? '?'}, the source is a ${source.type ?? '?'}`);
  const [want, got] = [schemaText(source.schema?.fields), schemaText(target.schema?.fields)];
  if (want !== got) problems.push(`schema ${got} restored, ${want} in the source`);
  for (const setting of SETTINGS) {
    const [a, b] = [stable(source[setting]), stable(target[setting])];
    if (a !== b) problems.push(`${setting} ${b} restored, ${a} in the source`);
  }
  return problems;
}

/** A restored view must read the restored datasets, not the ones it was backed up from. */
function viewProblems(source: TableMetadata, target: TableMetadata, input: RestoreCheckInput): string[] {
  const [was, now] = [source.view?.query ?? '', target.view?.query ?? ''];
  // `sales.` as a path part, not the end of `restored_sales.`.
  const reads = (query: string, dataset: string): boolean =>
    new RegExp(`(^|[^\\w-])${dataset}\\.`).test(query);
  const problems: string[] = [];
  for (const dataset of new Set(input.tables.map((t) => t.datasetId))) {
    const restored = input.targetDataset(dataset);
    if (!reads(was, dataset) || restored === dataset) continue;
    if (reads(now, dataset) || !reads(now, restored))
      problems.push(`the view's query reads ${dataset}, not ${restored}: ${now}`);
  }
  return problems;
}

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  INT64: 'INTEGER',
  FLOAT64: 'FLOAT',
  BOOL: 'BOOLEAN',
  STRUCT: 'RECORD',
  DECIMAL: 'NUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
};

/** `name TYPE MODE "description"`, nested fields in parentheses: what must be identical after a restore. */
function schemaText(fields: readonly Field[] | undefined): string {
  return `(${(fields ?? [])
    .map((f) => {
      const type = TYPE_ALIASES[f.type.toUpperCase()] ?? f.type.toUpperCase();
      const params = [f['maxLength'], f['precision'], f['scale']]
        .filter((p): p is string | number => typeof p === 'string' || typeof p === 'number')
        .map(String);
      return [
        f.name,
        params.length > 0 ? `${type}(${params.join(',')})` : type,
        (f.mode ?? 'NULLABLE').toUpperCase(),
        ...(f.description ? [JSON.stringify(f.description)] : []),
        ...(f.fields ? [schemaText(f.fields)] : []),
      ].join(' ');
    })
    .join(', ')})`;
}

/** JSON with sorted keys; undefined as `-`. */
function stable(value: unknown): string {
  if (value === undefined) return '-';
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : typeof v === 'object' && v !== null
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(value));
}

/** The verification as a table, one line per restored table. */
export function formatChecks(checks: readonly TableCheck[]): string[] {
  const count = (c?: Content): string => (c ? String(c.rows) : '?');
  const print = (c?: Content): string => (c ? (c.rows === 0 ? '(no rows)' : c.value) : '?');
  const rows = checks.map((c) => [
    c.source + (c.type === 'VIEW' ? ' (view)' : ''),
    c.target,
    count(c.expected),
    count(c.actual),
    print(c.expected) === print(c.actual) ? print(c.actual) : `${print(c.expected)} ≠ ${print(c.actual)}`,
    c.problems.length === 0 ? 'ok' : 'DIFFERS',
  ]);
  const header = ['SOURCE', 'RESTORED AS', 'SOURCE ROWS', 'RESTORED ROWS', 'FINGERPRINT', 'RESULT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  return [header, ...rows].map((cells) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd(),
  );
}
