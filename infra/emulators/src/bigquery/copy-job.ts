// Copy jobs: COPY (tables appended into one), SNAPSHOT (a read-only point-in-time table), CLONE, and
// RESTORE (a snapshot back into a writable table).
import { duplicate, invalid, notFound } from './api-error.js';
import { parseDecorators, type TableEntry } from './catalog.js';
import type { EmulatorContext, Job, JobRunner } from './jobs.js';
import { readDispositions } from './load-job.js';
import { optString, tableName, tableRefOf, type Json, type TableRef } from './resources.js';
import { duckType } from './schema.js';
import { PARTITION_TIME } from './table-data.js';

const isIngestionPartitioned = (entry: TableEntry): boolean => {
  const time = entry.resource['timePartitioning'] as Json | undefined;
  return time !== undefined && time['field'] === undefined;
};

const OPERATIONS = ['COPY', 'SNAPSHOT', 'RESTORE', 'CLONE'] as const;
type Operation = (typeof OPERATIONS)[number];

interface CopyConfig {
  readonly sources: TableRef[];
  readonly destination: TableRef;
  readonly operation: Operation;
  readonly writeDisposition: 'WRITE_TRUNCATE' | 'WRITE_APPEND' | 'WRITE_EMPTY';
  readonly createDisposition: 'CREATE_IF_NEEDED' | 'CREATE_NEVER';
  readonly expirationTime?: number;
}

function readConfig(configuration: Json, projectId: string): CopyConfig {
  const copy = configuration['copy'] as Json;
  const many = copy['sourceTables'];
  const sources = Array.isArray(many)
    ? many.map((s, i) => tableRefOf(s, `configuration.copy.sourceTables[${i}]`, projectId))
    : [tableRefOf(copy['sourceTable'], 'configuration.copy.sourceTable', projectId)];
  if (sources.length === 0) throw invalid('Required parameter is missing: configuration.copy.sourceTable');
  const destination = tableRefOf(copy['destinationTable'], 'configuration.copy.destinationTable', projectId);
  const operation = (optString(copy, 'operationType') ?? 'COPY').toUpperCase() as Operation;
  if (!OPERATIONS.includes(operation))
    throw invalid(`Invalid operationType ${operation}. Expected one of ${OPERATIONS.join(', ')}.`);
  if (operation !== 'COPY' && sources.length !== 1)
    throw invalid(`A ${operation} copy takes exactly one source table.`);
  const expiration = optString(copy, 'destinationExpirationTime');
  const expirationTime = expiration !== undefined ? Date.parse(expiration) : undefined;
  if (expirationTime !== undefined && Number.isNaN(expirationTime))
    throw invalid(`Invalid destinationExpirationTime: ${expiration}`);
  return {
    sources,
    destination,
    operation,
    ...readDispositions(copy, 'WRITE_EMPTY'),
    ...(expirationTime !== undefined ? { expirationTime } : {}),
  };
}

const rfc3339 = (ms: number): string => new Date(ms).toISOString();

/** Settings that travel with a copy: partitioning, clustering, description, labels. */
function carriedSettings(source: TableEntry): Json {
  const out: Json = {};
  for (const key of [
    'timePartitioning',
    'rangePartitioning',
    'clustering',
    'description',
    'labels',
    'friendlyName',
  ])
    if (source.resource[key] !== undefined) out[key] = source.resource[key];
  return out;
}

export const copyRunner: JobRunner = {
  prepare(configuration, projectId) {
    const config = readConfig(configuration, projectId);
    const now = Date.now();
    return [...config.sources, config.destination].map((r) => parseDecorators(r.tableId, now).tableId);
  },

  async run(job: Job, ctx: EmulatorContext) {
    const config = readConfig(job.configuration, job.projectId);
    const now = Date.now();
    const sources = config.sources.map((ref) => {
      const decorated = parseDecorators(ref.tableId, now);
      const entry = ctx.catalog.getTable({ ...ref, tableId: decorated.tableId });
      if (!entry.physical) throw invalid(`${tableName(entry.ref)} is a ${entry.type} and cannot be copied.`);
      return {
        entry,
        at: ctx.catalog.checkSnapshotTime(entry, decorated.at, now),
        partition: decorated.partition,
      };
    });
    const first = sources[0]!;
    for (const s of sources.slice(1))
      if (s.entry.fields.map(duckType).join() !== first.entry.fields.map(duckType).join())
        throw invalid(
          `Incompatible table schemas: ${tableName(first.entry.ref)} and ${tableName(s.entry.ref)}.`,
        );
    if (config.operation === 'RESTORE' && first.entry.type !== 'SNAPSHOT')
      throw invalid(`${tableName(first.entry.ref)} is not a table snapshot; RESTORE needs one.`);
    if (
      (config.operation === 'COPY' || config.operation === 'CLONE') &&
      first.entry.type === 'SNAPSHOT' &&
      config.operation === 'CLONE'
    )
      throw invalid(`Cannot clone table snapshot ${tableName(first.entry.ref)}.`);

    const destRef = config.destination;
    ctx.catalog.getDataset(destRef);
    let dest = ctx.catalog.findTable(destRef);
    const baseTableReference = { ...first.entry.ref };
    const pointInTime = rfc3339(first.at ?? now);
    if (config.operation === 'SNAPSHOT' || config.operation === 'CLONE') {
      if (dest) throw duplicate(`Already Exists: Table ${tableName(destRef)}`);
      if (config.createDisposition === 'CREATE_NEVER')
        throw notFound(`Not found: Table ${tableName(destRef)}`);
      const resource: Json = {
        ...carriedSettings(first.entry),
        ...(config.operation === 'SNAPSHOT'
          ? { snapshotDefinition: { baseTableReference, snapshotTime: pointInTime } }
          : { cloneDefinition: { baseTableReference, cloneTime: pointInTime } }),
        ...(config.expirationTime !== undefined ? { expirationTime: String(config.expirationTime) } : {}),
      };
      dest = await ctx.catalog.createTable(
        destRef,
        config.operation === 'SNAPSHOT' ? 'SNAPSHOT' : 'TABLE',
        first.entry.fields,
        resource,
      );
    } else if (!dest) {
      if (config.createDisposition === 'CREATE_NEVER')
        throw notFound(`Not found: Table ${tableName(destRef)}`);
      const resource: Json = {
        ...carriedSettings(first.entry),
        ...(config.expirationTime !== undefined ? { expirationTime: String(config.expirationTime) } : {}),
      };
      dest = await ctx.catalog.createTable(destRef, 'TABLE', first.entry.fields, resource);
    } else {
      if (dest.type === 'SNAPSHOT') throw invalid(`Cannot write to table snapshot ${tableName(destRef)}.`);
      if (config.writeDisposition === 'WRITE_EMPTY' && (await ctx.catalog.stats(dest)).numRows > 0)
        throw duplicate(`Already Exists: Table ${tableName(destRef)}`);
      if (
        config.writeDisposition === 'WRITE_APPEND' &&
        dest.fields.map(duckType).join() !== first.entry.fields.map(duckType).join()
      )
        throw invalid(`Provided Schema does not match Table ${tableName(destRef)}.`);
      if (config.writeDisposition === 'WRITE_TRUNCATE') {
        await ctx.engine.withConnection((c) => ctx.catalog.replaceSchema(dest!, first.entry.fields, c));
        await ctx.catalog.updateTable(dest, { ...dest.resource, ...carriedSettings(first.entry) });
      }
    }
    // Rows keep their ingestion-time partition (_PARTITIONTIME) when copied into an ingestion-time partitioned table.
    const destination = dest;
    const carry = isIngestionPartitioned(destination);
    const union = sources
      .map((s) => {
        const extra = !carry
          ? []
          : isIngestionPartitioned(s.entry)
            ? [PARTITION_TIME]
            : [`NULL::TIMESTAMPTZ AS ${PARTITION_TIME}`];
        return `SELECT * FROM ${ctx.catalog.relationSql(s.entry, s.at, s.partition, extra)}`;
      })
      .join(' UNION ALL ');
    const { rows } = await ctx.catalog.commit(destination, union, {
      truncate: config.writeDisposition === 'WRITE_TRUNCATE',
      ...(carry ? { partitionTimeColumn: PARTITION_TIME } : {}),
    });
    const bytes = (await ctx.catalog.stats(dest)).numBytes;
    job.statistics = { copy: { copiedRows: String(rows), copiedLogicalBytes: String(bytes) } };
  },
};
