// Object Retention Lock (https://cloud.google.com/storage/docs/object-lock): a bucket created with
// `enableObjectRetention=true` has `objectRetention.mode: Enabled`, and its objects may carry
// `retention: {mode: Unlocked|Locked, retainUntilTime}`, set on upload or by a patch. Until that time the
// object can be neither deleted nor replaced: GCS answers 403 retentionPolicyNotMet, as for a bucket
// retention policy (https://cloud.google.com/storage/docs/bucket-lock). A Locked configuration can only be
// extended; an Unlocked one can be shortened, removed or locked with `overrideUnlockedRetention=true`.
import { GcsError, invalid } from './errors.js';
import type { StoredBucket, StoredObject } from './object-store.js';

export interface ObjectRetention {
  readonly mode: 'Unlocked' | 'Locked';
  readonly retainUntilTime: string;
}

/** The bucket's `objectRetention` as its resource shows it (kept with the bucket's other fields). */
export const OBJECT_RETENTION_ENABLED = { mode: 'Enabled' } as const;

/** GCS's limit: 3,155,760,000 seconds (100 years) from now. */
const MAX_RETENTION_MS = 3_155_760_000_000;

export function retentionEnabled(bucket: StoredBucket): boolean {
  const setting = bucket.extra?.['objectRetention'] as { mode?: unknown } | undefined;
  return setting?.mode === OBJECT_RETENTION_ENABLED.mode;
}

/** A request body's `retention`: undefined when absent, null to clear. */
export function decodeRetention(value: unknown): ObjectRetention | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalid("Invalid value for field 'retention'.");
  const { mode, retainUntilTime } = value as Record<string, unknown>;
  if (mode !== 'Unlocked' && mode !== 'Locked')
    throw invalid(`Invalid value for field 'retention.mode': ${String(mode)}.`);
  if (typeof retainUntilTime !== 'string' || Number.isNaN(Date.parse(retainUntilTime)))
    throw invalid(`Invalid value for field 'retention.retainUntilTime': ${String(retainUntilTime)}.`);
  return { mode, retainUntilTime: new Date(retainUntilTime).toISOString() };
}

/** The retention an object gets on upload (copy, compose): only in an enabled bucket, never in the past. */
export function checkNewRetention(bucket: StoredBucket, retention: ObjectRetention | null | undefined): void {
  if (retention === undefined || retention === null) return;
  if (!retentionEnabled(bucket))
    throw invalid(`Object retention is not enabled for bucket ${bucket.name}: it must be created with it.`);
  const until = Date.parse(retention.retainUntilTime);
  if (until <= Date.now())
    throw invalid('The retainUntilTime of a retention configuration must be in the future.');
  if (until > Date.now() + MAX_RETENTION_MS)
    throw invalid('The retainUntilTime of a retention configuration is more than 100 years from now.');
}

/** Refuses a delete or a replacement of an object still under its retention. */
export function checkNotRetained(current: StoredObject | undefined): void {
  const until = current?.retention?.retainUntilTime;
  if (until === undefined || Date.parse(until) <= Date.now()) return;
  throw new GcsError(
    403,
    'retentionPolicyNotMet',
    `Object '${current!.bucket}/${current!.name}' is subject to object retention (${current!.retention!.mode}) ` +
      `and cannot be deleted, overwritten or archived until ${until}`,
  );
}

/**
 * The retention after a patch (`merge`: an absent field keeps it) or an update (`replace`: an absent field
 * clears it). Shortening, removing or locking an Unlocked one needs `override`; a Locked one only extends.
 */
export function changedRetention(
  bucket: StoredBucket,
  current: ObjectRetention | undefined,
  input: ObjectRetention | null | undefined,
  mode: 'merge' | 'replace',
  override: boolean,
): ObjectRetention | undefined {
  const next = input === undefined ? (mode === 'merge' ? current : undefined) : (input ?? undefined);
  if (next === current) return current;
  if (next !== undefined && !retentionEnabled(bucket))
    throw invalid(`Object retention is not enabled for bucket ${bucket.name}: it must be created with it.`);
  if (current === undefined || Date.parse(current.retainUntilTime) <= Date.now()) return next;
  const extends_ =
    next !== undefined &&
    next.mode === current.mode &&
    Date.parse(next.retainUntilTime) >= Date.parse(current.retainUntilTime);
  if (extends_) return next;
  if (current.mode === 'Locked')
    throw new GcsError(
      403,
      'forbidden',
      `The object's retention is Locked until ${current.retainUntilTime}: it can only be extended.`,
    );
  if (!override)
    throw new GcsError(
      403,
      'forbidden',
      'Shortening, removing or locking an Unlocked retention needs overrideUnlockedRetention=true.',
    );
  return next;
}
