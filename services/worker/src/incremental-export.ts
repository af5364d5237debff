// A table of an incremental chain (docs/contracts.md, "Incremental backups"). A table partitioned by a
// column is exported partition by partition, one extract job of `table@snapshot$partition` each, so a later
// incremental can reference the partitions that did not change; what changed since the base (a partition
// BigQuery last modified after the base's snapshot, one the base did not have, one with other rows) is
// exported, the rest is referenced from the base's manifest (its files, in the base's folders). A table
// partitioned by ingestion time is exported the same way, in any backup: its files are the only record of
// which partition each row was in. Unpartitioned tables are exported whole when they changed and
// referenced whole when they did not.
import {
  TableManifest,
  decode,
  mapLimit,
  type BackupFileEntry,
  type BackupTaskSpec,
  type IncrementalBase,
  type TablePartition,
} from '@bqbr/shared';
import type { PartitionNow, TableReader } from './table-reader.js';
import type { TableHome } from './table-home.js';
import { exportSettings, type TableMetadata } from './table-manifest.js';
import { md5Base64 } from './transfer.js';

/** tabledata.list calls at once when counting partitions' rows at the snapshot. */
const COUNT_CONCURRENCY = 8;

/** What the task does with one table of an incremental chain. */
export type IncrementalPlan =
  /** One job as a full backup runs it (with why: for the manifest's note, when it is not the usual). */
  | { readonly kind: 'whole'; readonly why?: string }
  /** Partition by partition: jobs for `exported`, files of the others referenced from the base. */
  | {
      readonly kind: 'partitions';
      readonly partitions: readonly TablePartition[];
      readonly exported: readonly string[];
      readonly referenced: readonly BackupFileEntry[];
      readonly deletedPartitions: readonly string[];
      readonly numRows: number;
    }
  /** Nothing changed since the base: every file of the base's manifest referenced. */
  | { readonly kind: 'unchanged'; readonly referenced: readonly BackupFileEntry[]; readonly numRows: number };

/** The base's table manifest with the folder its own files are in, or why it cannot be built on. */
type BaseTable =
  { readonly manifest: TableManifest; readonly folder: string } | { readonly unusable: string };

/** A column-partitioned table: its partitions can be read and written by decorator and kept apart in files. */
export const partitionedByColumn = (table: TableMetadata): boolean =>
  table.rangePartitioning !== undefined ||
  (table.timePartitioning !== undefined && typeof table.timePartitioning['field'] === 'string');

/**
 * A table partitioned by ingestion time (HOUR, DAY, MONTH, YEAR; no field): `_PARTITIONTIME` is in no
 * exported file, so the table is exported partition by partition (`table@snapshot$partition`) and
 * restored by loads into `table$partition`, which BigQuery supports for such tables
 * (https://cloud.google.com/bigquery/docs/managing-partitioned-table-data#write-to-partition).
 */
export const partitionedByIngestion = (table: {
  readonly timePartitioning?: Record<string, unknown>;
}): boolean => table.timePartitioning !== undefined && typeof table.timePartitioning['field'] !== 'string';

export async function planIncremental(
  spec: BackupTaskSpec,
  table: TableMetadata,
  home: TableHome,
  tables: TableReader,
): Promise<IncrementalPlan> {
  const base = spec.incremental?.base;
  const baseTable = base === undefined ? undefined : await readBase(home, base, spec, table);
  const usable = baseTable !== undefined && 'manifest' in baseTable ? baseTable : undefined;
  const why = baseTable !== undefined && 'unusable' in baseTable ? baseTable.unusable : undefined;
  if (!partitionedByColumn(table) && !partitionedByIngestion(table)) {
    if (usable === undefined) return { kind: 'whole', ...(why ? { why } : {}) };
    const numRows = await tables.rowsAt(spec.source, spec.snapshotMillis);
    const modified = Number(table.lastModifiedTime ?? Number.POSITIVE_INFINITY);
    // Not modified since the base's snapshot (data or metadata: BigQuery's lastModifiedTime is the table's
    // latest change of either) and as many rows: the base's files are this table at this snapshot.
    if (modified <= usable.manifest.snapshotMillis && numRows === usable.manifest.numRows)
      return { kind: 'unchanged', referenced: referencedFiles(usable, () => true), numRows };
    return { kind: 'whole' };
  }

  const now = await tables.partitions(spec.source, table.location);
  const snapshot = spec.snapshotMillis;
  // A partition not modified since the snapshot has its rows of now; the others are counted at the snapshot.
  const atSnapshot = await mapLimit(now, COUNT_CONCURRENCY, async (p: PartitionNow) => ({
    id: p.id,
    rows: p.lastModifiedMillis <= snapshot ? p.rows : await tables.rowsAt(spec.source, snapshot, p.id),
    lastModifiedMillis: p.lastModifiedMillis,
  }));
  const partitions = atSnapshot.filter((p) => p.rows > 0).sort((a, b) => compare(a.id, b.id));
  const numRows = await tables.rowsAt(spec.source, snapshot);
  const counted = partitions.reduce((sum, p) => sum + p.rows, 0);
  // A partition deleted since the snapshot is not listed any more, yet had rows then: the table is exported
  // whole (the next incremental exports it partition by partition again).
  if (counted !== numRows)
    return {
      kind: 'whole',
      why: `its partitions hold ${counted} rows at the snapshot but the table ${numRows} (a partition deleted since?): exported whole`,
    };
  const before = new Map((usable?.manifest.partitions ?? []).map((p) => [p.id, p]));
  const baseFiles = new Set(
    (usable?.manifest.files ?? []).flatMap((f) => (f.partition === undefined ? [] : [f.partition])),
  );
  const unchanged = (p: TablePartition): boolean => {
    const was = before.get(p.id);
    return (
      usable !== undefined &&
      was !== undefined &&
      was.rows === p.rows &&
      p.lastModifiedMillis <= usable.manifest.snapshotMillis &&
      baseFiles.has(p.id)
    );
  };
  const kept = new Set(partitions.filter(unchanged).map((p) => p.id));
  const present = new Set(partitions.map((p) => p.id));
  return {
    kind: 'partitions',
    partitions,
    exported: partitions.filter((p) => !kept.has(p.id)).map((p) => p.id),
    referenced: usable === undefined ? [] : referencedFiles(usable, (f) => kept.has(f.partition ?? '')),
    deletedPartitions: [...before.keys()].filter((id) => !present.has(id)).sort(compare),
    numRows,
  };
}

/** The base's files `keep` selects, each naming the folder it is in (its own, or one it referenced). */
function referencedFiles(
  base: { readonly manifest: TableManifest; readonly folder: string },
  keep: (file: BackupFileEntry) => boolean,
): BackupFileEntry[] {
  return base.manifest.files.filter(keep).map((file) => ({ ...file, folder: file.folder ?? base.folder }));
}

/**
 * The base's `_table.json` (in the same store as this backup), checked against the MD5 its `_backup.json`
 * recorded, and whether this table can be built on it: the same export settings, schema and partitioning.
 * A base that cannot be read or built on is not an error: the table is exported in full.
 */
async function readBase(
  home: TableHome,
  base: IncrementalBase,
  spec: BackupTaskSpec,
  table: TableMetadata,
): Promise<BaseTable> {
  const folder = `${base.tablePath.replace(/\/+$/, '')}/`;
  const bytes = await home.read(`${folder}_table.json`);
  if (bytes === undefined)
    return { unusable: `the base's ${folder}_table.json is missing: exported in full` };
  if (base.manifestMd5 !== undefined && md5Base64(bytes) !== base.manifestMd5)
    return { unusable: `the base's ${folder}_table.json differs from its _backup.json: exported in full` };
  let manifest: TableManifest;
  try {
    manifest = decode(TableManifest, JSON.parse(bytes.toString('utf8')), `${folder}_table.json`);
  } catch {
    return { unusable: `the base's ${folder}_table.json is not a table manifest: exported in full` };
  }
  const same = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  if (!same(manifest.export, exportSettings(spec)))
    return { unusable: 'the base was exported in another format or compression: exported in full' };
  if (!same(manifest.schema.fields, table.schema?.fields ?? []))
    return { unusable: 'the schema changed since the base: exported in full' };
  if (
    !same(manifest.timePartitioning, table.timePartitioning) ||
    !same(manifest.rangePartitioning, table.rangePartitioning)
  )
    return { unusable: 'the partitioning changed since the base: exported in full' };
  if (manifest.extractJobId === undefined && manifest.extractJobs === undefined)
    return { unusable: 'the base holds no data of this table: exported in full' };
  return { manifest, folder };
}

const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
