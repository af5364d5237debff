// Value verification (docs/contracts.md, "Value verification"): a table's content fingerprint computed by
// BigQuery in a query job with a deterministic id, so a redelivery finds the job instead of scanning again
// and a long scan is waited for by continuations, as a load or an extract is.
import {
  PermanentError,
  describeFingerprint,
  fingerprintFromRow,
  fingerprintQuery,
  sameFingerprint,
  type ContentFingerprint,
  type FingerprintSource,
} from '@bqbr/shared';
import { jobFailed, runJob } from './step-job.js';
import type { StepOutcome, StepRun } from './task-step.js';

/** The fingerprint, or the outcome of a query still running (continued) or failed. */
export type FingerprintResult =
  { readonly fingerprint: ContentFingerprint } | { readonly outcome: StepOutcome };

export async function computeFingerprint(
  run: StepRun,
  jobId: string,
  location: string | undefined,
  source: FingerprintSource,
): Promise<FingerprintResult> {
  const result = await runJob(run, {
    jobId,
    location,
    configuration: { query: { query: fingerprintQuery(source), useLegacySql: false } },
  });
  if (result.kind === 'continued') return { outcome: result.outcome };
  if (result.job.errorResult !== undefined)
    return { outcome: await jobFailed(run, 'fingerprint query', result.job.errorResult) };
  const rows = await run.deps.jobs.queryRows(jobId, location);
  return { fingerprint: fingerprintFromRow(rows[0]) };
}

/** A restored table's fingerprint must be its backup's: a permanent `fingerprintMismatch` with both otherwise. */
export function checkFingerprint(
  what: string,
  restored: ContentFingerprint,
  recorded: ContentFingerprint,
): void {
  if (sameFingerprint(restored, recorded)) return;
  throw new PermanentError(
    'fingerprintMismatch',
    `${what}: content fingerprint ${describeFingerprint(restored)}, but the backup recorded ${describeFingerprint(recorded)} at the snapshot`,
  );
}
