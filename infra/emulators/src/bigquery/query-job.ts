// Query jobs: GoogleSQL run on DuckDB through the translator in sql/, with tables resolved from the
// catalog (time travel, views, INFORMATION_SCHEMA).
import type { DuckDBConnection } from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { BigQueryError, duplicate, invalidQuery, notFound } from './api-error.js';
import type { TableEntry } from './catalog.js';
import type { EmulatorContext, Job, JobRunner } from './jobs.js';
import { readDispositions } from './load-job.js';
import { DEFAULT_LOCATION, datasetRefOf, tableName, tableRefOf, textOf, type Json } from './resources.js';
import { STANDARD_SQL_NAME, isRepeated, quoteIdent, quoteString, type FieldSchema } from './schema.js';
import { executeQuery } from './sql/execute.js';
import type { QueryContext, TableRef, TableResolver } from './sql/types.js';
import { PARTITION_TIME } from './table-data.js';

/** Results of this many recent queries are kept for getQueryResults (BigQuery keeps them a day). */
const KEPT_RESULTS = 500;

function queryText(configuration: Json): string {
  const query = (configuration['query'] as Json)['query'];
  if (typeof query !== 'string' || query.trim() === '')
    throw invalidQuery('Required parameter is missing: query');
  const legacy = (configuration['query'] as Json)['useLegacySql'];
  const standardPrefix = /^\s*#standardSQL\b/i.test(query);
  if (legacy !== false && legacy !== 'false' && !standardPrefix)
    throw invalidQuery(
      'Legacy SQL is not supported by the BigQuery emulator: set useLegacySql to false (or start the query with #standardSQL).',
    );
  return standardPrefix ? query.replace(/^\s*#standardSQL\b/i, '') : query;
}

/** Resolves table names in queries against the catalog; views are materialized into scratch tables. */
class CatalogResolver implements TableResolver {
  readonly scratch: string[] = [];

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly connection: DuckDBConnection,
    private readonly now: number,
    private readonly depth = 0,
  ) {}

  async table(ref: TableRef, at?: number) {
    let entry: TableEntry;
    try {
      entry = this.ctx.catalog.getTable(ref);
    } catch (err) {
      if (err instanceof BigQueryError && err.reason === 'notFound') {
        const what = this.ctx.catalog.hasDataset(ref)
          ? `Table ${tableName(ref)}`
          : `Dataset ${ref.projectId}:${ref.datasetId}`;
        throw notFound(`Not found: ${what} was not found in location ${DEFAULT_LOCATION}`);
      }
      throw err;
    }
    if (entry.type === 'VIEW' || entry.type === 'MATERIALIZED_VIEW') {
      if (this.depth > 16) throw invalidQuery(`View nesting is too deep at ${tableName(ref)}.`);
      const query = ((entry.resource['view'] ?? entry.resource['materializedView']) as Json)[
        'query'
      ] as string;
      const table = `__view_${randomUUID().replaceAll('-', '')}`;
      const inner = new CatalogResolver(this.ctx, this.connection, this.now, this.depth + 1);
      try {
        const result = await executeQuery(
          query,
          { connection: this.connection, resolver: inner, defaultProjectId: ref.projectId, now: this.now },
          table,
        );
        this.scratch.push(table);
        return { sql: `(SELECT * FROM ${quoteIdent(table)})`, fields: result.fields };
      } finally {
        await inner.cleanup();
      }
    }
    if (entry.type === 'EXTERNAL')
      throw invalidQuery(`External table ${tableName(ref)} cannot be queried by the emulator.`);
    const time = this.ctx.catalog.checkSnapshotTime(entry, at, this.now);
    const partitioning = this.ctx.catalog.partitioning(entry);
    const ingestion = partitioning.time !== undefined && partitioning.time.field === undefined;
    return {
      sql: this.ctx.catalog.relationSql(entry, time, undefined, ingestion ? [PARTITION_TIME] : []),
      fields: entry.fields,
      ...(ingestion ? { partitionTimeColumn: PARTITION_TIME } : {}),
    };
  }

  async informationSchema(view: string, scope: { projectId: string; datasetId?: string }) {
    return { sql: await informationSchemaSql(this.ctx, view.toUpperCase(), scope) };
  }

  async cleanup(): Promise<void> {
    for (const table of this.scratch.splice(0))
      await this.connection.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
  }
}

export function createQueryRunner(): JobRunner {
  const kept: string[] = [];
  return {
    prepare(configuration) {
      queryText(configuration);
      return [];
    },

    async run(job: Job, ctx: EmulatorContext) {
      const config = job.configuration['query'] as Json;
      const query = queryText(job.configuration);
      const now = Date.now();
      const resultTable = `__result_${job.jobId.replace(/\W/g, '_')}_${randomUUID().slice(0, 8)}`;
      const destination =
        config['destinationTable'] !== undefined
          ? tableRefOf(config['destinationTable'], 'configuration.query.destinationTable', job.projectId)
          : undefined;
      const result = await ctx.engine.withConnection(async (connection) => {
        const resolver = new CatalogResolver(ctx, connection, now);
        const defaultDataset =
          config['defaultDataset'] !== undefined
            ? datasetRefOf(config['defaultDataset'], 'configuration.query.defaultDataset', job.projectId)
            : undefined;
        const queryContext: QueryContext = {
          connection,
          resolver,
          defaultProjectId: job.projectId,
          ...(defaultDataset ? { defaultDataset } : {}),
          ...(Array.isArray(config['queryParameters'])
            ? { parameters: config['queryParameters'] as unknown[] }
            : {}),
          ...(typeof config['parameterMode'] === 'string' ? { parameterMode: config['parameterMode'] } : {}),
          now,
        };
        try {
          return await executeQuery(query, queryContext, resultTable);
        } finally {
          await resolver.cleanup();
        }
      });
      kept.push(resultTable);
      while (kept.length > KEPT_RESULTS)
        await ctx.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(kept.shift()!)}`);
      job.result = { table: resultTable, fields: result.fields, totalRows: result.rows };
      if (destination) await writeDestination(ctx, config, destination, result.fields, resultTable);
      const bytes = await Promise.all(
        result.referencedTables.map(async (ref) => {
          const entry = ctx.catalog.findTable(ref);
          return entry ? (await ctx.catalog.stats(entry)).numBytes : 0;
        }),
      );
      const processed = String(bytes.reduce((a, b) => a + b, 0));
      job.statistics = {
        totalBytesProcessed: processed,
        query: {
          totalBytesProcessed: processed,
          totalBytesBilled: '0',
          cacheHit: false,
          statementType: result.statementType,
          referencedTables: result.referencedTables,
          schema: { fields: result.fields },
          totalRows: String(result.rows),
        },
      };
    },
  };
}

async function writeDestination(
  ctx: EmulatorContext,
  config: Json,
  ref: TableRef,
  fields: FieldSchema[],
  resultTable: string,
): Promise<void> {
  const { writeDisposition, createDisposition } = readDispositions(config, 'WRITE_EMPTY');
  ctx.catalog.getDataset(ref);
  let entry = ctx.catalog.findTable(ref);
  if (!entry) {
    if (createDisposition === 'CREATE_NEVER') throw notFound(`Not found: Table ${tableName(ref)}`);
    entry = await ctx.catalog.createTable(ref, 'TABLE', fields, {});
  } else if (writeDisposition === 'WRITE_EMPTY' && (await ctx.catalog.stats(entry)).numRows > 0) {
    throw duplicate(`Already Exists: Table ${tableName(ref)}`);
  } else if (writeDisposition === 'WRITE_TRUNCATE') {
    await ctx.engine.withConnection((c) => ctx.catalog.replaceSchema(entry!, fields, c));
  }
  const columns = entry.fields.map((f) =>
    fields.some((r) => r.name === f.name) ? quoteIdent(f.name) : 'NULL',
  );
  await ctx.catalog.commit(
    entry,
    `SELECT ${columns.join(', ')} FROM ${quoteIdent(resultTable)} ORDER BY rowid`,
    {
      truncate: writeDisposition === 'WRITE_TRUNCATE',
    },
  );
}

/** A view's schema: its query run once (results discarded). */
export function viewSchema(
  ctx: EmulatorContext,
): (projectId: string, query: string) => Promise<FieldSchema[]> {
  return (projectId, query) =>
    ctx.engine.withConnection(async (connection) => {
      const now = Date.now();
      const resolver = new CatalogResolver(ctx, connection, now);
      const table = `__viewschema_${randomUUID().replaceAll('-', '')}`;
      try {
        const result = await executeQuery(
          query,
          { connection, resolver, defaultProjectId: projectId, now },
          table,
        );
        return result.fields;
      } finally {
        await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(table)}`);
        await resolver.cleanup();
      }
    });
}

// ---- INFORMATION_SCHEMA ----

const TABLE_TYPES: Record<string, string> = {
  TABLE: 'BASE TABLE',
  VIEW: 'VIEW',
  MATERIALIZED_VIEW: 'MATERIALIZED VIEW',
  SNAPSHOT: 'SNAPSHOT',
  EXTERNAL: 'EXTERNAL',
};

const lit = (v: string | number | null | undefined): string =>
  v === null || v === undefined ? 'NULL' : typeof v === 'number' ? String(v) : quoteString(v);
const ts = (ms: number): string => `make_timestamptz(${ms * 1000}::BIGINT)`;

function valuesSql(columns: [name: string, type: string][], rows: string[][]): string {
  const names = columns.map(([n]) => quoteIdent(n)).join(', ');
  if (rows.length === 0)
    return `(SELECT ${columns.map(([n, t]) => `CAST(NULL AS ${t}) AS ${quoteIdent(n)}`).join(', ')} WHERE false)`;
  const casts = columns.map(([n, t]) => `CAST(${quoteIdent(n)} AS ${t}) AS ${quoteIdent(n)}`).join(', ');
  return `(SELECT ${casts} FROM (VALUES ${rows.map((r) => `(${r.join(', ')})`).join(', ')}) AS v(${names}))`;
}

/** GoogleSQL type text of a column, as INFORMATION_SCHEMA.COLUMNS shows it (STRUCT<a INT64>, ARRAY<STRING>). */
function sqlTypeText(field: FieldSchema): string {
  const scalar =
    field.type === 'RECORD'
      ? `STRUCT<${(field.fields ?? []).map((f) => `${f.name} ${sqlTypeText(f)}`).join(', ')}>`
      : STANDARD_SQL_NAME[field.type];
  return isRepeated(field) ? `ARRAY<${scalar}>` : scalar;
}

async function informationSchemaSql(
  ctx: EmulatorContext,
  view: string,
  scope: { projectId: string; datasetId?: string },
): Promise<string> {
  const datasets = scope.datasetId
    ? [ctx.catalog.getDataset({ projectId: scope.projectId, datasetId: scope.datasetId })]
    : ctx.catalog.listDatasets(scope.projectId);
  const tables = datasets.flatMap((d) => ctx.catalog.listTables(d.ref));
  switch (view) {
    case 'SCHEMATA':
      return valuesSql(
        [
          ['catalog_name', 'VARCHAR'],
          ['schema_name', 'VARCHAR'],
          ['schema_owner', 'VARCHAR'],
          ['creation_time', 'TIMESTAMPTZ'],
          ['last_modified_time', 'TIMESTAMPTZ'],
          ['location', 'VARCHAR'],
        ],
        datasets.map((d) => [
          lit(d.ref.projectId),
          lit(d.ref.datasetId),
          'NULL',
          ts(d.creationTime),
          ts(d.lastModifiedTime),
          lit(textOf(d.resource['location'] ?? DEFAULT_LOCATION)),
        ]),
      );
    case 'TABLES':
      return valuesSql(
        [
          ['table_catalog', 'VARCHAR'],
          ['table_schema', 'VARCHAR'],
          ['table_name', 'VARCHAR'],
          ['table_type', 'VARCHAR'],
          ['is_insertable_into', 'VARCHAR'],
          ['is_typed', 'VARCHAR'],
          ['creation_time', 'TIMESTAMPTZ'],
          ['base_table_catalog', 'VARCHAR'],
          ['base_table_schema', 'VARCHAR'],
          ['base_table_name', 'VARCHAR'],
          ['snapshot_time_ms', 'TIMESTAMPTZ'],
          ['ddl', 'VARCHAR'],
        ],
        tables.map((t) => {
          const base = (
            (t.resource['snapshotDefinition'] ?? t.resource['cloneDefinition']) as Json | undefined
          )?.['baseTableReference'] as Json | undefined;
          const snapshotTime = (t.resource['snapshotDefinition'] as Json | undefined)?.['snapshotTime'];
          const type = t.resource['cloneDefinition'] ? 'CLONE' : TABLE_TYPES[t.type];
          return [
            lit(t.ref.projectId),
            lit(t.ref.datasetId),
            lit(t.ref.tableId),
            lit(type),
            lit(t.type === 'TABLE' ? 'YES' : 'NO'),
            lit('NO'),
            ts(t.creationTime),
            lit(base?.['projectId'] as string | undefined),
            lit(base?.['datasetId'] as string | undefined),
            lit(base?.['tableId'] as string | undefined),
            typeof snapshotTime === 'string' ? ts(Date.parse(snapshotTime)) : 'NULL',
            lit(ddlOf(t)),
          ];
        }),
      );
    case 'COLUMNS':
      return valuesSql(
        [
          ['table_catalog', 'VARCHAR'],
          ['table_schema', 'VARCHAR'],
          ['table_name', 'VARCHAR'],
          ['column_name', 'VARCHAR'],
          ['ordinal_position', 'BIGINT'],
          ['is_nullable', 'VARCHAR'],
          ['data_type', 'VARCHAR'],
          ['is_partitioning_column', 'VARCHAR'],
          ['clustering_ordinal_position', 'BIGINT'],
        ],
        tables.flatMap((t) => {
          const partitionField =
            ((t.resource['timePartitioning'] as Json | undefined)?.['field'] as string | undefined) ??
            ((t.resource['rangePartitioning'] as Json | undefined)?.['field'] as string | undefined);
          const clustering = ((t.resource['clustering'] as Json | undefined)?.['fields'] ?? []) as string[];
          return t.fields.map((f, i) => [
            lit(t.ref.projectId),
            lit(t.ref.datasetId),
            lit(t.ref.tableId),
            lit(f.name),
            lit(i + 1),
            lit(f.mode === 'REQUIRED' ? 'NO' : 'YES'),
            lit(sqlTypeText(f)),
            lit(f.name === partitionField ? 'YES' : 'NO'),
            clustering.includes(f.name) ? lit(clustering.indexOf(f.name) + 1) : 'NULL',
          ]);
        }),
      );
    case 'PARTITIONS': {
      const rows: string[][] = [];
      for (const t of tables) {
        for (const p of await ctx.catalog.partitions(t)) {
          rows.push([
            lit(t.ref.projectId),
            lit(t.ref.datasetId),
            lit(t.ref.tableId),
            lit(p.partitionId),
            lit(p.rows),
            lit(p.bytes),
            lit(p.bytes),
            ts(p.lastModified),
            lit('ACTIVE'),
          ]);
        }
      }
      return valuesSql(
        [
          ['table_catalog', 'VARCHAR'],
          ['table_schema', 'VARCHAR'],
          ['table_name', 'VARCHAR'],
          ['partition_id', 'VARCHAR'],
          ['total_rows', 'BIGINT'],
          ['total_logical_bytes', 'BIGINT'],
          ['total_billable_bytes', 'BIGINT'],
          ['last_modified_time', 'TIMESTAMPTZ'],
          ['storage_tier', 'VARCHAR'],
        ],
        rows,
      );
    }
    default:
      throw invalidQuery(
        `INFORMATION_SCHEMA.${view} is not supported by the emulator (TABLES, PARTITIONS, COLUMNS, SCHEMATA are).`,
      );
  }
}

function ddlOf(t: TableEntry): string {
  const name = `\`${t.ref.projectId}.${t.ref.datasetId}.${t.ref.tableId}\``;
  if (t.type === 'VIEW') return `CREATE VIEW ${name} AS ${String((t.resource['view'] as Json)['query'])}`;
  const columns = t.fields.map(
    (f) => `  ${f.name} ${sqlTypeText(f)}${f.mode === 'REQUIRED' ? ' NOT NULL' : ''}`,
  );
  return `CREATE TABLE ${name}\n(\n${columns.join(',\n')}\n);`;
}
