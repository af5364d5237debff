/** Errors in the JSON shape Google's APIs return, so clients surface `code`, `message` and `errors[].reason`. */
export class GcsError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'GcsError';
  }

  toJSON(): object {
    return {
      error: {
        code: this.status,
        message: this.message,
        errors: [{ message: this.message, domain: 'global', reason: this.reason }],
      },
    };
  }
}

export const notFound = (message: string): GcsError => new GcsError(404, 'notFound', message);

export const noSuchObject = (bucket: string, name: string): GcsError =>
  notFound(`No such object: ${bucket}/${name}`);

export const noSuchBucket = (): GcsError => notFound('The specified bucket does not exist.');

export const conflict = (message: string): GcsError => new GcsError(409, 'conflict', message);

export const conditionNotMet = (): GcsError =>
  new GcsError(412, 'conditionNotMet', 'At least one of the pre-conditions you specified did not hold.');

/** GCS answers 304 (no body) when an `ifGenerationNotMatch`/`ifMetagenerationNotMatch` read does not hold. */
export const notModified = (): GcsError => new GcsError(304, 'notModified', 'Not Modified');

export const invalid = (message: string): GcsError => new GcsError(400, 'invalid', message);

export const required = (what: string): GcsError => new GcsError(400, 'required', `Required ${what}`);

export const parseError = (): GcsError => new GcsError(400, 'parseError', 'Parse Error');

export const rangeNotSatisfiable = (): GcsError =>
  new GcsError(416, 'requestedRangeNotSatisfiable', 'The requested range cannot be satisfied.');

export const internalError = (message: string): GcsError => new GcsError(500, 'backendError', message);
