// Whether a restore may write its target: an existing table is left untouched unless the request allows
// writing to it, and whether it existed is decided once, before the task's first job. Also the target's
// rows once a load is done.
import { PermanentError, type RestoreTaskSpec, type TableRef, type TaskDoc } from '@bqbr/shared';
import type { RestoreRun } from './restore-deps.js';
import type { TargetTables } from './target-tables.js';

/** `project:dataset.table`, for messages. */
export const tableName = (ref: TableRef): string => `${ref.projectId}:${ref.datasetId}.${ref.tableId}`;

/**
 * An existing target is left untouched unless the request allows writing to it: WRITE_APPEND, or
 * WRITE_TRUNCATE on a target it named explicitly. A table this task created itself is not "existing".
 */
async function checkTarget(spec: RestoreTaskSpec, task: TaskDoc, targets: TargetTables): Promise<boolean> {
  const existing = await targets.get(spec.target);
  if (existing === undefined || task.createdTarget === true) return existing !== undefined;
  if (spec.writeDisposition === 'WRITE_APPEND') return true;
  if (spec.writeDisposition === 'WRITE_TRUNCATE' && spec.allowReplace) return true;
  if (spec.writeDisposition === 'WRITE_EMPTY' && existing.numRows === 0 && existing.type === 'TABLE')
    return true;
  const how =
    spec.writeDisposition === 'WRITE_TRUNCATE'
      ? 'WRITE_TRUNCATE replaces a table only on a target the request names (targetDataset or targetDatasetPrefix)'
      : 'to replace it, name the target (targetDataset or targetDatasetPrefix) and use writeDisposition WRITE_TRUNCATE';
  throw new PermanentError(
    'duplicate',
    `target ${tableName(spec.target)} already exists (${existing.numRows} rows) and was left untouched: ${how}`,
  );
}

/**
 * Whether the target existed before this task wrote to it: decided (and recorded) before the task's
 * first job, so later deliveries and job attempts keep the first answer.
 */
export async function targetState(run: RestoreRun): Promise<boolean> {
  const { message, spec, task, deps } = run;
  if (task.targetExisted !== undefined) return task.targetExisted;
  const existed = await checkTarget(spec, task, deps.targets);
  task.targetExisted = existed;
  await deps.state.updateTask(message.operationId, message.taskId, { targetExisted: existed });
  return existed;
}

/** The rows of a table a load just wrote. */
export async function tableRows(ref: TableRef, targets: TargetTables): Promise<number> {
  const table = await targets.get(ref);
  if (table === undefined) throw new PermanentError('notFound', `restored table ${tableName(ref)} is gone`);
  return table.numRows;
}
