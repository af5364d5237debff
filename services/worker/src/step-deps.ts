// What every table step is given, backup and restore alike: the state store, BigQuery jobs, the
// task/event publisher and the settings, and per delivery a scoped logger and a shutdown signal.
import type { Logger, StateStore, TaskEvent, TaskMessage } from '@bqbr/shared';
import type { JobRunner } from './job-runner.js';

export interface TaskPublisher {
  publishEvent(event: TaskEvent): Promise<void>;
  /** Re-publishes a task message (a continuation that keeps waiting for a long job). */
  publishTask(message: TaskMessage): Promise<void>;
}

export interface StepSettings {
  /** How long one delivery waits for a job (or carries files) before handing over to a continuation. */
  readonly jobWaitMs: number;
  readonly jobPollMs: number;
  /** Job attempts per table before the task fails (retryable job failures only). */
  readonly maxJobAttempts: number;
  /** Files one task carries at once between its landing folder and a home outside Cloud Storage. */
  readonly transferConcurrency?: number;
}

export interface StepDeps {
  readonly state: StateStore;
  readonly jobs: JobRunner;
  readonly publisher: TaskPublisher;
  readonly settings: StepSettings;
  readonly now?: () => Date;
}

export interface StepContext {
  readonly logger: Logger;
  /** Aborted on shutdown: a task waiting for its job hands over to a continuation at once. */
  readonly signal: AbortSignal;
}
