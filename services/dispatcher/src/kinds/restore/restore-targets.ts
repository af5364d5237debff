// Where a restore puts each backed-up table: the target dataset named, else a prefixed one.
import { DEFAULT_TARGET_DATASET_PREFIX, type RestoreRequest } from '@bqbr/shared';

/** The target dataset of a backed-up dataset: `targetDataset`, else the prefix (default `restored_`) + its name. */
export function targetDatasetOf(request: RestoreRequest, datasetId: string): string {
  const details = request.bigQuery;
  if (details.targetDataset !== undefined) return details.targetDataset;
  return `${details.targetDatasetPrefix ?? DEFAULT_TARGET_DATASET_PREFIX}${datasetId}`;
}

/** Whether the request named its targets itself (then WRITE_TRUNCATE may replace existing tables). */
export const explicitTarget = (request: RestoreRequest): boolean =>
  request.bigQuery.targetDataset !== undefined || request.bigQuery.targetDatasetPrefix !== undefined;
