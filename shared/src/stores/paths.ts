// Object paths as every store accepts them: relative, '/'-separated, no empty, '.' or '..' segment, so a
// path means the same object in a bucket, a container and a directory, and can never climb out of the
// store's root.
import { PermanentError } from '../errors.js';

const BAD_SEGMENTS = new Set(['', '.', '..']);

/** The path of one object; throws PermanentError('invalid') for anything that could escape or is ambiguous. */
export function checkObjectPath(path: string): string {
  if (path === '' || path.includes('\0') || path.split('/').some((s) => BAD_SEGMENTS.has(s))) {
    throw new PermanentError('invalid', `Not a valid object path: ${JSON.stringify(path)}`);
  }
  return path;
}

/** A listing prefix: '' (everything), a folder ending with '/', or a folder plus the start of a name. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const segments = prefix.split('/');
  // The last segment is the start of a name: empty when the prefix ends with '/'.
  const folders = segments.slice(0, -1);
  const last = segments[segments.length - 1]!;
  if (prefix.includes('\0') || folders.some((s) => BAD_SEGMENTS.has(s)) || last === '.' || last === '..') {
    throw new PermanentError('invalid', `Not a valid listing prefix: ${JSON.stringify(prefix)}`);
  }
  return prefix;
}

/** A folder to list the sub-folders of: '' (the root) or a prefix ending with '/'. */
export function checkFolder(prefix: string): string {
  if (prefix !== '' && !prefix.endsWith('/')) {
    throw new PermanentError('invalid', `A folder ends with '/': ${JSON.stringify(prefix)}`);
  }
  return checkPrefix(prefix);
}

/** '' or `a/b/`: a store's own prefix inside its bucket or container. */
export function rootPrefix(prefix: string | undefined): string {
  const trimmed = (prefix ?? '').replace(/^\/+|\/+$/g, '');
  return trimmed === '' ? '' : `${checkPrefix(trimmed)}/`;
}

/** Byte order of the UTF-8 names: the order Cloud Storage, S3 and Azure list in. */
export const comparePaths = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));
