// The messages between the services: one task per table on bqbr-tasks (dispatcher → workers) and one
// event per task that reached a terminal state on bqbr-events (workers → dispatcher).
import * as t from 'io-ts';

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
    }),
  ],
  'BackupTaskSpec',
);
export type BackupTaskSpec = t.TypeOf<typeof BackupTaskSpec>;

/** A bqbr-tasks message body. Attributes repeat operationId, taskId and kind for filtering and logs. */
export const TaskMessage = t.intersection(
  [
    t.type({ operationId: t.string, taskId: t.string, spec: BackupTaskSpec }),
    t.partial({
      /** Set on a message a worker re-published to keep waiting for a long job (see DESIGN.md, worker step 4). */
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
