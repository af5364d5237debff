import { conditionNotMet, invalid, notModified } from './errors.js';

/** The `if*` query parameters of one object (the target, or a copy's source). */
export interface Preconditions {
  readonly ifGenerationMatch?: string;
  readonly ifGenerationNotMatch?: string;
  readonly ifMetagenerationMatch?: string;
  readonly ifMetagenerationNotMatch?: string;
}

export interface Versioned {
  readonly generation: string;
  readonly metageneration: number;
}

/** Reads `ifGenerationMatch`... (or, with prefix `ifSource`, `ifSourceGenerationMatch`...) from a query. */
export function readPreconditions(query: URLSearchParams, prefix: 'if' | 'ifSource' = 'if'): Preconditions {
  const read = (name: string): string | undefined => {
    const value = query.get(prefix + name);
    if (value === null) return undefined;
    return parseInteger(prefix + name, value);
  };
  return dropUndefined({
    ifGenerationMatch: read('GenerationMatch'),
    ifGenerationNotMatch: read('GenerationNotMatch'),
    ifMetagenerationMatch: read('MetagenerationMatch'),
    ifMetagenerationNotMatch: read('MetagenerationNotMatch'),
  });
}

/** Normalizes an int64 parameter to its canonical decimal form, so `"007"` equals `"7"`. */
export function parseInteger(name: string, value: string | number): string {
  const text = String(value).trim();
  if (!/^-?\d+$/.test(text)) throw invalid(`Invalid value for ${name}: ${text}`);
  return BigInt(text).toString();
}

/** For a write (upload, patch, delete, copy destination): any failure is 412. `current` is the live object. */
export function checkWritePreconditions(current: Versioned | undefined, p: Preconditions): void {
  if (p.ifGenerationMatch !== undefined) {
    const holds =
      p.ifGenerationMatch === '0' ? current === undefined : current?.generation === p.ifGenerationMatch;
    if (!holds) throw conditionNotMet();
  }
  if (p.ifGenerationNotMatch !== undefined) {
    const fails =
      p.ifGenerationNotMatch === '0' ? current === undefined : current?.generation === p.ifGenerationNotMatch;
    if (fails) throw conditionNotMet();
  }
  if (p.ifMetagenerationMatch !== undefined && String(current?.metageneration) !== p.ifMetagenerationMatch) {
    throw conditionNotMet();
  }
  if (
    p.ifMetagenerationNotMatch !== undefined &&
    String(current?.metageneration) === p.ifMetagenerationNotMatch
  ) {
    throw conditionNotMet();
  }
}

/** For a read of an existing object: a failed Match is 412, a failed NotMatch is 304 (as GCS). */
export function checkReadPreconditions(current: Versioned, p: Preconditions): void {
  if (p.ifGenerationMatch !== undefined && current.generation !== p.ifGenerationMatch)
    throw conditionNotMet();
  if (p.ifMetagenerationMatch !== undefined && String(current.metageneration) !== p.ifMetagenerationMatch) {
    throw conditionNotMet();
  }
  if (p.ifGenerationNotMatch !== undefined && current.generation === p.ifGenerationNotMatch)
    throw notModified();
  if (
    p.ifMetagenerationNotMatch !== undefined &&
    String(current.metageneration) === p.ifMetagenerationNotMatch
  ) {
    throw notModified();
  }
}

function dropUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
