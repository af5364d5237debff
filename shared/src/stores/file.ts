// Backups in a directory of a local or network filesystem. The directory must lie inside one of the
// roots the operator allowed (BQBR_FILE_ROOTS), after symlinks are resolved, and no object path may lead
// out of it. A put writes a temporary file beside its target, syncs it, checks its size and re-read
// digest, and renames it into place, so the object appears whole or not at all.
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  lstat,
  mkdir,
  open,
  readdir,
  realpath,
  rename,
  rmdir,
  stat,
  unlink,
  type FileHandle,
} from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import { PermanentError, RetryableError } from '../errors.js';
import type { BackupStore, PutOptions, PutResult, StoredEntry } from './types.js';
import { checkFolder, checkObjectPath, checkPrefix, comparePaths } from './paths.js';
import { permanent, retryable, storeError, type ErrorShape } from './store-errors.js';
import { checkedDownload, ExpectationCheck, Tally } from './streams.js';

/** The variable naming the directories file destinations may use, ':'-separated absolute paths. */
export const FILE_ROOTS_VARIABLE = 'BQBR_FILE_ROOTS';

/** Temporary files of puts in progress (or interrupted) carry this in their names; listings skip them. */
export const TEMP_MARKER = '.bqbr-tmp-';

/** The allowed roots from `BQBR_FILE_ROOTS`; none when it is unset (file destinations are then refused). */
export function fileRootsFrom(env: Readonly<Record<string, string | undefined>>): string[] {
  const roots = (env[FILE_ROOTS_VARIABLE] ?? '').split(':').filter((r) => r !== '');
  const relativeRoot = roots.find((r) => !isAbsolute(r));
  if (relativeRoot !== undefined) {
    throw new PermanentError('invalid', `${FILE_ROOTS_VARIABLE} holds a relative path: ${relativeRoot}`);
  }
  return roots;
}

/**
 * A store in the directory `path` (resolved against `root` when relative), which must lie inside one of
 * `allowedRoots` once symlinks are resolved. The directory is created by the first put; reads of a
 * directory that does not exist find nothing. Object paths are checked again on every call.
 */
export function fileStore(root: string, path: string, allowedRoots: readonly string[]): BackupStore {
  const directory = resolve(root, path);
  const objectUri = (objectPath: string): string => pathToFileURL(join(directory, objectPath)).href;
  const fail = (err: unknown, action: string, objectPath: string): Error =>
    storeError(err, `${action} ${objectUri(objectPath)}`, fileShape);

  let resolved: string | undefined;
  /** The directory's real path, checked against the allowed roots; undefined if it does not exist. */
  async function base(create: boolean): Promise<string | undefined> {
    if (resolved !== undefined) return resolved;
    const realRoots = await realRootsOf(allowedRoots);
    if (realRoots.length === 0) {
      throw new PermanentError(
        'accessDenied',
        `File destinations are disabled: ${FILE_ROOTS_VARIABLE} names no existing directory`,
      );
    }
    // Check the deepest existing ancestor before creating anything below it.
    const existing = await deepestExisting(directory);
    const realExisting = await realpath(existing);
    if (!realRoots.some((r) => isInside(r, realExisting))) throw outsideRoots(directory);
    if (existing !== directory) {
      if (!create) return undefined;
      await mkdir(directory, { recursive: true });
    }
    const real = await realpath(directory);
    if (!realRoots.some((r) => isInside(r, real))) throw outsideRoots(directory);
    if (!(await stat(real)).isDirectory()) {
      throw new PermanentError('invalid', `${directory} is not a directory`);
    }
    resolved = real;
    return real;
  }

  /** The real path of an existing object (or folder), or undefined; throws if it leads out of the store. */
  async function existing(dir: string, objectPath: string): Promise<string | undefined> {
    let real: string;
    try {
      real = await realpath(join(dir, ...objectPath.split('/')));
    } catch (err) {
      // ENOTDIR: a file where a folder of the path would be.
      if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
      throw err;
    }
    if (!isInside(dir, real)) throw escapes(objectPath);
    return real;
  }

  /** Creates the folders of `objectPath` one by one, refusing any that (as a symlink) leads out. */
  async function parentFor(dir: string, objectPath: string): Promise<string> {
    let current = dir;
    for (const segment of objectPath.split('/').slice(0, -1)) {
      const next = join(current, segment);
      try {
        await mkdir(next);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const real = await realpath(next);
      if (!isInside(dir, real)) throw escapes(objectPath);
      if (!(await stat(real)).isDirectory()) {
        throw new PermanentError('invalid', `${objectUri(objectPath)}: ${segment} is not a folder`);
      }
      current = real;
    }
    return current;
  }

  return {
    kind: 'file',
    uri: objectUri,

    async put(objectPath: string, body: Readable, put?: PutOptions): Promise<PutResult> {
      if (put?.retention !== undefined) throw cannotLock(objectUri(objectPath));
      if (checkObjectPath(objectPath).includes(TEMP_MARKER)) {
        throw new PermanentError('invalid', `${objectUri(objectPath)}: ${TEMP_MARKER} marks temporary files`);
      }
      let temp: string | undefined;
      try {
        const dir = (await base(true))!;
        const name = objectPath.split('/').pop()!;
        let parent = '';
        const openTemp = async (): Promise<FileHandle> => {
          parent = await parentFor(dir, objectPath);
          temp = join(parent, `${name}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
          return open(temp, 'wx');
        };
        // Once more if a concurrent delete removed the folder (left empty) between its creation and ours.
        const handle = await openTemp().catch((err: unknown) => {
          if (!isMissing(err)) throw err;
          return openTemp();
        });
        const check = new ExpectationCheck(put, objectUri(objectPath));
        try {
          await pipeline(body, check, async (source: AsyncIterable<Buffer>) => {
            for await (const chunk of source) await handle.write(chunk);
          });
          await handle.sync();
        } finally {
          await handle.close();
        }
        const md5 = check.tally.md5();
        await verifyWritten(temp!, check.tally.bytes, md5, objectUri(objectPath));
        await rename(temp!, join(parent, name));
        temp = undefined;
        await syncDirectory(parent);
        return { bytes: check.tally.bytes, md5: md5.toString('base64') };
      } catch (err) {
        if (temp !== undefined) await unlink(temp).catch(() => undefined);
        throw fail(err, 'writing', objectPath);
      }
    },

    async get(objectPath: string): Promise<Readable> {
      checkObjectPath(objectPath);
      let handle: FileHandle | undefined;
      try {
        const dir = await base(false);
        const real = dir === undefined ? undefined : await existing(dir, objectPath);
        if (real !== undefined) handle = await open(real, 'r');
        const info = await handle?.stat();
        if (!handle || !info?.isFile()) throw notFound(objectUri(objectPath));
        // The stream owns the handle from here (and closes it).
        const stream = handle.createReadStream();
        handle = undefined;
        // A file cut short or grown while it is read fails instead of ending.
        return checkedDownload(stream, { bytes: info.size }, objectUri(objectPath), fileShape);
      } catch (err) {
        await handle?.close();
        throw fail(err, 'reading', objectPath);
      }
    },

    async stat(objectPath: string): Promise<StoredEntry | undefined> {
      checkObjectPath(objectPath);
      try {
        const dir = await base(false);
        const real = dir === undefined ? undefined : await existing(dir, objectPath);
        if (real === undefined) return undefined;
        const info = await stat(real);
        return info.isFile() ? { path: objectPath, bytes: info.size } : undefined;
      } catch (err) {
        throw fail(err, 'reading the size of', objectPath);
      }
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      checkPrefix(prefix);
      try {
        const dir = await base(false);
        if (dir === undefined) return [];
        // Walk only the folder the prefix is in.
        const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
        const start = folder === '' ? dir : await existing(dir, folder.slice(0, -1));
        if (start === undefined) return [];
        const entries: StoredEntry[] = [];
        for await (const file of walk(start, folder)) {
          if (file.path.startsWith(prefix)) entries.push(file);
        }
        return entries.sort((a, b) => comparePaths(a.path, b.path));
      } catch (err) {
        throw fail(err, 'listing', prefix);
      }
    },

    async listFolders(prefix: string): Promise<string[]> {
      checkFolder(prefix);
      try {
        const dir = await base(false);
        if (dir === undefined) return [];
        const start = prefix === '' ? dir : await existing(dir, prefix.slice(0, -1));
        if (start === undefined) return [];
        const folders: string[] = [];
        for (const item of await readdirIfDirectory(start)) {
          // Like an object store's: a folder is there while some object is under it.
          if (item.isDirectory() && (await holdsAnObject(join(start, item.name)))) {
            folders.push(`${prefix}${item.name}/`);
          }
        }
        return folders.sort(comparePaths);
      } catch (err) {
        throw fail(err, 'listing the folders of', prefix);
      }
    },

    async delete(objectPath: string): Promise<void> {
      checkObjectPath(objectPath);
      try {
        const dir = await base(false);
        if (dir === undefined) return;
        const segments = objectPath.split('/');
        const parent = segments.length > 1 ? await existing(dir, segments.slice(0, -1).join('/')) : dir;
        if (parent === undefined) return;
        await unlink(join(parent, segments[segments.length - 1]!)).catch((err: unknown) => {
          if (!isMissing(err)) throw err;
        });
        // Folders left empty go too, as they would from an object store's listing.
        for (let folder = parent; folder !== dir && isInside(dir, folder); folder = dirname(folder)) {
          if (
            !(await rmdir(folder).then(
              () => true,
              () => false,
            ))
          )
            break;
        }
      } catch (err) {
        throw fail(err, 'deleting', objectPath);
      }
    },

    lock(objectPath: string): Promise<void> {
      return Promise.reject(cannotLock(objectUri(objectPath)));
    },

    async clearIncomplete(prefix: string): Promise<number> {
      checkFolder(prefix);
      try {
        const dir = await base(false);
        if (dir === undefined) return 0;
        const folder = prefix === '' ? dir : await existing(dir, prefix.slice(0, -1));
        if (folder === undefined) return 0;
        let removed = 0;
        for (const item of await readdirIfDirectory(folder)) {
          if (!item.isFile() || !item.name.includes(TEMP_MARKER)) continue;
          await unlink(join(folder, item.name)).catch((err: unknown) => {
            if (!isMissing(err)) throw err;
          });
          removed++;
        }
        return removed;
      } catch (err) {
        throw fail(err, 'clearing temporary files in', prefix);
      }
    },
  };
}

/** A directory has no write-once lock bqbr could set (a WORM filesystem is configured outside it). */
const cannotLock = (uri: string): PermanentError =>
  new PermanentError(
    'invalid',
    `${uri}: a directory cannot hold a retention lock (write-once needs Cloud Storage, S3 or Azure)`,
  );

async function realRootsOf(roots: readonly string[]): Promise<string[]> {
  const real = await Promise.all(roots.map((r) => realpath(r).catch(() => undefined)));
  return real.filter((r): r is string => r !== undefined);
}

async function deepestExisting(path: string): Promise<string> {
  for (let current = path; ; current = dirname(current)) {
    try {
      await lstat(current);
      return current;
    } catch (err) {
      if (!isMissing(err) || dirname(current) === current) throw err;
    }
  }
}

/** Whether `path` is `dir` or lies below it (both real paths). */
function isInside(dir: string, path: string): boolean {
  const rel = relative(dir, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/** Regular files below `dir` (symlinks are not followed), with paths relative to the store. */
async function* walk(dir: string, prefix: string): AsyncGenerator<StoredEntry> {
  for (const item of await readdirIfDirectory(dir)) {
    const full = join(dir, item.name);
    if (item.isDirectory()) {
      yield* walk(full, `${prefix}${item.name}/`);
    } else if (item.isFile() && !item.name.includes(TEMP_MARKER)) {
      const info = await stat(full).catch(() => undefined);
      if (info) yield { path: `${prefix}${item.name}`, bytes: info.size };
    }
  }
}

async function holdsAnObject(dir: string): Promise<boolean> {
  for (const item of await readdirIfDirectory(dir)) {
    if (item.isFile() && !item.name.includes(TEMP_MARKER)) return true;
    if (item.isDirectory() && (await holdsAnObject(join(dir, item.name)))) return true;
  }
  return false;
}

async function readdirIfDirectory(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    // Gone meanwhile (a concurrent delete), or a file where a folder was looked for.
    if (isMissing(err) || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Re-reads what was written: the filesystem must hand back the bytes that went in. */
async function verifyWritten(path: string, bytes: number, md5: Buffer, uri: string): Promise<void> {
  const tally = new Tally();
  for await (const chunk of createReadStream(path)) tally.add(chunk as Buffer);
  if (tally.bytes !== bytes || !tally.md5().equals(md5)) {
    throw new RetryableError(
      'checksumMismatch',
      `${uri}: wrote ${bytes} bytes, read back ${tally.bytes} with a different digest`,
    );
  }
}

/** Makes the rename durable: the directory entry is synced too. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException | null)?.code === 'ENOENT';

const notFound = (uri: string): PermanentError => new PermanentError('notFound', `${uri} does not exist`);

const escapes = (objectPath: string): PermanentError =>
  new PermanentError('accessDenied', `${JSON.stringify(objectPath)} leads out of the store's directory`);

const outsideRoots = (directory: string): PermanentError =>
  new PermanentError(
    'accessDenied',
    `${directory} is not inside a directory that ${FILE_ROOTS_VARIABLE} allows`,
  );

const FS_CODES: Record<string, ErrorShape> = {
  ENOENT: permanent('notFound'),
  EACCES: permanent('accessDenied'),
  EPERM: permanent('accessDenied'),
  EROFS: permanent('accessDenied'),
  ENOTDIR: permanent('invalid'),
  EISDIR: permanent('invalid'),
  ENAMETOOLONG: permanent('invalid'),
  ELOOP: permanent('invalid'),
  ENOSPC: retryable('noSpace'),
  EDQUOT: retryable('noSpace'),
  EIO: retryable('ioError'),
  EAGAIN: retryable('ioError'),
  EBUSY: retryable('ioError'),
  ESTALE: retryable('ioError'),
};

function fileShape(err: unknown): ErrorShape | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? FS_CODES[code] : undefined;
}
