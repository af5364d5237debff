// What a restore step needs besides what every step has: the target tables, and the stores backups live
// in (Cloud Storage, S3, Azure, a directory) with the Cloud Storage landing folders.
import type { RestoreTaskSpec } from '@bqbr/shared';
import type { StepDeps } from './step-deps.js';
import type { StoreFactory } from './table-home.js';
import type { TargetTables } from './target-tables.js';
import type { StepRun } from './task-step.js';

export interface RestoreStepDeps extends StepDeps {
  readonly targets: TargetTables;
  readonly stores: StoreFactory;
}

/** One delivery's work on one restore task. */
export type RestoreRun = StepRun<RestoreStepDeps, RestoreTaskSpec>;
