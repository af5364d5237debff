// Deterministic identifiers: the same table of the same operation always gets the same task id and, per
// job attempt, the same BigQuery job id, so a redelivered message finds its work instead of repeating it.
import { createHash } from 'node:crypto';
import type { TableRef } from './contracts/task.js';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

// Firestore document ids may not contain '/', be '.' or '..', or look like `__name__`; BigQuery dataset
// and table ids already fit this set, so the readable form is the common case.
const SAFE_TASK_ID = /^[A-Za-z0-9_.-]{1,700}$/;

/** `dataset.table` when that is a safe Firestore document id, else `t_` + 40 hex digits of its sha256. */
export function taskIdFor(table: TableRef): string {
  const readable = `${table.datasetId}.${table.tableId}`;
  if (SAFE_TASK_ID.test(readable) && !/^__.*__$/.test(readable)) return readable;
  return `t_${sha256(readable).slice(0, 40)}`;
}

// BigQuery job ids: letters, digits, '_' and '-', at most 1,024 characters
// (https://cloud.google.com/bigquery/docs/reference/rest/v2/JobReference).
const readable = (text: string): string => text.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 200);

/**
 * What tells the jobs of two tasks apart: 16 hex digits of the sha256 of the full operation id and task id.
 * The readable part is lossy (`a.b` and `a_b` read alike, long ids are cut); this part is not.
 */
const taskHash = (operationId: string, taskId: string): string =>
  sha256(JSON.stringify([operationId, taskId])).slice(0, 16);

/**
 * The extract job of one task at one job attempt: `bqbr_backup_<operation>_<hash>_<attempt>`, where
 * `<operation>` is the operation id made readable and `<hash>` hashes the full operation and task ids.
 * The attempt is bqbr's own retry count.
 */
export function extractJobId(operationId: string, taskId: string, jobAttempt: number): string {
  return `bqbr_backup_${readable(operationId)}_${taskHash(operationId, taskId)}_${jobAttempt}`;
}

/** A backup task's content fingerprint query (`verify: "fingerprint"`), named after its extract job. */
export function fingerprintJobId(operationId: string, taskId: string, jobAttempt: number): string {
  return `${extractJobId(operationId, taskId, jobAttempt)}_fingerprint`;
}

/**
 * The jobs of one restore task at one job attempt: `bqbr_restore_<operation>_<hash>_<attempt>_<step>`
 * (`load`; or `stage` and `convert` when a table is loaded through a staging table; `drill` for a
 * verify's restore drill; `fingerprint` for the restored table's content fingerprint), named as
 * {@link extractJobId} names them.
 */
export function restoreJobId(
  operationId: string,
  taskId: string,
  jobAttempt: number,
  step: 'load' | 'stage' | 'convert' | 'drill' | 'fingerprint',
): string {
  return `bqbr_restore_${readable(operationId)}_${taskHash(operationId, taskId)}_${jobAttempt}_${step}`;
}

/** The staging table of a restore task (in the target dataset; dropped once the table is restored). */
export function stagingTableId(operationId: string, taskId: string): string {
  return `_bqbr_staging_${sha256(`${operationId}/${taskId}`).slice(0, 24)}`;
}

/**
 * A verify's restore drill loads each source dataset's tables into a scratch dataset of its own:
 * `bqbr_drill_<hash>_<dataset>` (dataset ids take letters, digits and '_', at most 1,024 characters;
 * https://cloud.google.com/bigquery/docs/datasets#dataset-naming). Dropped when the verify ends.
 */
export function drillDatasetId(operationId: string, datasetId: string): string {
  return `bqbr_drill_${sha256(operationId).slice(0, 12)}_${datasetId}`.slice(0, 1024);
}
