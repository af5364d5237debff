// What the stores share about write-once objects (S3 Object Lock, Cloud Storage object retention, Azure
// immutability policies): the refusal every store throws for a locked object, and a store wrapper that
// locks everything put through it.
import type { Readable } from 'node:stream';
import { PermanentError } from '../errors.js';
import type { BackupStore, ObjectRetention, PutOptions, PutResult } from './types.js';

/** Whether the lock still holds at `now`. */
export const stillLocked = (retention: ObjectRetention | undefined, now = Date.now()): boolean =>
  retention !== undefined && Date.parse(retention.retainUntil) > now;

/** The refusal of a delete or overwrite of a locked object: reason `retentionLocked`, naming the instant. */
export function retentionLocked(uri: string, retention: ObjectRetention, action: string): PermanentError {
  return new PermanentError(
    'retentionLocked',
    `cannot ${action} ${uri}: it is write-once (${retention.mode} retention) until ${retention.retainUntil}`,
  );
}

/** Throws `retentionLocked` when the object is locked now. */
export function refuseIfLocked(
  uri: string,
  retention: ObjectRetention | undefined,
  action: 'delete' | 'overwrite',
): void {
  if (retention !== undefined && stillLocked(retention)) throw retentionLocked(uri, retention, action);
}

/** Adds `retention` to every put through `store` (the backup's objects at its home); the rest is unchanged. */
export function lockingStore(store: BackupStore, retention: ObjectRetention): BackupStore {
  return {
    ...store,
    put: (path: string, body: Readable, options?: PutOptions): Promise<PutResult> =>
      store.put(path, body, { ...options, retention }),
  };
}

/** Whether `held` already keeps the object at least as long as `wanted` asks. */
export const coversRetention = (held: ObjectRetention | undefined, wanted: ObjectRetention): boolean =>
  held !== undefined &&
  Date.parse(held.retainUntil) >= Date.parse(wanted.retainUntil) &&
  (held.mode === 'COMPLIANCE' || wanted.mode === 'GOVERNANCE');
