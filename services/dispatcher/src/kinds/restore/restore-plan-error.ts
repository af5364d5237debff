// A restore that cannot start (no such backup, an unfinished one, a layout bqbr cannot read there).
import { PermanentError, type ErrorInfo } from '@bqbr/shared';

/** Permanent: the operation fails with `info`. */
export class RestorePlanError extends PermanentError {
  constructor(readonly info: ErrorInfo) {
    super(info.reason, info.message);
  }
}
