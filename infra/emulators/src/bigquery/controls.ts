// Emulator-only test controls: job latency per type and fault injection, so tests can prove retries,
// long-running jobs and failures quickly. Served at /emulator/v1/controls (see README).
import { invalid } from './api-error.js';
import type { Json } from './resources.js';

export const JOB_TYPES = ['QUERY', 'LOAD', 'EXTRACT', 'COPY'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export interface Fault {
  /** Which jobs: one type or ANY. */
  readonly jobType: JobType | 'ANY';
  /** Only jobs that read or write this table id (no project/dataset), when set. */
  readonly tableId?: string;
  readonly reason: string;
  readonly message: string;
  /** Fail this many more matching jobs, then stop (default: unlimited when `fraction` is set, else 1). */
  remaining?: number;
  /** Fail each matching job with this probability (0..1). */
  readonly fraction?: number;
}

export interface ControlsView {
  jobLatencyMs: Record<JobType, number>;
  exportShardRows: number;
  faults: Fault[];
}

/** Rows per file of a wildcard export. BigQuery cuts files at about 1 GB; rows keep tests small and predictable. */
export const DEFAULT_EXPORT_SHARD_ROWS = 1_000_000;

const zeroLatency = (): Record<JobType, number> => ({ QUERY: 0, LOAD: 0, EXTRACT: 0, COPY: 0 });

export class Controls {
  private latency = zeroLatency();
  private faults: Fault[] = [];
  private shardRows = DEFAULT_EXPORT_SHARD_ROWS;

  view(): ControlsView {
    return {
      jobLatencyMs: { ...this.latency },
      exportShardRows: this.shardRows,
      faults: this.faults.map((f) => ({ ...f })),
    };
  }

  reset(): void {
    this.latency = zeroLatency();
    this.faults = [];
    this.shardRows = DEFAULT_EXPORT_SHARD_ROWS;
  }

  /** Applies a PATCH-style body: only the fields present change; `faults` replaces the list. */
  update(body: Json): void {
    const latency = body['jobLatencyMs'];
    if (latency !== undefined) {
      if (typeof latency !== 'object' || latency === null) throw invalid('jobLatencyMs must be an object.');
      for (const [type, ms] of Object.entries(latency as Json)) {
        if (!(JOB_TYPES as readonly string[]).includes(type))
          throw invalid(`jobLatencyMs: unknown job type ${type}; expected one of ${JOB_TYPES.join(', ')}.`);
        if (typeof ms !== 'number' || ms < 0) throw invalid(`jobLatencyMs.${type} must be a number >= 0.`);
        this.latency[type as JobType] = ms;
      }
    }
    const shardRows = body['exportShardRows'];
    if (shardRows !== undefined) {
      if (typeof shardRows !== 'number' || !Number.isInteger(shardRows) || shardRows < 1)
        throw invalid('exportShardRows must be a positive integer.');
      this.shardRows = shardRows;
    }
    const faults = body['faults'];
    if (faults !== undefined) {
      if (!Array.isArray(faults)) throw invalid('faults must be a list.');
      this.faults = faults.map((f, i) => parseFault(f, `faults[${i}]`));
    }
  }

  addFault(body: Json): void {
    this.faults.push(parseFault(body, 'fault'));
  }

  latencyFor(type: JobType): number {
    return this.latency[type];
  }

  exportShardRows(): number {
    return this.shardRows;
  }

  /** The fault to inject into a job of `type` touching `tableIds`, consuming one use of it. */
  takeFault(type: JobType, tableIds: readonly string[]): Fault | undefined {
    for (const fault of this.faults) {
      if (fault.jobType !== 'ANY' && fault.jobType !== type) continue;
      if (fault.tableId !== undefined && !tableIds.includes(fault.tableId)) continue;
      if (fault.remaining !== undefined && fault.remaining <= 0) continue;
      if (fault.fraction !== undefined && Math.random() >= fault.fraction) continue;
      if (fault.remaining !== undefined) fault.remaining--;
      this.faults = this.faults.filter((f) => f.remaining === undefined || f.remaining > 0);
      return fault;
    }
    return undefined;
  }
}

function parseFault(value: unknown, where: string): Fault {
  if (typeof value !== 'object' || value === null) throw invalid(`${where} must be an object.`);
  const f = value as Json;
  const jobType = f['jobType'] ?? 'ANY';
  if (jobType !== 'ANY' && !(JOB_TYPES as readonly unknown[]).includes(jobType))
    throw invalid(`${where}.jobType must be ANY or one of ${JOB_TYPES.join(', ')}.`);
  const reason = f['reason'] ?? 'backendError';
  if (typeof reason !== 'string') throw invalid(`${where}.reason must be a string.`);
  const fraction = f['fraction'];
  if (fraction !== undefined && (typeof fraction !== 'number' || fraction < 0 || fraction > 1))
    throw invalid(`${where}.fraction must be a number between 0 and 1.`);
  const count = f['count'];
  if (count !== undefined && (typeof count !== 'number' || !Number.isInteger(count) || count < 1))
    throw invalid(`${where}.count must be a positive integer.`);
  const tableId = f['tableId'];
  if (tableId !== undefined && typeof tableId !== 'string')
    throw invalid(`${where}.tableId must be a string.`);
  const message = typeof f['message'] === 'string' ? f['message'] : `Injected fault: ${reason}`;
  return {
    jobType: jobType as Fault['jobType'],
    reason,
    message,
    ...(tableId !== undefined ? { tableId } : {}),
    ...(fraction !== undefined ? { fraction } : {}),
    ...(count !== undefined ? { remaining: count } : fraction === undefined ? { remaining: 1 } : {}),
  };
}
