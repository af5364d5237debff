// The messages between the services: one task per table on bqbr-tasks (dispatcher → workers) and one
// event per task that reached a terminal state on bqbr-events (workers → dispatcher). Each spec holds
// exactly what its step needs and no state that cannot occur: see docs/contracts.md, "Task messages".
import * as t from 'io-ts';
import { DestinationSpec } from './destination-spec.js';

export const TableRef = t.type({ projectId: t.string, datasetId: t.string, tableId: t.string }, 'TableRef');
export type TableRef = t.TypeOf<typeof TableRef>;

const FileFormat = t.keyof({ AVRO: null, PARQUET: null, CSV: null, JSON: null });

/**
 * Where a table's backup lives and where BigQuery's job meets it. `home` is the store the backup lives
 * in (Cloud Storage, S3, Azure, a directory) and `tablePath` the table folder's path in it
 * (`backups/<yyyyMMdd_HHmmss>/<project>/<dataset>/<table>`). `landingFolder` is the gs:// folder the
 * extract writes to or the load reads from: for a Cloud Storage home it is the table folder itself and
 * carrying files between the two is a no-op; elsewhere it is a folder under the operator's staging URI.
 */
export const TableHome = t.type(
  { home: DestinationSpec, tablePath: t.string, landingFolder: t.string },
  'TableHome',
);
export type TableHome = t.TypeOf<typeof TableHome>;

/** The table in an incremental's base backup: its folder (path in the same store) and `_table.json`'s MD5. */
export const IncrementalBase = t.intersection(
  [t.type({ tablePath: t.string, snapshotMillis: t.number }), t.partial({ manifestMd5: t.string })],
  'IncrementalBase',
);
export type IncrementalBase = t.TypeOf<typeof IncrementalBase>;

/** What a backup task exports and how: everything the worker needs without reading the request. */
export const BackupTaskSpec = t.intersection(
  [
    TableHome,
    t.type({
      kind: t.literal('backup'),
      source: TableRef,
      /** Every table of an operation is read at this instant (`table@snapshotMillis`). */
      snapshotMillis: t.number,
      /** The table folder's URI in its home (`gs://…`, `s3://…`, `file:///…`): for people and logs. */
      tableFolder: t.string,
      format: FileFormat,
      compression: t.keyof({ NONE: null, GZIP: null, DEFLATE: null, SNAPPY: null, ZSTD: null }),
      header: t.boolean,
      fieldDelimiter: t.string,
    }),
    t.partial({
      /** The request's `exportOptions.overwrite`: false refuses a table folder that already holds data files. */
      overwrite: t.boolean,
      /** The request's `writeOnce`: every object the task writes is locked until `retainUntil` (ISO). */
      writeOnce: t.type({ mode: t.keyof({ GOVERNANCE: null, COMPLIANCE: null }), retainUntil: t.string }),
      /**
       * A backup of an incremental chain (docs/contracts.md, "Incremental backups"): a partitioned table is
       * exported partition by partition; with `base` (absent: the chain's full backup, or a table new
       * since the base), what is unchanged since the base is referenced from it instead.
       */
      incremental: t.partial({ base: IncrementalBase }),
      /** The request's `verify: "fingerprint"`: the table's content fingerprint at the snapshot goes in its manifest. */
      fingerprint: t.boolean,
    }),
  ],
  'BackupTaskSpec',
);
export type BackupTaskSpec = t.TypeOf<typeof BackupTaskSpec>;

/** A table backed up by bqbr: its `_table.json` at `manifestPath` under `home` (`manifestUri` for people). */
export const BqbrTableBackup = t.intersection(
  [
    TableHome,
    t.type({ layout: t.literal('bqbr'), manifestPath: t.string, manifestUri: t.string }),
    /** The manifest's MD5 (base64) as `_backup.json` records it; absent in backups that predate it. */
    t.partial({ manifestMd5: t.string }),
  ],
  'BqbrTableBackup',
);
export type BqbrTableBackup = t.TypeOf<typeof BqbrTableBackup>;

/** A table in the original service's layout (no manifest, Cloud Storage only): loaded with schema detection. */
export const OriginalTableBackup = t.type(
  {
    layout: t.literal('original'),
    files: t.array(t.string),
    format: FileFormat,
    header: t.boolean,
    fieldDelimiter: t.string,
  },
  'OriginalTableBackup',
);
export type OriginalTableBackup = t.TypeOf<typeof OriginalTableBackup>;

/** Nothing to load: a table planning already decided to fail or skip (its task is never dispatched). */
export const AbsentTableBackup = t.type({ layout: t.literal('absent') }, 'AbsentTableBackup');
export type AbsentTableBackup = t.TypeOf<typeof AbsentTableBackup>;

export const TableBackup = t.union([BqbrTableBackup, OriginalTableBackup, AbsentTableBackup], 'TableBackup');
export type TableBackup = t.TypeOf<typeof TableBackup>;

/** What a restore task loads and where: everything the worker needs without reading the request. */
export const RestoreTaskSpec = t.intersection(
  [
    t.type({
      kind: t.literal('restore'),
      /** The backed-up table (its name in the backup). */
      source: TableRef,
      /** The table to create and load. */
      target: TableRef,
      /** Where the table's backup is and in which layout. */
      backup: TableBackup,
      /** BigQuery's writeDisposition for the load: WRITE_EMPTY unless the request says otherwise. */
      writeDisposition: t.keyof({ WRITE_EMPTY: null, WRITE_APPEND: null, WRITE_TRUNCATE: null }),
      /** An existing target may be replaced: WRITE_TRUNCATE on a target the request named explicitly. */
      allowReplace: t.boolean,
      /** 1: tables; 2: views, released when every table task has finished (they may read restored tables). */
      phase: t.number,
      /** Source dataset → restored dataset, for rewriting views' queries. */
      datasetMap: t.record(t.string, t.string),
      ignoreUnknownValues: t.boolean,
      maxBadRecords: t.number,
    }),
    t.partial({
      /** Location for the target's jobs (the target dataset's). */
      location: t.string,
      /** The request's `verify: "fingerprint"`: the restored table's fingerprint must be its manifest's. */
      verifyFingerprint: t.boolean,
      /** The request's kmsKeyMapping: a backed-up table's CMEK key → the key its restored table gets. */
      kmsKeyMapping: t.record(t.string, t.string),
    }),
  ],
  'RestoreTaskSpec',
);
export type RestoreTaskSpec = t.TypeOf<typeof RestoreTaskSpec>;

/**
 * What a prune task deletes: one backup folder (`backups/<timestamp>/<project>` under `home`), every object
 * in it, `_backup.json` last but one and the `_pruning.json` marker it writes first last (docs/contracts.md,
 * "Storage layout"). Kept backups are SKIPPED tasks with the same spec and the reasons in their note.
 */
export const PruneTaskSpec = t.intersection(
  [
    t.type({
      kind: t.literal('prune'),
      home: DestinationSpec,
      folderPath: t.string,
      /** The folder's URI, for people and logs. */
      folder: t.string,
      /** The backup folder's name under `backups/`. */
      timestamp: t.string,
      snapshotMillis: t.number,
      /** Why it goes, or why it stays. */
      reasons: t.array(t.string),
    }),
    t.partial({
      /** The catalogue entry (`backups/{backupId}`, the backup's operation id) to mark deleted. */
      backupId: t.string,
    }),
  ],
  'PruneTaskSpec',
);
export type PruneTaskSpec = t.TypeOf<typeof PruneTaskSpec>;

/** Which of a table's files a verify task re-reads: all, or restic's `--read-data-subset` share. */
export const VerifySubset = t.union(
  [t.type({ part: t.number, of: t.number }), t.type({ percent: t.number })],
  'VerifySubset',
);

/**
 * What a verify task checks: one table of a bqbr backup, its `_table.json` against the MD5 `_backup.json`
 * records and every data file (or a subset) re-read against the manifest's sizes, MD5 and CRC32C.
 */
export const VerifyTaskSpec = t.intersection(
  [
    t.type({
      kind: t.literal('verify'),
      home: DestinationSpec,
      source: TableRef,
      manifestPath: t.string,
      manifestUri: t.string,
    }),
    t.partial({
      /** As `_backup.json` records it; absent in backups that predate it (the manifest is then only decoded). */
      manifestMd5: t.string,
      subset: VerifySubset,
      /**
       * A restore drill: the table's files loaded into `target` (a scratch table, dropped after) from
       * `landingFolder` (the table folder in Cloud Storage, else a folder under the staging URI), its
       * rows compared with the manifest's count. `location`: the scratch dataset's, where the job runs.
       */
      drill: t.intersection([
        t.type({ target: TableRef, landingFolder: t.string }),
        t.partial({ location: t.string }),
      ]),
    }),
  ],
  'VerifyTaskSpec',
);
export type VerifyTaskSpec = t.TypeOf<typeof VerifyTaskSpec>;

export const TaskSpec = t.union([BackupTaskSpec, RestoreTaskSpec, PruneTaskSpec, VerifyTaskSpec], 'TaskSpec');
export type TaskSpec = t.TypeOf<typeof TaskSpec>;

/** A bqbr-tasks message body. Attributes repeat operationId, taskId and kind for filtering and logs. */
export const TaskMessage = t.intersection(
  [
    t.type({ operationId: t.string, taskId: t.string, spec: TaskSpec }),
    t.partial({
      /** Set on a message a worker re-published to keep waiting for a long job (docs/architecture.md, "The worker"). */
      continuation: t.number,
    }),
  ],
  'TaskMessage',
);
export type TaskMessage = t.TypeOf<typeof TaskMessage>;

export const TERMINAL_TASK_STATUSES = ['SUCCEEDED', 'FAILED', 'SKIPPED'] as const;
export type TerminalTaskStatus = (typeof TERMINAL_TASK_STATUSES)[number];

/** A bqbr-events message body: a task reached a terminal state. */
export const TaskEvent = t.type(
  {
    operationId: t.string,
    taskId: t.string,
    status: t.keyof({ SUCCEEDED: null, FAILED: null, SKIPPED: null }),
  },
  'TaskEvent',
);
export type TaskEvent = t.TypeOf<typeof TaskEvent>;
