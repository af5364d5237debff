// What a verify step needs besides what every step has: the stores backups live in, and (for a restore
// drill) the scratch tables it loads and drops.
import type { VerifyTaskSpec } from '@bqbr/shared';
import type { StepDeps } from './step-deps.js';
import type { StoreFactory } from './table-home.js';
import type { TargetTables } from './target-tables.js';
import type { StepRun } from './task-step.js';

export interface VerifyStepDeps extends StepDeps {
  readonly stores: StoreFactory;
  readonly targets: TargetTables;
}

/** One delivery's work on one verify task. */
export type VerifyRun = StepRun<VerifyStepDeps, VerifyTaskSpec>;
