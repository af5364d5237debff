import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { conflict, noSuchBucket, noSuchObject } from './errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import { ObjectIndex } from './object-index.js';
import type { ObjectRetention } from './retention.js';

/** What is persisted per object (`<hash>.json`); the API resource is derived from it. */
export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  readonly generation: string;
  readonly metageneration: number;
  readonly size: number;
  readonly crc32c: string;
  readonly md5Hash?: string;
  readonly componentCount?: number;
  readonly contentType: string;
  readonly contentEncoding?: string;
  readonly contentDisposition?: string;
  readonly contentLanguage?: string;
  readonly cacheControl?: string;
  readonly customTime?: string;
  readonly storageClass: string;
  readonly metadata?: Readonly<Record<string, string>>;
  /** Object Retention Lock: neither deleted nor replaced before `retainUntilTime` (retention.ts). */
  readonly retention?: ObjectRetention;
  readonly timeCreated: string;
  readonly updated: string;
}

/** What is persisted per bucket (`bucket.json`). */
export interface StoredBucket {
  readonly name: string;
  readonly project: string;
  readonly location: string;
  readonly storageClass: string;
  readonly metageneration: number;
  readonly labels?: Readonly<Record<string, string>>;
  /** Other settable bucket fields (versioning, cors, lifecycle...), kept and returned verbatim. */
  readonly extra?: Readonly<Record<string, unknown>>;
  readonly timeCreated: string;
  readonly updated: string;
}

interface BucketState {
  meta: StoredBucket;
  readonly objects: ObjectIndex<StoredObject>;
  /** Commits between their bucket lookup and their index update: the bucket is not empty yet. */
  committing: number;
}

/**
 * Buckets and objects on disk, with every bucket's live objects indexed in memory.
 *
 * Layout under the data dir:
 *   buckets/<bucket>/bucket.json
 *   buckets/<bucket>/objects/<h0h1>/<h>.json              metadata of the object whose name hashes to h
 *   buckets/<bucket>/objects/<h0h1>/<h>.<generation>.data its bytes
 *   uploads/<uploadId>.json, uploads/<uploadId>.data      resumable sessions
 *   tmp/                                                  files being written (emptied at start-up)
 * The metadata file is the commit point: data is renamed into place first, then the metadata
 * replaced atomically, then the previous generation's data removed. Start-up deletes data files no
 * metadata points at, so a crash at any step leaves either the old object or the new one.
 */
export class ObjectStore {
  private readonly buckets = new Map<string, BucketState>();
  private readonly locks = new KeyedMutex();
  private lastGeneration = 0;

  private constructor(readonly dataDir: string) {}

  static async open(dataDir: string): Promise<ObjectStore> {
    const store = new ObjectStore(dataDir);
    await rm(store.tmpDir, { recursive: true, force: true });
    await Promise.all(
      [store.bucketsDir, store.tmpDir, store.uploadsDir].map((d) => mkdir(d, { recursive: true })),
    );
    for (const name of await readdir(store.bucketsDir)) await store.loadBucket(name);
    return store;
  }

  get uploadsDir(): string {
    return join(this.dataDir, 'uploads');
  }

  private get bucketsDir(): string {
    return join(this.dataDir, 'buckets');
  }

  private get tmpDir(): string {
    return join(this.dataDir, 'tmp');
  }

  /** A fresh path in the data dir's temp folder (same filesystem, so a rename into place is atomic). */
  tempPath(): string {
    return join(this.tmpDir, randomUUID());
  }

  /** Generations are microseconds since the epoch, strictly increasing within this data dir. */
  nextGeneration(): string {
    this.lastGeneration = Math.max(Date.now() * 1000, this.lastGeneration + 1);
    return String(this.lastGeneration);
  }

  // ---- buckets

  listBuckets(project: string): StoredBucket[] {
    return [...this.buckets.values()]
      .map((b) => b.meta)
      .filter((b) => b.project === project)
      .sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  getBucket(name: string): StoredBucket {
    return this.bucketState(name).meta;
  }

  async createBucket(meta: StoredBucket): Promise<StoredBucket> {
    return this.locks.run(bucketKey(meta.name), async () => {
      if (this.buckets.has(meta.name)) {
        throw conflict('Your previous request to create the named bucket succeeded and you already own it.');
      }
      await mkdir(join(this.bucketDir(meta.name), 'objects'), { recursive: true });
      await this.writeJsonAtomic(join(this.bucketDir(meta.name), 'bucket.json'), meta);
      this.buckets.set(meta.name, { meta, objects: new ObjectIndex(), committing: 0 });
      return meta;
    });
  }

  async updateBucket(name: string, mutate: (current: StoredBucket) => StoredBucket): Promise<StoredBucket> {
    return this.locks.run(bucketKey(name), async () => {
      const state = this.bucketState(name);
      const next = mutate(state.meta);
      await this.writeJsonAtomic(join(this.bucketDir(name), 'bucket.json'), next);
      state.meta = next;
      return next;
    });
  }

  async deleteBucket(name: string, check: (current: StoredBucket) => void): Promise<void> {
    await this.locks.run(bucketKey(name), async () => {
      const state = this.bucketState(name);
      check(state.meta);
      if (state.objects.size > 0 || state.committing > 0) {
        throw conflict('The bucket you tried to delete is not empty.');
      }
      this.buckets.delete(name);
      await rm(this.bucketDir(name), { recursive: true, force: true });
    });
  }

  // ---- objects

  objects(bucket: string): ObjectIndex<StoredObject> {
    return this.bucketState(bucket).objects;
  }

  getObject(bucket: string, name: string): StoredObject {
    const obj = this.objects(bucket).get(name);
    if (!obj) throw noSuchObject(bucket, name);
    return obj;
  }

  /**
   * Makes `dataPath` (a file in the temp folder) the live content of `bucket/name`. `build` sees the
   * current live object (to check preconditions) and returns the new metadata; it runs under the
   * object's lock, so concurrent finalizes are serialized and the last one wins.
   */
  async commitObject(
    bucket: string,
    name: string,
    dataPath: string,
    build: (current: StoredObject | undefined) => StoredObject,
  ): Promise<StoredObject> {
    return this.locks.run(objectKey(bucket, name), async () => {
      const state = this.bucketState(bucket);
      const current = state.objects.get(name);
      const next = build(current);
      const paths = this.objectPaths(bucket, name, next.generation);
      // Counted before the first await, so a concurrent deleteBucket refuses instead of racing.
      state.committing++;
      try {
        await mkdir(paths.dir, { recursive: true });
        await rename(dataPath, paths.data);
        try {
          await this.writeJsonAtomic(paths.meta, next);
        } catch (err) {
          // Not committed: the new data file would otherwise stay until the next start-up.
          await removeFile(paths.data).catch(() => undefined);
          throw err;
        }
        state.objects.set(next);
      } finally {
        state.committing--;
      }
      if (current) await removeFile(this.objectPaths(bucket, name, current.generation).data);
      return next;
    });
  }

  async updateObject(
    bucket: string,
    name: string,
    mutate: (current: StoredObject) => StoredObject,
  ): Promise<StoredObject> {
    return this.locks.run(objectKey(bucket, name), async () => {
      const next = mutate(this.getObject(bucket, name));
      await this.writeJsonAtomic(this.objectPaths(bucket, name, next.generation).meta, next);
      this.objects(bucket).set(next);
      return next;
    });
  }

  async deleteObject(bucket: string, name: string, check: (current: StoredObject) => void): Promise<void> {
    await this.locks.run(objectKey(bucket, name), async () => {
      const current = this.getObject(bucket, name);
      check(current);
      const paths = this.objectPaths(bucket, name, current.generation);
      await removeFile(paths.meta);
      this.objects(bucket).delete(name);
      await removeFile(paths.data);
    });
  }

  /**
   * Opens the live object's data. A concurrent replace may remove the file between the lookup and
   * the open; the lookup is then repeated. The open handle stays valid after a later replace.
   */
  async openObject(bucket: string, name: string): Promise<{ object: StoredObject; file: FileHandle }> {
    for (;;) {
      const object = this.getObject(bucket, name);
      try {
        const file = await open(this.objectPaths(bucket, name, object.generation).data, 'r');
        return { object, file };
      } catch (err) {
        if (!isNotFound(err) || this.objects(bucket).get(name) === object) throw err;
      }
    }
  }

  /** Copies the live object's bytes to a temp file (for copy/rewrite); retries like `openObject`. */
  async copyObjectData(bucket: string, name: string): Promise<{ object: StoredObject; tempPath: string }> {
    const tempPath = this.tempPath();
    for (;;) {
      const object = this.getObject(bucket, name);
      try {
        await copyFile(this.objectPaths(bucket, name, object.generation).data, tempPath);
        return { object, tempPath };
      } catch (err) {
        if (!isNotFound(err) || this.objects(bucket).get(name) === object) throw err;
      }
    }
  }

  async writeJsonAtomic(path: string, value: unknown): Promise<void> {
    const temp = this.tempPath();
    try {
      await writeFile(temp, JSON.stringify(value));
      await rename(temp, path);
    } catch (err) {
      await removeFile(temp).catch(() => undefined);
      throw err;
    }
  }

  private bucketState(name: string): BucketState {
    const state = this.buckets.get(name);
    if (!state) throw noSuchBucket();
    return state;
  }

  private bucketDir(bucket: string): string {
    return join(this.bucketsDir, bucket);
  }

  private objectPaths(
    bucket: string,
    name: string,
    generation: string,
  ): { dir: string; meta: string; data: string } {
    const hash = hashName(name);
    const dir = join(this.bucketDir(bucket), 'objects', hash.slice(0, 2));
    return { dir, meta: join(dir, `${hash}.json`), data: join(dir, `${hash}.${generation}.data`) };
  }

  private async loadBucket(name: string): Promise<void> {
    const dir = this.bucketDir(name);
    let meta: StoredBucket;
    try {
      meta = JSON.parse(await readFile(join(dir, 'bucket.json'), 'utf8')) as StoredBucket;
    } catch (err) {
      // A folder without bucket.json is a bucket whose creation or deletion was interrupted.
      if (isNotFound(err)) return rm(dir, { recursive: true, force: true });
      throw err;
    }
    const objects: StoredObject[] = [];
    const objectsDir = join(dir, 'objects');
    for (const shard of await readdir(objectsDir)) {
      const files = await readdir(join(objectsDir, shard));
      const metaFiles = files.filter((f) => f.endsWith('.json'));
      const loaded = await mapLimit(metaFiles, 64, async (f) => {
        return JSON.parse(await readFile(join(objectsDir, shard, f), 'utf8')) as StoredObject;
      });
      const live = new Set(loaded.map((o) => `${hashName(o.name)}.${o.generation}.data`));
      for (const f of files) {
        if (f.endsWith('.data') && !live.has(f)) await removeFile(join(objectsDir, shard, f));
      }
      for (const o of loaded) this.lastGeneration = Math.max(this.lastGeneration, Number(o.generation));
      objects.push(...loaded);
    }
    const index = new ObjectIndex<StoredObject>();
    index.load(objects);
    this.buckets.set(name, { meta, objects: index, committing: 0 });
  }
}

/** File names derive from a hash of the object name: names can be 1024 bytes and contain any character. */
function hashName(name: string): string {
  return createHash('sha1').update(name).digest('hex');
}

const bucketKey = (bucket: string): string => `b/${bucket}`;
const objectKey = (bucket: string, name: string): string => `o/${bucket}/${name}`;

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
}

async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (!isNotFound(err)) throw err;
  });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
