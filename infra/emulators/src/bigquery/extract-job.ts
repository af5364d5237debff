// Extract jobs: a table (or `table@millis`, or a partition `table$YYYYMMDD`) to files in Cloud Storage.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { invalid } from './api-error.js';
import { parseDecorators } from './catalog.js';
import { writerFor } from './formats/registry.js';
import type { Compression, ExportOptions, FileFormat } from './formats/types.js';
import type { EmulatorContext, Job, JobRunner } from './jobs.js';
import { optBool, optString, tableName, tableRefOf, type Json } from './resources.js';
import { quoteIdent } from './schema.js';
import { assertCsvExportable } from './formats/csv-export.js';
import { parseGcsUri, type GcsUri } from './storage-client.js';

export const FILE_FORMATS: readonly FileFormat[] = ['CSV', 'NEWLINE_DELIMITED_JSON', 'AVRO', 'PARQUET'];

/** BigQuery's export compression matrix (https://cloud.google.com/bigquery/docs/exporting-data#export_formats_and_compression_types). */
export const EXPORT_COMPRESSIONS: Record<FileFormat, readonly Compression[]> = {
  CSV: ['NONE', 'GZIP'],
  NEWLINE_DELIMITED_JSON: ['NONE', 'GZIP'],
  AVRO: ['NONE', 'DEFLATE', 'SNAPPY'],
  PARQUET: ['NONE', 'SNAPPY', 'GZIP', 'ZSTD'],
};

/** A single file holds at most 1 GB; larger tables need a wildcard URI. */
const SINGLE_FILE_LIMIT_BYTES = 1024 ** 3;

const CONTENT_TYPES: Record<FileFormat, string> = {
  CSV: 'text/csv',
  NEWLINE_DELIMITED_JSON: 'application/json',
  AVRO: 'application/octet-stream',
  PARQUET: 'application/octet-stream',
};

interface ExtractConfig {
  readonly source: ReturnType<typeof tableRefOf>;
  readonly uris: string[];
  readonly options: ExportOptions;
}

function readConfig(configuration: Json, projectId: string): ExtractConfig {
  const extract = configuration['extract'] as Json;
  if (extract['sourceModel'] !== undefined)
    throw invalid('Model extraction is not supported by the emulator.');
  const source = tableRefOf(extract['sourceTable'], 'configuration.extract.sourceTable', projectId);
  const many = extract['destinationUris'];
  const one = optString(extract, 'destinationUri');
  const uris = Array.isArray(many) ? many.map(String) : one !== undefined ? [one] : [];
  if (uris.length === 0)
    throw invalid('Required parameter is missing: configuration.extract.destinationUris');
  for (const uri of uris) {
    parseGcsUri(uri);
    if ((uri.match(/\*/g) ?? []).length > 1)
      throw invalid(`Invalid extract destination URI '${uri}'. Only one wildcard is allowed per URI.`);
  }
  const format = (optString(extract, 'destinationFormat') ?? 'CSV').toUpperCase() as FileFormat;
  if (!FILE_FORMATS.includes(format))
    throw invalid(`Invalid destination format ${format}. Expected one of ${FILE_FORMATS.join(', ')}.`);
  const compression = (optString(extract, 'compression') ?? 'NONE').toUpperCase() as Compression;
  if (!EXPORT_COMPRESSIONS[format].includes(compression))
    throw invalid(
      `Invalid compression ${compression} for ${format} exports. ${format} supports ${EXPORT_COMPRESSIONS[format].join(', ')}.`,
    );
  const delimiter = optString(extract, 'fieldDelimiter') ?? ',';
  return {
    source,
    uris,
    options: {
      format,
      compression,
      printHeader: optBool(extract, 'printHeader') ?? true,
      fieldDelimiter: delimiter === 'tab' || delimiter === '\\t' ? '\t' : delimiter,
      useAvroLogicalTypes: optBool(extract, 'useAvroLogicalTypes') ?? false,
    },
  };
}

/** Object names for `shards` files: each wildcard URI gets a share, numbered from 000000000000. */
export function planShards(uris: readonly string[], shards: number): GcsUri[][] {
  const wildcards = uris.filter((u) => u.includes('*'));
  if (wildcards.length === 0) return [uris.map(parseGcsUri)];
  const perUri = wildcards.map(() => 0);
  for (let i = 0; i < Math.max(shards, wildcards.length); i++) perUri[i % wildcards.length]!++;
  return wildcards.map((uri, u) =>
    Array.from({ length: perUri[u]! }, (_, i) => parseGcsUri(uri.replace('*', String(i).padStart(12, '0')))),
  );
}

export const extractRunner: JobRunner = {
  prepare(configuration, projectId) {
    const config = readConfig(configuration, projectId);
    return [parseDecorators(config.source.tableId, Date.now()).tableId];
  },

  async run(job: Job, ctx: EmulatorContext) {
    const config = readConfig(job.configuration, job.projectId);
    const decorated = parseDecorators(config.source.tableId, Date.now());
    const ref = { ...config.source, tableId: decorated.tableId };
    const entry = ctx.catalog.getTable(ref);
    if (!entry.physical)
      throw invalid(
        `${tableName(ref)} is a ${entry.type}. Only tables and table snapshots can be extracted.`,
      );
    const at = ctx.catalog.checkSnapshotTime(entry, decorated.at);
    if (config.options.format === 'CSV') assertCsvExportable(entry.fields);
    const stats = await ctx.catalog.stats(entry, at);
    const singleFile = !config.uris.some((u) => u.includes('*'));
    if (singleFile && config.uris.length > 1)
      throw invalid('Multiple destination URIs must all contain a wildcard (*).');
    if (singleFile && stats.numBytes > SINGLE_FILE_LIMIT_BYTES)
      throw invalid(
        `Table ${tableName(ref)} too large to be exported to a single file. Specify a uri including a * to shard export. See 'Exporting data into one or more files' in https://cloud.google.com/bigquery/docs/exporting-data.`,
      );
    const workDir = join(ctx.workDir, `extract-${job.jobId}`);
    await mkdir(workDir, { recursive: true });
    const temp = `__extract_${job.jobId.replace(/\W/g, '_')}`;
    const write = writerFor(config.options.format);
    try {
      const fileCounts = await ctx.engine.withConnection(async (connection) => {
        await connection.run(
          `CREATE OR REPLACE TEMP TABLE ${quoteIdent(temp)} AS SELECT * FROM ${ctx.catalog.relationSql(entry, at, decorated.partition)}`,
        );
        try {
          const countReader = await connection.runAndReadAll(`SELECT count(*) FROM ${quoteIdent(temp)}`);
          const rows = Number(countReader.getRowsJson()[0]?.[0] ?? 0);
          const shardRows = ctx.controls.exportShardRows();
          const plan = planShards(config.uris, singleFile ? 1 : Math.ceil(rows / shardRows));
          const files = plan.flat();
          const perFile = singleFile ? rows : shardRows;
          for (const [index, target] of files.entries()) {
            if (job.cancelRequested)
              throw invalid('Job execution was cancelled: User requested cancellation');
            const path = join(workDir, `part-${index}`);
            const range = {
              offset: index * perFile,
              limit: Math.max(0, Math.min(perFile, rows - index * perFile)),
            };
            await write({ connection, table: temp, fields: entry.fields }, config.options, path, range);
            await ctx.storage.upload(target, path, CONTENT_TYPES[config.options.format]);
            await rm(path, { force: true });
          }
          return plan.map((uris) => String(uris.length));
        } finally {
          await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(temp)}`);
        }
      });
      job.statistics = {
        totalBytesProcessed: '0',
        extract: { destinationUriFileCounts: fileCounts, inputBytes: String(stats.numBytes) },
      };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  },
};
