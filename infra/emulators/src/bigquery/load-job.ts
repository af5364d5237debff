// Load jobs: files in Cloud Storage (wildcards allowed) into a table, committed atomically.
import type { DuckDBConnection } from '@duckdb/node-api';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { duplicate, invalid, notFound, type ErrorProto } from './api-error.js';
import { LoadError } from './formats/load-common.js';
import { checkSchemaEvolution, parseDecorators, type TableEntry } from './catalog.js';
import { readerFor } from './formats/registry.js';
import type { FileFormat, LoadOptions, LoadedRows } from './formats/types.js';
import type { EmulatorContext, Job, JobRunner } from './jobs.js';
import { FILE_FORMATS } from './extract-job.js';
import {
  labelsOf,
  optBool,
  optInt,
  optObject,
  optString,
  tableName,
  tableRefOf,
  type Json,
  type TableRef,
} from './resources.js';
import { duckType, isRepeated, normalizeSchema, quoteIdent, type FieldSchema } from './schema.js';
import { parseGcsUri, wildcardMatcher, type GcsUri } from './storage-client.js';
import { checkTableSettings } from './table-settings.js';

type WriteDisposition = 'WRITE_TRUNCATE' | 'WRITE_APPEND' | 'WRITE_EMPTY';
type CreateDisposition = 'CREATE_IF_NEEDED' | 'CREATE_NEVER';

interface LoadConfig {
  readonly destination: TableRef;
  readonly uris: string[];
  readonly options: LoadOptions;
  readonly writeDisposition: WriteDisposition;
  readonly createDisposition: CreateDisposition;
  readonly schemaUpdateOptions: string[];
  /** Settings for a table the load creates: partitioning, clustering, description, labels. */
  readonly tableSettings: Json;
}

export function readDispositions(
  config: Json,
  defaultWrite: WriteDisposition,
): {
  writeDisposition: WriteDisposition;
  createDisposition: CreateDisposition;
} {
  const writeDisposition = (optString(config, 'writeDisposition') ?? defaultWrite) as WriteDisposition;
  if (!['WRITE_TRUNCATE', 'WRITE_APPEND', 'WRITE_EMPTY'].includes(writeDisposition))
    throw invalid(`Invalid value for writeDisposition: ${writeDisposition}`);
  const createDisposition = (optString(config, 'createDisposition') ??
    'CREATE_IF_NEEDED') as CreateDisposition;
  if (!['CREATE_IF_NEEDED', 'CREATE_NEVER'].includes(createDisposition))
    throw invalid(`Invalid value for createDisposition: ${createDisposition}`);
  return { writeDisposition, createDisposition };
}

function readConfig(configuration: Json, projectId: string): LoadConfig {
  const load = configuration['load'] as Json;
  const destination = tableRefOf(load['destinationTable'], 'configuration.load.destinationTable', projectId);
  const uris = Array.isArray(load['sourceUris']) ? (load['sourceUris'] as unknown[]).map(String) : [];
  if (uris.length === 0) throw invalid('Required parameter is missing: configuration.load.sourceUris');
  uris.forEach(parseGcsUri);
  const format = (optString(load, 'sourceFormat') ?? 'CSV').toUpperCase() as FileFormat;
  if (!FILE_FORMATS.includes(format))
    throw invalid(`Invalid source format ${format}. The emulator loads ${FILE_FORMATS.join(', ')}.`);
  const schemaBody = optObject(load, 'schema');
  const schema = schemaBody ? normalizeSchema(schemaBody, 'configuration.load.schema').fields : undefined;
  const delimiter = optString(load, 'fieldDelimiter') ?? ',';
  const properties = optObject(load, 'destinationTableProperties') ?? {};
  const labels = labelsOf(properties);
  const tableSettings: Json = {
    ...(load['timePartitioning'] !== undefined ? { timePartitioning: load['timePartitioning'] } : {}),
    ...(load['rangePartitioning'] !== undefined ? { rangePartitioning: load['rangePartitioning'] } : {}),
    ...(load['clustering'] !== undefined ? { clustering: load['clustering'] } : {}),
    ...(typeof properties['description'] === 'string' ? { description: properties['description'] } : {}),
    ...(typeof properties['friendlyName'] === 'string' ? { friendlyName: properties['friendlyName'] } : {}),
    ...(labels ? { labels } : {}),
    // A table the load creates is encrypted with this CMEK key, as in BigQuery
    // (https://cloud.google.com/bigquery/docs/customer-managed-encryption#load_to_a_table_protected_by_cloud_kms).
    ...(load['destinationEncryptionConfiguration'] !== undefined
      ? { encryptionConfiguration: load['destinationEncryptionConfiguration'] }
      : {}),
  };
  return {
    destination,
    uris,
    ...readDispositions(load, 'WRITE_APPEND'),
    schemaUpdateOptions: Array.isArray(load['schemaUpdateOptions'])
      ? (load['schemaUpdateOptions'] as string[])
      : [],
    tableSettings,
    options: {
      format,
      ...(schema ? { schema } : {}),
      autodetect: optBool(load, 'autodetect') ?? false,
      skipLeadingRows: optInt(load, 'skipLeadingRows') ?? 0,
      fieldDelimiter: delimiter === 'tab' || delimiter === '\\t' ? '\t' : delimiter,
      quote: optString(load, 'quote') ?? '"',
      allowQuotedNewlines: optBool(load, 'allowQuotedNewlines') ?? false,
      allowJaggedRows: optBool(load, 'allowJaggedRows') ?? false,
      ignoreUnknownValues: optBool(load, 'ignoreUnknownValues') ?? false,
      maxBadRecords: optInt(load, 'maxBadRecords') ?? 0,
      nullMarker: optString(load, 'nullMarker') ?? '',
      useAvroLogicalTypes: optBool(load, 'useAvroLogicalTypes') ?? false,
      enableListInference: optBool(optObject(load, 'parquetOptions') ?? {}, 'enableListInference') ?? false,
    } as LoadOptions & { enableListInference: boolean },
  };
}

/** Expands wildcard URIs by listing the bucket; every URI must match at least one object. */
async function expandUris(
  ctx: EmulatorContext,
  uris: readonly string[],
): Promise<(GcsUri & { size: number })[]> {
  const out: (GcsUri & { size: number })[] = [];
  for (const uri of uris) {
    const { bucket, name } = parseGcsUri(uri);
    const matcher = wildcardMatcher(name);
    const objects = (await ctx.storage.list(bucket, matcher.prefix)).filter((o) => matcher.matches(o.name));
    if (objects.length === 0) throw notFound(`Not found: URI ${uri}`);
    out.push(...objects.map((o) => ({ bucket, name: o.name, size: o.size })));
  }
  // In URI order, as BigQuery reads them (a self-describing format takes its schema from the last file).
  return out.sort((a, b) => `${a.bucket}/${a.name}`.localeCompare(`${b.bucket}/${b.name}`));
}

export const loadRunner: JobRunner = {
  prepare(configuration, projectId) {
    const config = readConfig(configuration, projectId);
    return [parseDecorators(config.destination.tableId, Date.now()).tableId];
  },

  async run(job: Job, ctx: EmulatorContext) {
    const config = readConfig(job.configuration, job.projectId);
    const decorated = parseDecorators(config.destination.tableId, Date.now());
    const ref = { ...config.destination, tableId: decorated.tableId };
    ctx.catalog.getDataset(ref);
    let entry = ctx.catalog.findTable(ref);
    if (!entry && config.createDisposition === 'CREATE_NEVER')
      throw notFound(`Not found: Table ${tableName(ref)}`);
    if (entry && !entry.physical) throw invalid(`Cannot load into ${tableName(ref)}: it is a ${entry.type}.`);
    if (entry && entry.type === 'SNAPSHOT')
      throw invalid(`Cannot load into table snapshot ${tableName(ref)}.`);
    const { format } = config.options;
    const textFormat = format === 'CSV' || format === 'NEWLINE_DELIMITED_JSON';
    const schema =
      config.options.schema ??
      (entry && (textFormat || config.writeDisposition !== 'WRITE_TRUNCATE') ? entry.fields : undefined);
    if (textFormat && !schema && !config.options.autodetect)
      throw invalid(`No schema specified on job or table.`);
    const objects = await expandUris(ctx, config.uris);
    const workDir = join(ctx.workDir, `load-${job.jobId}`);
    await mkdir(workDir, { recursive: true });
    try {
      const files: string[] = [];
      let inputBytes = 0;
      for (const [i, object] of objects.entries()) {
        const path = join(workDir, `input-${i}`);
        inputBytes += await ctx.storage.download(object, path);
        files.push(path);
      }
      const temp = `__load_${job.jobId.replace(/\W/g, '_')}`;
      const reader = readerFor(format);
      const result = await ctx.engine.withConnection(async (connection) => {
        const loaded = await reader(
          { connection, files, table: temp, workDir },
          { ...config.options, ...(schema ? { schema } : {}) },
        ).catch((err: unknown) => {
          // Readers name the local copies; users know the gs:// URIs.
          if (err instanceof LoadError)
            throw new LoadError(
              withUris(err.toErrorProto(), files, objects).message,
              err.errors.map((e) => withUris(e, files, objects)),
            );
          throw err;
        });
        try {
          if (!entry) {
            const settings = checkTableSettings(config.tableSettings, loaded.fields);
            entry = await ctx.catalog.createTable(
              ref,
              'TABLE',
              loaded.fields,
              settings,
              Date.now(),
              connection,
            );
          } else {
            await checkWrite(ctx, entry, config, loaded, connection);
          }
          const { rows } = await ctx.catalog.commit(
            entry,
            selectInto(entry.fields, loaded),
            {
              truncate: config.writeDisposition === 'WRITE_TRUNCATE',
              ...(decorated.partition !== undefined ? { partition: decorated.partition } : {}),
            },
            connection,
          );
          return { rows, loaded };
        } finally {
          await connection.run(`DROP TABLE IF EXISTS ${quoteIdent(temp)}`);
        }
      });
      if (result.loaded.errors.length > 0)
        job.errors = result.loaded.errors.map((e) => withUris(e, files, objects));
      const outputBytes = (await ctx.catalog.stats(entry!)).numBytes;
      job.statistics = {
        load: {
          inputFiles: String(files.length),
          inputFileBytes: String(inputBytes),
          outputRows: String(result.rows),
          outputBytes: String(outputBytes),
          badRecords: String(result.loaded.badRecords),
        },
      };
    } finally {
      await rm(workDir, { recursive: true, force: true });
    }
  },
};

/** Replaces local file paths in a load error with the objects' gs:// URIs. */
function withUris(error: ErrorProto, files: readonly string[], objects: readonly GcsUri[]): ErrorProto {
  let { message, location } = error;
  files.forEach((file, i) => {
    const uri = `gs://${objects[i]!.bucket}/${objects[i]!.name}`;
    message = message.replaceAll(file, uri);
    if (location !== undefined) location = location.replaceAll(file, uri);
  });
  return { ...error, message, ...(location !== undefined ? { location } : {}) };
}

/** WRITE_EMPTY and schema compatibility checks for an existing destination; WRITE_TRUNCATE may replace the schema. */
async function checkWrite(
  ctx: EmulatorContext,
  entry: TableEntry,
  config: LoadConfig,
  loaded: LoadedRows,
  connection: DuckDBConnection,
): Promise<void> {
  if (
    config.writeDisposition === 'WRITE_EMPTY' &&
    (await ctx.catalog.stats(entry, undefined, connection)).numRows > 0
  )
    throw duplicate(`Already Exists: Table ${tableName(entry.ref)}`);
  if (config.writeDisposition === 'WRITE_TRUNCATE' && !config.tableSettings['timePartitioning']) {
    if (!sameSchema(entry.fields, loaded.fields)) {
      await ctx.catalog.replaceSchema(entry, loaded.fields, connection);
      await ctx.catalog.updateTable(entry, entry.resource, undefined, connection);
    }
    return;
  }
  const allowAdd = config.schemaUpdateOptions.includes('ALLOW_FIELD_ADDITION');
  const allowRelax = config.schemaUpdateOptions.includes('ALLOW_FIELD_RELAXATION');
  const byName = new Map(entry.fields.map((f) => [f.name.toLowerCase(), f]));
  const merged = [...entry.fields];
  for (const f of loaded.fields) {
    const existing = byName.get(f.name.toLowerCase());
    if (!existing) {
      if (!allowAdd)
        throw invalid(
          `Provided Schema does not match Table ${tableName(entry.ref)}. Cannot add fields (field: ${f.name})`,
        );
      merged.push({ ...f, mode: f.mode === 'REQUIRED' ? 'NULLABLE' : (f.mode ?? 'NULLABLE') });
    } else if (existing.type !== f.type) {
      throw invalid(
        `Provided Schema does not match Table ${tableName(entry.ref)}. Field ${f.name} has changed type from ${existing.type} to ${f.type}`,
      );
    }
  }
  if (merged.length > entry.fields.length || allowRelax) {
    const relaxed = allowRelax
      ? merged.map((f) => (f.mode === 'REQUIRED' ? { ...f, mode: 'NULLABLE' as const } : f))
      : merged;
    checkSchemaEvolution(entry.fields, relaxed, tableName(entry.ref));
    await ctx.catalog.updateTable(entry, entry.resource, relaxed);
  }
}

function sameSchema(a: readonly FieldSchema[], b: readonly FieldSchema[]): boolean {
  return (
    a.length === b.length &&
    a.every((f, i) => {
      const g = b[i];
      return (
        g !== undefined &&
        f.name === g.name &&
        duckType(f) === duckType(g) &&
        (f.mode ?? 'NULLABLE') === (g.mode ?? 'NULLABLE')
      );
    })
  );
}

/** Selects the loaded temp table's columns in the destination's column order; missing ones are NULL (or empty arrays). */
function selectInto(fields: readonly FieldSchema[], loaded: LoadedRows): string {
  const present = new Map(loaded.fields.map((f) => [f.name.toLowerCase(), f]));
  const columns = fields.map((f) => {
    const source = present.get(f.name.toLowerCase());
    if (source) return `CAST(${quoteIdent(source.name)} AS ${duckType(f)})`;
    return isRepeated(f) ? `CAST([] AS ${duckType(f)})` : `CAST(NULL AS ${duckType(f)})`;
  });
  return `SELECT ${columns.length > 0 ? columns.join(', ') : '1'} FROM ${quoteIdent(loaded.table)} ORDER BY rowid`;
}
