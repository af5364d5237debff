// The one interface a kind of operation (backup, restore) plugs into the engine with. The engine starts,
// fans out, completes and announces every operation the same way; what a kind does stays behind this.
import type {
  ErrorInfo,
  Logger,
  OperationDoc,
  OperationStatus,
  OperationSummary,
  PlanSummary,
  TableRef,
  TaskCounts,
  TaskSpec,
} from '@bqbr/shared';

/** Which kind an operation is: the engine passes it on and never looks at it. */
export type KindName = OperationDoc['kind'];

/** What the engine reads of any request: the project the operation is about, and whether it only plans. */
export interface OperationRequest {
  readonly bigQuery: { readonly projectId: string };
  readonly dryRun?: boolean | undefined;
}

/** One table's task as its kind plans it: for a worker (PENDING), or decided at once (SKIPPED, FAILED). */
export interface PlannedTask {
  readonly table: TableRef;
  readonly spec: TaskSpec;
  readonly status: 'PENDING' | 'SKIPPED' | 'FAILED';
  /** Absent means 1; the tasks of later phases wait for their kind to release them (`advance`). */
  readonly phase?: number;
  readonly note?: string;
  readonly error?: ErrorInfo;
}

/** A plan: what the operation records of it, and its tasks in a stable order (a redelivery plans the same). */
export interface Plan {
  readonly fields?: Partial<OperationDoc>;
  readonly tasks: AsyncIterable<PlannedTask> | Iterable<PlannedTask>;
}

/** What a dry run found: what the operation records of it, and the plan kept on it. */
export interface DryRun {
  readonly fields?: Partial<OperationDoc>;
  readonly plan: PlanSummary;
}

/** How an operation ended, as the completion check decided it. */
export interface Outcome {
  readonly status: OperationStatus;
  readonly summary: OperationSummary;
  readonly finishedAt: string;
}

/** The phases of an operation's tasks, as a kind's later phases see them. */
export interface Phases {
  /** Whether every task of `phase` is terminal. */
  finished(phase: number): Promise<boolean>;
  /** Publishes the PENDING tasks of `phase`; returns how many. */
  release(phase: number): Promise<number>;
}

export interface OperationKind<Request extends OperationRequest> {
  /**
   * Validation before anything is created: the fields the operation starts with (`existing` is the
   * operation of a redelivered request, whose fields stay). Throws a PermanentError to refuse the request.
   */
  preflight(request: Request, existing: OperationDoc | undefined, now: Date): Partial<OperationDoc>;
  /**
   * Before an HTTP submission is published: what the kind refuses from reads of its own sources that do
   * not touch BigQuery (a restore: the backup and its format), so the caller hears it at once. Throws a
   * PermanentError to refuse; any other error is the caller's to retry. Planning checks the same again.
   */
  admit?(request: Request): Promise<void>;
  /** Plans an operation in PLANNING; a PermanentError fails it, any other error retries the request. */
  plan(request: Request, operation: OperationDoc, logger: Logger): Promise<Plan>;
  /** What the operation would do, with nothing created: `operation` is the document it would start with. */
  dryRun(request: Request, operation: OperationDoc, logger: Logger): Promise<DryRun>;
  /** Later phases: runs at every completion check of a fanned-out RUNNING operation, before it counts. */
  advance?(operation: OperationDoc, phases: Phases, logger: Logger): Promise<void>;
  /** Records what the kind keeps of a finished operation, before its status moves; returns a problem to keep on it. */
  finalize?(operation: OperationDoc, outcome: Outcome, logger: Logger): Promise<ErrorInfo | undefined>;
  /** The final status from the task counts, where the kind's rule is not the engine's (`finalStatus`). */
  finalStatus?(counts: Pick<TaskCounts, 'SUCCEEDED' | 'FAILED'>): OperationStatus;
}

/** The request type of each kind, by kind name. */
export type KindRequests = { readonly [K in KindName]: OperationRequest };

/** Every kind the engine runs, by name. */
export type OperationKinds<R extends KindRequests> = { readonly [K in KindName]: OperationKind<R[K]> };

/** The request types of a union of decoded requests (`{kind, request}`), by kind. */
export type RequestsOf<D extends { readonly kind: KindName; readonly request: OperationRequest }> = {
  readonly [K in KindName]: Extract<D, { readonly kind: K }>['request'];
};
