// Datasets, tables and routines: metadata cached in memory and persisted in the DuckDB database
// beside the rows, so a database file survives restarts.
import type { DuckDBConnection } from '@duckdb/node-api';
import { randomUUID } from 'node:crypto';
import { KeyedMutex } from '../gcs/keyed-mutex.js';
import { BigQueryError, duplicate, invalid, notFound } from './api-error.js';
import { rowsOf, type Engine } from './engine.js';
import {
  DEFAULT_LOCATION,
  TIME_TRAVEL_WINDOW_MS,
  datasetName,
  tableName,
  type DatasetRef,
  type Json,
  type TableRef,
} from './resources.js';
import { duckType, isRepeated, quoteIdent, quoteString, type FieldSchema } from './schema.js';
import {
  DELETED,
  INSERTED,
  PARTITION_TIME,
  checkPartitionDecorator,
  columnListSql,
  createTableSql,
  ingestionTimeSql,
  partitionIdSql,
  partitionStartSql,
  rowSizeSql,
  truncateTimeSql,
  visibleSql,
  type Partitioning,
} from './table-data.js';

export type TableType = 'TABLE' | 'VIEW' | 'MATERIALIZED_VIEW' | 'SNAPSHOT' | 'EXTERNAL';

export interface DatasetEntry {
  readonly ref: DatasetRef;
  /** Settable fields as the client sent them (friendlyName, description, labels, location, ...). */
  resource: Json;
  readonly creationTime: number;
  lastModifiedTime: number;
}

export interface TableEntry {
  readonly ref: TableRef;
  readonly type: TableType;
  fields: FieldSchema[];
  /** Settable fields (description, labels, partitioning, clustering, view, expirationTime, ...). */
  resource: Json;
  /** The DuckDB table holding rows with history; views and external tables have none. */
  readonly physical?: string;
  readonly creationTime: number;
  lastModifiedTime: number;
  /** Time of the newest data commit; commits get strictly increasing times. */
  lastCommit: number;
}

export interface RoutineRef extends DatasetRef {
  readonly routineId: string;
}

export interface RoutineEntry {
  readonly ref: RoutineRef;
  resource: Json;
  readonly creationTime: number;
  lastModifiedTime: number;
}

/** A table id with its decorators split off: `t@1600000000000`, `t@-3600000`, `t$20200101`. */
export interface DecoratedTable {
  readonly tableId: string;
  readonly at?: number;
  readonly partition?: string;
}

export function parseDecorators(tableId: string, now: number): DecoratedTable {
  const m = /^(.*?)(?:@(-?\d+))?(?:\$(\w+))?$/.exec(tableId);
  if (!m || m[1] === undefined || m[1] === '') return { tableId };
  const atText = m[2];
  let at: number | undefined;
  if (atText !== undefined) {
    const n = Number(atText);
    // A negative value is relative to now; 0 means the oldest snapshot (see checkSnapshotTime).
    at = n < 0 ? now + n : n;
  }
  return {
    tableId: m[1],
    ...(at !== undefined ? { at } : {}),
    ...(m[3] !== undefined ? { partition: m[3] } : {}),
  };
}

interface ProjectState {
  datasets: Map<string, DatasetState>;
}

interface DatasetState {
  entry: DatasetEntry;
  tables: Map<string, TableEntry>;
  routines: Map<string, RoutineEntry>;
}

export interface CommitOptions {
  /** WRITE_TRUNCATE: rows visible now are removed in the same commit (only in `partition` if given). */
  readonly truncate: boolean;
  /** A `$partition` decorator on the destination. */
  readonly partition?: string;
  /**
   * A column of `selectSql`, after the table's columns, holding each row's ingestion partition time
   * (copies keep `_PARTITIONTIME`); NULL means the commit time. Not stored as a column.
   */
  readonly partitionTimeColumn?: string;
}

const META_TABLE = '__bqbr_meta';

export class Catalog {
  private readonly projects = new Map<string, ProjectState>();
  private readonly commits = new KeyedMutex();

  private constructor(readonly engine: Engine) {}

  static async open(engine: Engine): Promise<Catalog> {
    const catalog = new Catalog(engine);
    await engine.run(
      `CREATE TABLE IF NOT EXISTS ${META_TABLE} (key VARCHAR PRIMARY KEY, kind VARCHAR, value VARCHAR)`,
    );
    const rows = await engine.all(`SELECT kind, value FROM ${META_TABLE} ORDER BY kind, key`);
    // Datasets first ('dataset' < 'routine' < 'table'), so their children find them.
    for (const row of rows) catalog.restore(String(row['kind']), JSON.parse(String(row['value'])) as Json);
    return catalog;
  }

  // ---- datasets ----

  listDatasets(projectId: string): DatasetEntry[] {
    return [...(this.projects.get(projectId)?.datasets.values() ?? [])]
      .map((d) => d.entry)
      .sort((a, b) => a.ref.datasetId.localeCompare(b.ref.datasetId));
  }

  getDataset(ref: DatasetRef): DatasetEntry {
    return this.datasetState(ref).entry;
  }

  hasDataset(ref: DatasetRef): boolean {
    return this.projects.get(ref.projectId)?.datasets.has(ref.datasetId) ?? false;
  }

  async createDataset(ref: DatasetRef, resource: Json): Promise<DatasetEntry> {
    const project = this.project(ref.projectId);
    if (project.datasets.has(ref.datasetId)) throw duplicate(`Already Exists: Dataset ${datasetName(ref)}`);
    const now = Date.now();
    const entry: DatasetEntry = {
      ref,
      resource: { location: DEFAULT_LOCATION, ...resource },
      creationTime: now,
      lastModifiedTime: now,
    };
    project.datasets.set(ref.datasetId, { entry, tables: new Map(), routines: new Map() });
    await this.saveDataset(entry);
    return entry;
  }

  async updateDataset(ref: DatasetRef, resource: Json): Promise<DatasetEntry> {
    const entry = this.getDataset(ref);
    entry.resource = resource;
    entry.lastModifiedTime = Date.now();
    await this.saveDataset(entry);
    return entry;
  }

  async deleteDataset(ref: DatasetRef, deleteContents: boolean): Promise<void> {
    const state = this.datasetState(ref);
    this.dropExpired(state);
    if (!deleteContents && (state.tables.size > 0 || state.routines.size > 0))
      throw new BigQueryError(400, 'resourceInUse', `Dataset ${datasetName(ref)} is still in use`);
    for (const table of [...state.tables.values()]) await this.deleteTable(table.ref);
    for (const routine of [...state.routines.values()]) await this.deleteRoutine(routine.ref);
    this.projects.get(ref.projectId)?.datasets.delete(ref.datasetId);
    await this.deleteMeta(`dataset/${ref.projectId}/${ref.datasetId}`);
  }

  // ---- tables ----

  listTables(ref: DatasetRef): TableEntry[] {
    const state = this.datasetState(ref);
    this.dropExpired(state);
    return [...state.tables.values()].sort((a, b) => a.ref.tableId.localeCompare(b.ref.tableId));
  }

  /** The table, or BigQuery's notFound error. */
  getTable(ref: TableRef): TableEntry {
    const state = this.datasetState(ref);
    this.dropExpired(state);
    const entry = state.tables.get(ref.tableId);
    if (!entry) throw notFound(`Not found: Table ${tableName(ref)}`);
    return entry;
  }

  findTable(ref: TableRef): TableEntry | undefined {
    const state = this.projects.get(ref.projectId)?.datasets.get(ref.datasetId);
    if (!state) return undefined;
    this.dropExpired(state);
    return state.tables.get(ref.tableId);
  }

  async createTable(
    ref: TableRef,
    type: TableType,
    fields: FieldSchema[],
    resource: Json,
    now = Date.now(),
    /** A connection the caller holds: used instead of taking another from the pool (which could deadlock). */
    connection?: DuckDBConnection,
  ): Promise<TableEntry> {
    const state = this.datasetState(ref);
    this.dropExpired(state);
    if (state.tables.has(ref.tableId)) throw duplicate(`Already Exists: Table ${tableName(ref)}`);
    const hasData = type === 'TABLE' || type === 'SNAPSHOT';
    const physical = hasData ? `t_${randomUUID().replaceAll('-', '')}` : undefined;
    const defaultExpiration = state.entry.resource['defaultTableExpirationMs'];
    const entry: TableEntry = {
      ref,
      type,
      fields,
      resource:
        resource['expirationTime'] === undefined && defaultExpiration !== undefined
          ? { ...resource, expirationTime: String(now + Number(defaultExpiration)) }
          : resource,
      ...(physical ? { physical } : {}),
      creationTime: now,
      lastModifiedTime: now,
      lastCommit: now,
    };
    const sql = physical ? createTableSql(physical, fields) : undefined;
    if (sql) await (connection ? connection.run(sql) : this.engine.run(sql));
    state.tables.set(ref.tableId, entry);
    await this.saveTable(entry, connection);
    return entry;
  }

  /** Replaces settable fields; a new schema may only add columns or relax REQUIRED to NULLABLE. */
  async updateTable(
    entry: TableEntry,
    resource: Json,
    fields?: FieldSchema[],
    /** A connection the caller holds (only for an update without a new schema). */
    connection?: DuckDBConnection,
  ): Promise<TableEntry> {
    if (fields && entry.physical) {
      const added = checkSchemaEvolution(entry.fields, fields, tableName(entry.ref));
      // Records that gained sub-fields change their stored STRUCT type; DuckDB casts old values by name.
      const widened = fields.filter((f) => {
        const old = entry.fields.find((o) => o.name.toLowerCase() === f.name.toLowerCase());
        return old !== undefined && duckType(old) !== duckType(f);
      });
      await this.commits.run(entry.physical, async () => {
        for (const sql of added.map((f) => addColumnSql(entry.physical!, f))) await this.engine.run(sql);
        for (const f of widened)
          await this.engine.run(
            `ALTER TABLE ${quoteIdent(entry.physical!)} ALTER COLUMN ${quoteIdent(f.name)} TYPE ${duckType(f)}`,
          );
      });
      entry.fields = fields;
    } else if (fields) {
      entry.fields = fields;
    }
    entry.resource = resource;
    entry.lastModifiedTime = Math.max(Date.now(), entry.lastModifiedTime + 1);
    await this.saveTable(entry, connection);
    return entry;
  }

  /** Replaces a table's schema outright (WRITE_TRUNCATE with a new schema): old rows stay for time travel. */
  async replaceSchema(entry: TableEntry, fields: FieldSchema[], c: DuckDBConnection): Promise<void> {
    if (!entry.physical) return;
    const current = new Map(entry.fields.map((f) => [f.name, f]));
    for (const f of fields) {
      const old = current.get(f.name);
      if (!old) await c.run(addColumnSql(entry.physical, f));
      else if (duckType(old) !== duckType(f)) {
        // History keeps the old values unreadable under the new type; BigQuery drops them as well.
        await c.run(`ALTER TABLE ${quoteIdent(entry.physical)} DROP COLUMN ${quoteIdent(f.name)}`);
        await c.run(addColumnSql(entry.physical, f));
      }
    }
    entry.fields = fields;
  }

  /**
   * Deletes one partition's rows (`tables.delete` of `t$20260101`, as `bq rm 't$20260101'` sends it;
   * https://cloud.google.com/bigquery/docs/managing-partitioned-tables#delete_a_partition): a commit that
   * removes them, so `t@T` before it still reads them, as time travel does.
   */
  async deletePartition(entry: TableEntry, partition: string): Promise<void> {
    await this.commit(entry, `SELECT * FROM ${this.relationSql(entry)} WHERE false`, {
      truncate: true,
      partition,
    });
  }

  async deleteTable(ref: TableRef): Promise<void> {
    const state = this.datasetState(ref);
    const entry = state.tables.get(ref.tableId);
    if (!entry) throw notFound(`Not found: Table ${tableName(ref)}`);
    state.tables.delete(ref.tableId);
    if (entry.physical) await this.engine.run(`DROP TABLE IF EXISTS ${quoteIdent(entry.physical)}`);
    await this.deleteMeta(`table/${ref.projectId}/${ref.datasetId}/${ref.tableId}`);
  }

  // ---- routines ----

  listRoutines(ref: DatasetRef): RoutineEntry[] {
    return [...this.datasetState(ref).routines.values()].sort((a, b) =>
      a.ref.routineId.localeCompare(b.ref.routineId),
    );
  }

  getRoutine(ref: RoutineRef): RoutineEntry {
    const entry = this.datasetState(ref).routines.get(ref.routineId);
    if (!entry) throw notFound(`Not found: Routine ${datasetName(ref)}.${ref.routineId}`);
    return entry;
  }

  async putRoutine(ref: RoutineRef, resource: Json, create: boolean): Promise<RoutineEntry> {
    const state = this.datasetState(ref);
    const existing = state.routines.get(ref.routineId);
    if (create && existing) throw duplicate(`Already Exists: Routine ${datasetName(ref)}.${ref.routineId}`);
    if (!create && !existing) throw notFound(`Not found: Routine ${datasetName(ref)}.${ref.routineId}`);
    const now = Date.now();
    const entry: RoutineEntry = {
      ref,
      resource,
      creationTime: existing?.creationTime ?? now,
      lastModifiedTime: now,
    };
    state.routines.set(ref.routineId, entry);
    await this.saveMeta(`routine/${ref.projectId}/${ref.datasetId}/${ref.routineId}`, 'routine', entry);
    return entry;
  }

  async deleteRoutine(ref: RoutineRef): Promise<void> {
    this.getRoutine(ref);
    this.datasetState(ref).routines.delete(ref.routineId);
    await this.deleteMeta(`routine/${ref.projectId}/${ref.datasetId}/${ref.routineId}`);
  }

  // ---- rows ----

  /**
   * Checks a time travel read: within the window and not before the table existed, as BigQuery does.
   * Returns the instant to read at (undefined = now).
   */
  checkSnapshotTime(entry: TableEntry, at: number | undefined, now = Date.now()): number | undefined {
    if (at === undefined) return undefined;
    const oldest = Math.max(now - TIME_TRAVEL_WINDOW_MS, entry.creationTime);
    // `@0` is the oldest data available (https://cloud.google.com/bigquery/table-decorators).
    if (at === 0) return oldest;
    const name = `${tableName(entry.ref)}@${at}`;
    if (at > now) throw invalid(`Invalid snapshot time ${at} for table ${name}. Cannot read in the future.`);
    if (at < oldest)
      throw invalid(`Invalid snapshot time ${at} for table ${name}. Cannot read before ${oldest}`);
    return at;
  }

  partitioning(entry: TableEntry): Partitioning {
    const time = entry.resource['timePartitioning'] as Partitioning['time'] | undefined;
    const range = entry.resource['rangePartitioning'] as Partitioning['range'] | undefined;
    return { ...(time ? { time } : {}), ...(range ? { range } : {}) };
  }

  /** A relation (parenthesized SELECT) of the table's user columns as of `at`, optionally one partition. */
  relationSql(entry: TableEntry, at?: number, partition?: string, extraColumns: string[] = []): string {
    if (!entry.physical) throw invalid(`Cannot read rows of ${tableName(entry.ref)}: it is a ${entry.type}.`);
    const where = [visibleSql(at)];
    if (partition !== undefined) {
      const partitioning = this.partitioning(entry);
      checkPartitionDecorator(partitioning, partition, tableName(entry.ref));
      where.push(`(${partitionIdSql(partitioning, entry.fields)}) = ${quoteString(partition)}`);
    }
    const columns = [...entry.fields.map((f) => quoteIdent(f.name)), ...extraColumns];
    return `(SELECT ${columns.length > 0 ? columns.join(', ') : '1 AS __empty'} FROM ${quoteIdent(entry.physical)} WHERE ${where.join(' AND ')} ORDER BY rowid)`;
  }

  /**
   * Commits rows atomically: `selectSql` yields the table's columns in schema order (stored types).
   * Commits to one table are serialized; each gets a strictly later time than the last.
   */
  async commit(
    entry: TableEntry,
    selectSql: string,
    options: CommitOptions,
    c?: DuckDBConnection,
  ): Promise<{ rows: number; at: number }> {
    const physical = entry.physical;
    if (!physical) throw invalid(`Cannot write to ${tableName(entry.ref)}: it is a ${entry.type}.`);
    return this.commits.run(physical, async () => {
      const at = Math.max(Date.now(), entry.lastCommit + 1);
      const partitioning = this.partitioning(entry);
      const ingestion = partitioning.time && partitioning.time.field === undefined;
      const decoratorStart =
        options.partition !== undefined ? partitionStartSql(options.partition) : undefined;
      const carried = options.partitionTimeColumn;
      let partitionTime = 'NULL';
      if (ingestion) {
        const commitTime = ingestionTimeSql(at, partitioning.time!.type);
        partitionTime =
          decoratorStart ??
          (carried !== undefined
            ? `coalesce(${truncateTimeSql(`__src.${quoteIdent(carried)}`, partitioning.time!.type)}, ${commitTime})`
            : commitTime);
      }
      const sourceColumns = carried !== undefined ? `__src.* EXCLUDE (${quoteIdent(carried)})` : '__src.*';
      const work = async (conn: DuckDBConnection): Promise<number> => {
        if (options.truncate) {
          let where = `${DELETED} IS NULL`;
          if (options.partition !== undefined) {
            checkPartitionDecorator(partitioning, options.partition, tableName(entry.ref));
            where += ` AND (${partitionIdSql(partitioning, entry.fields)}) = ${quoteString(options.partition)}`;
          }
          await conn.run(`UPDATE ${quoteIdent(physical)} SET ${DELETED} = ${at} WHERE ${where}`);
        }
        const columns = columnListSql(entry.fields);
        const target = entry.fields.length > 0 ? `${columns}, ` : '';
        const reader = await conn.runAndReadAll(
          `INSERT INTO ${quoteIdent(physical)} (${target}${INSERTED}, ${DELETED}, ${PARTITION_TIME}) SELECT ${entry.fields.length > 0 ? `${sourceColumns}, ` : ''}${at}, NULL, ${partitionTime} FROM (${selectSql}) AS __src`,
        );
        return Number(reader.getRowsJson()[0]?.[0] ?? 0);
      };
      const rows = c ? await inTransaction(c, work) : await this.engine.transaction(work);
      entry.lastCommit = at;
      entry.lastModifiedTime = Math.max(entry.lastModifiedTime, at);
      await this.saveTable(entry, c);
      return { rows, at };
    });
  }

  /** numRows and numBytes as of `at` (or now). */
  async stats(
    entry: TableEntry,
    at?: number,
    connection?: DuckDBConnection,
  ): Promise<{ numRows: number; numBytes: number }> {
    if (!entry.physical) return { numRows: 0, numBytes: 0 };
    const sql = `SELECT count(*) AS n, coalesce(sum(${rowSizeSql(entry.fields)}), 0) AS b FROM ${quoteIdent(entry.physical)} WHERE ${visibleSql(at)}`;
    const rows = connection ? await rowsOf(connection, sql) : await this.engine.all(sql);
    return { numRows: Number(rows[0]?.['n'] ?? 0), numBytes: Number(rows[0]?.['b'] ?? 0) };
  }

  /**
   * Per-partition row counts, sizes and last change, for INFORMATION_SCHEMA.PARTITIONS: the partitions
   * holding rows now, each last modified by the latest commit that added or removed one of its rows
   * (a load, an insert, a WRITE_TRUNCATE of it; https://cloud.google.com/bigquery/docs/information-schema-partitions).
   */
  async partitions(
    entry: TableEntry,
  ): Promise<{ partitionId: string | null; rows: number; bytes: number; lastModified: number }[]> {
    if (!entry.physical) return [];
    const idSql = partitionIdSql(this.partitioning(entry), entry.fields);
    const visible = `FILTER (WHERE ${visibleSql()})`;
    const rows = await this.engine.all(
      `SELECT ${idSql ?? 'NULL'} AS p, count(*) ${visible} AS n, coalesce(sum(${rowSizeSql(entry.fields)}) ${visible}, 0) AS b, max(greatest(${INSERTED}, coalesce(${DELETED}, 0))) AS m FROM ${quoteIdent(entry.physical)} GROUP BY ALL HAVING count(*) ${visible} > 0 ORDER BY ALL`,
    );
    return rows.map((r) => ({
      partitionId: r['p'] === null ? null : (r['p'] as string),
      rows: Number(r['n']),
      bytes: Number(r['b']),
      lastModified: Number(r['m'] ?? entry.lastModifiedTime),
    }));
  }

  allDatasetStates(): { projectId: string; datasets: DatasetEntry[] }[] {
    return [...this.projects.entries()].map(([projectId, p]) => ({
      projectId,
      datasets: [...p.datasets.values()].map((d) => d.entry),
    }));
  }

  // ---- internals ----

  private project(projectId: string): ProjectState {
    let project = this.projects.get(projectId);
    if (!project) {
      // Any project id works: a project exists once used.
      project = { datasets: new Map() };
      this.projects.set(projectId, project);
    }
    return project;
  }

  private datasetState(ref: DatasetRef): DatasetState {
    const state = this.projects.get(ref.projectId)?.datasets.get(ref.datasetId);
    if (!state) throw notFound(`Not found: Dataset ${datasetName(ref)}`);
    return state;
  }

  /** Tables past their expirationTime are gone, as in BigQuery (there, within hours; here, at once). */
  private dropExpired(state: DatasetState): void {
    const now = Date.now();
    for (const [id, entry] of state.tables) {
      const expiration = entry.resource['expirationTime'];
      if (expiration !== undefined && Number(expiration) <= now) {
        state.tables.delete(id);
        const drop = entry.physical ? `DROP TABLE IF EXISTS ${quoteIdent(entry.physical)}` : undefined;
        void Promise.all([
          drop ? this.engine.run(drop) : Promise.resolve(),
          this.deleteMeta(`table/${entry.ref.projectId}/${entry.ref.datasetId}/${id}`),
        ]).catch(() => undefined);
      }
    }
  }

  private restore(kind: string, value: Json): void {
    if (kind === 'dataset') {
      const entry = value as unknown as DatasetEntry;
      this.project(entry.ref.projectId).datasets.set(entry.ref.datasetId, {
        entry,
        tables: new Map(),
        routines: new Map(),
      });
    } else if (kind === 'table') {
      const entry = value as unknown as TableEntry;
      this.projects
        .get(entry.ref.projectId)
        ?.datasets.get(entry.ref.datasetId)
        ?.tables.set(entry.ref.tableId, entry);
    } else if (kind === 'routine') {
      const entry = value as unknown as RoutineEntry;
      this.projects
        .get(entry.ref.projectId)
        ?.datasets.get(entry.ref.datasetId)
        ?.routines.set(entry.ref.routineId, entry);
    }
  }

  private saveDataset(entry: DatasetEntry): Promise<void> {
    return this.saveMeta(`dataset/${entry.ref.projectId}/${entry.ref.datasetId}`, 'dataset', entry);
  }

  private saveTable(entry: TableEntry, connection?: DuckDBConnection): Promise<void> {
    return this.saveMeta(
      `table/${entry.ref.projectId}/${entry.ref.datasetId}/${entry.ref.tableId}`,
      'table',
      entry,
      connection,
    );
  }

  private async saveMeta(
    key: string,
    kind: string,
    value: unknown,
    connection?: DuckDBConnection,
  ): Promise<void> {
    const sql = `INSERT OR REPLACE INTO ${META_TABLE} VALUES (${quoteString(key)}, ${quoteString(kind)}, ${quoteString(JSON.stringify(value))})`;
    await (connection ? connection.run(sql) : this.engine.run(sql));
  }

  private async deleteMeta(key: string): Promise<void> {
    await this.engine.run(`DELETE FROM ${META_TABLE} WHERE key = ${quoteString(key)}`);
  }
}

async function inTransaction<T>(c: DuckDBConnection, fn: (c: DuckDBConnection) => Promise<T>): Promise<T> {
  await c.run('BEGIN TRANSACTION');
  try {
    const result = await fn(c);
    await c.run('COMMIT');
    return result;
  } catch (err) {
    await c.run('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

const addColumnSql = (physical: string, field: FieldSchema): string =>
  `ALTER TABLE ${quoteIdent(physical)} ADD COLUMN ${quoteIdent(field.name)} ${duckType(field)}${isRepeated(field) ? ` DEFAULT CAST([] AS ${duckType(field)})` : ''}`;

/** BigQuery's schema update rules for tables.patch/update: add NULLABLE/REPEATED columns, relax REQUIRED. */
export function checkSchemaEvolution(
  current: readonly FieldSchema[],
  next: readonly FieldSchema[],
  table: string,
): FieldSchema[] {
  const byName = new Map(next.map((f) => [f.name.toLowerCase(), f]));
  for (const old of current) {
    const f = byName.get(old.name.toLowerCase());
    if (!f)
      throw invalid(
        `Provided Schema does not match Table ${table}. Field ${old.name} is missing in new schema`,
      );
    if (f.type !== old.type)
      throw invalid(
        `Provided Schema does not match Table ${table}. Field ${old.name} has changed type from ${old.type} to ${f.type}`,
      );
    const oldMode = old.mode ?? 'NULLABLE';
    const newMode = f.mode ?? 'NULLABLE';
    if (oldMode !== newMode && !(oldMode === 'REQUIRED' && newMode === 'NULLABLE'))
      throw invalid(
        `Provided Schema does not match Table ${table}. Field ${old.name} has changed mode from ${oldMode} to ${newMode}`,
      );
    if (old.type === 'RECORD' && JSON.stringify(duckType(old)) !== JSON.stringify(duckType(f)))
      checkSchemaEvolution(old.fields ?? [], f.fields ?? [], table);
  }
  const known = new Set(current.map((f) => f.name.toLowerCase()));
  const added = next.filter((f) => !known.has(f.name.toLowerCase()));
  for (const f of added)
    if (f.mode === 'REQUIRED')
      throw invalid(
        `Provided Schema does not match Table ${table}. Cannot add required fields to an existing schema. (field: ${f.name})`,
      );
  return added;
}
