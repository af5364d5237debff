// The messages between the services: one task per table on bqbr-tasks (dispatcher → workers) and one
// event per task that reached a terminal state on bqbr-events (workers → dispatcher).
import * as t from 'io-ts';
import { DestinationSpec } from './destination-spec.js';

export const TableRef = t.type({ projectId: t.string, datasetId: t.string, tableId: t.string }, 'TableRef');
export type TableRef = t.TypeOf<typeof TableRef>;

/** What a backup task exports and how: everything the worker needs without reading the request. */
export const BackupTaskSpec = t.intersection(
  [
    t.type({
      kind: t.literal('backup'),
      source: TableRef,
      /** Every table of an operation is read at this instant (`table@snapshotMillis`). */
      snapshotMillis: t.number,
      /** `gs://bucket/.../backups/<yyyyMMdd_HHmmss>/<project>/<dataset>/<table>`: data files and `_table.json` go here. */
      tableFolder: t.string,
      format: t.keyof({ AVRO: null, PARQUET: null, CSV: null, JSON: null }),
      compression: t.keyof({ NONE: null, GZIP: null, DEFLATE: null, SNAPPY: null, ZSTD: null }),
      header: t.boolean,
      fieldDelimiter: t.string,
    }),
    t.partial({
      /** The request's `exportOptions.overwrite`: false refuses a table folder that already holds data files. */
      overwrite: t.boolean,
      /**
       * A destination outside Cloud Storage: the extract writes to `stagingFolder` (gs://), the worker
       * copies the files to `tablePath` under `destination`, writes `_table.json` there, and clears the
       * staging files. `tableFolder` is then the destination's URI of `tablePath`, for people.
       */
      destination: DestinationSpec,
      tablePath: t.string,
      stagingFolder: t.string,
    }),
  ],
  'BackupTaskSpec',
);
export type BackupTaskSpec = t.TypeOf<typeof BackupTaskSpec>;

const FileFormat = t.keyof({ AVRO: null, PARQUET: null, CSV: null, JSON: null });

/** What a restore task loads and where: everything the worker needs without reading the request. */
export const RestoreTaskSpec = t.intersection(
  [
    t.type({
      kind: t.literal('restore'),
      /** The backed-up table (its name in the backup). */
      source: TableRef,
      /** The table to create and load. */
      target: TableRef,
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
      /** bqbr layout: the table's `_table.json`, and its MD5 (base64) as recorded in `_backup.json`. */
      manifestUri: t.string,
      manifestMd5: t.string,
      /** Original service's layout (no manifest): its data files, loaded with schema detection. */
      original: t.type({
        files: t.array(t.string),
        format: FileFormat,
        header: t.boolean,
        fieldDelimiter: t.string,
      }),
      /** Location for the target's jobs (the target dataset's). */
      location: t.string,
      /**
       * A backup outside Cloud Storage: `_table.json` is `manifestPath` under `backupStore`, and the
       * worker copies the data files to `stagingFolder` (gs://) to load them, clearing them after.
       */
      backupStore: DestinationSpec,
      manifestPath: t.string,
      stagingFolder: t.string,
    }),
  ],
  'RestoreTaskSpec',
);
export type RestoreTaskSpec = t.TypeOf<typeof RestoreTaskSpec>;

export const TaskSpec = t.union([BackupTaskSpec, RestoreTaskSpec], 'TaskSpec');
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
