// Contracts between the extract/load jobs and the file formats. Files here are local paths: the jobs
// move them to and from the Cloud Storage emulator.
import type { DuckDBConnection } from '@duckdb/node-api';
import type { ErrorProto } from '../api-error.js';
import type { FieldSchema } from '../schema.js';

export type FileFormat = 'CSV' | 'NEWLINE_DELIMITED_JSON' | 'AVRO' | 'PARQUET';
export type Compression = 'NONE' | 'GZIP' | 'DEFLATE' | 'SNAPPY' | 'ZSTD';

export interface ExportOptions {
  readonly format: FileFormat;
  readonly compression: Compression;
  /** CSV only; default true. */
  readonly printHeader: boolean;
  /** CSV only; default ','. BigQuery accepts one character, or `\t`/`tab`. */
  readonly fieldDelimiter: string;
  /** AVRO only: DATE/TIME/DATETIME written with logical types instead of strings. */
  readonly useAvroLogicalTypes: boolean;
}

/**
 * What to export: `table` names a DuckDB table (a temp table holding the snapshot) whose columns are the
 * BigQuery fields in their stored DuckDB types (see schema.ts duckType); `rowid` orders its rows.
 */
export interface ExportSource {
  readonly connection: DuckDBConnection;
  readonly table: string;
  readonly fields: readonly FieldSchema[];
}

export interface WrittenFile {
  readonly path: string;
  readonly rows: number;
  readonly bytes: number;
}

export interface LoadOptions {
  readonly format: FileFormat;
  /** The destination's schema, or the request's; absent with autodetect (or for AVRO/PARQUET, which describe themselves). */
  readonly schema?: readonly FieldSchema[];
  readonly autodetect: boolean;
  readonly skipLeadingRows: number;
  readonly fieldDelimiter: string;
  readonly quote: string;
  readonly allowQuotedNewlines: boolean;
  readonly allowJaggedRows: boolean;
  readonly ignoreUnknownValues: boolean;
  readonly maxBadRecords: number;
  readonly nullMarker: string;
  readonly useAvroLogicalTypes: boolean;
}

/** Rows read from the files into `table` (a temp table on the same connection) in stored DuckDB types. */
export interface LoadedRows {
  readonly table: string;
  readonly fields: FieldSchema[];
  readonly rows: number;
  readonly badRecords: number;
  /** BigQuery-style errors for bad records (at most a few), empty when all rows were good. */
  readonly errors: ErrorProto[];
}

export interface LoadSource {
  readonly connection: DuckDBConnection;
  /** Local files, possibly gzip-compressed (detected by their magic bytes, as BigQuery does). */
  readonly files: readonly string[];
  /** A unique name for the temp table to create. */
  readonly table: string;
  /** A scratch directory the reader may use. */
  readonly workDir: string;
}

/** Rows `[offset, offset + limit)` of the source table in rowid order: one shard of a wildcard export. */
export interface RowRange {
  readonly offset: number;
  readonly limit: number;
}

/** Writes one export file; an empty range still writes a valid file (a CSV header, an Avro header...). */
export type FileWriter = (
  source: ExportSource,
  options: ExportOptions,
  path: string,
  range: RowRange,
) => Promise<WrittenFile>;

/** Reads all of a load job's files (of one format) into a temp table. */
export type FileReader = (source: LoadSource, options: LoadOptions) => Promise<LoadedRows>;
