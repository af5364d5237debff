import type { DuckDBConnection } from '@duckdb/node-api';
import type { FieldSchema } from '../schema.js';

export interface TableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

export interface ResolvedTable {
  /** A DuckDB relation (a parenthesized subquery usable after FROM) with the table's columns in stored types. */
  sql: string;
  fields: FieldSchema[];
  /** Column of `sql` holding the ingestion time, behind the `_PARTITIONTIME` / `_PARTITIONDATE` pseudo-columns. */
  partitionTimeColumn?: string;
}

export interface TableResolver {
  /** A DuckDB relation (a parenthesized subquery usable after FROM) with the table's columns (stored types) as of `at` (epoch ms; undefined = now). Throws BigQueryError notFound / invalid (time travel out of window). */
  table(ref: TableRef, at?: number): Promise<ResolvedTable>;
  /** `region-us.INFORMATION_SCHEMA.X` or `project.dataset.INFORMATION_SCHEMA.X`: a relation for the view (TABLES, PARTITIONS, COLUMNS, SCHEMATA...). Throws notFound for unknown views. */
  informationSchema(view: string, scope: { projectId: string; datasetId?: string }): Promise<{ sql: string }>;
}

export interface QueryContext {
  connection: DuckDBConnection;
  resolver: TableResolver;
  defaultProjectId: string;
  defaultDataset?: { projectId?: string; datasetId: string };
  /** REST `queryParameters` + `parameterMode` (NAMED/POSITIONAL) as sent by @google-cloud/bigquery. */
  parameters?: unknown[];
  parameterMode?: string;
  /** Epoch ms for CURRENT_TIMESTAMP() etc., fixed per query. */
  now: number;
}

export interface QueryResult {
  fields: FieldSchema[];
  rows: number;
  statementType: 'SELECT';
  referencedTables: TableRef[];
}
