import { randomBytes } from 'node:crypto';
import { copyFile, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { hashFilePrefix, ObjectHasher } from './checksums.js';
import { notFound } from './errors.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { ObjectStore, StoredObject } from './object-store.js';
import type { Preconditions } from './preconditions.js';
import type { ObjectMetadataInput } from './resources.js';

/** A resumable upload session, persisted as `uploads/<id>.json` next to its bytes in `uploads/<id>.data`. */
export interface UploadSession {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly metadata: ObjectMetadataInput;
  /** From `X-Upload-Content-Type`, used when the metadata has no contentType. */
  readonly contentType?: string;
  readonly preconditions: Preconditions;
  readonly created: string;
  /** The object the session produced, once finalized: later status queries answer with it. */
  readonly result?: StoredObject;
}

const SESSION_ID = /^[0-9a-f]{32}$/;

/** Resumable sessions on disk, so they survive an emulator restart; one request at a time per session. */
export class UploadSessions {
  private readonly locks = new KeyedMutex();
  /** Hash state over each running session's persisted bytes, to avoid re-reading them per chunk. */
  private readonly hashers = new Map<string, ObjectHasher>();

  constructor(private readonly store: ObjectStore) {}

  async create(fields: Omit<UploadSession, 'id' | 'created'>): Promise<UploadSession> {
    const session: UploadSession = {
      ...fields,
      id: randomBytes(16).toString('hex'),
      created: new Date().toISOString(),
    };
    await this.store.writeJsonAtomic(this.metaPath(session.id), session);
    return session;
  }

  /** Runs `task` with the session loaded; requests to one session are serialized. */
  async withSession<T>(id: string, task: (session: UploadSession) => Promise<T>): Promise<T> {
    if (!SESSION_ID.test(id)) throw noSuchSession();
    return this.locks.run(id, async () => {
      let session: UploadSession;
      try {
        session = JSON.parse(await readFile(this.metaPath(id), 'utf8')) as UploadSession;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw noSuchSession();
        throw err;
      }
      return task(session);
    });
  }

  dataPath(id: string): string {
    return join(this.store.uploadsDir, `${id}.data`);
  }

  async persistedBytes(id: string): Promise<number> {
    try {
      return (await stat(this.dataPath(id))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
  }

  /** A hasher positioned at `size` bytes: the running one, or rebuilt from disk (after a restart). */
  async hasherAt(id: string, size: number): Promise<ObjectHasher> {
    const running = this.hashers.get(id);
    if (running?.size === size) return running;
    const hasher = size === 0 ? new ObjectHasher() : await hashFilePrefix(this.dataPath(id), size);
    this.hashers.set(id, hasher);
    return hasher;
  }

  /**
   * Finalization hard-links the session's bytes into the bucket; after a crash before the session
   * recorded its result, the file may still be shared with a live object. Appending to it then would
   * change that object, so such a file is copied first.
   */
  async detachData(id: string): Promise<void> {
    const path = this.dataPath(id);
    const links = await stat(path).then(
      (s) => s.nlink,
      () => 1,
    );
    if (links <= 1) return;
    const temp = this.store.tempPath();
    await copyFile(path, temp);
    await rename(temp, path);
  }

  /** Drops the in-memory hash state (it may no longer match the file, e.g. after a failed write). */
  forgetHasher(id: string): void {
    this.hashers.delete(id);
  }

  /** Records the session's object; its bytes (now also the object's) are then dropped. */
  async complete(session: UploadSession, result: StoredObject): Promise<void> {
    this.hashers.delete(session.id);
    await this.store.writeJsonAtomic(this.metaPath(session.id), { ...session, result });
    await removeFile(this.dataPath(session.id));
  }

  async remove(id: string): Promise<void> {
    this.hashers.delete(id);
    for (const path of [this.metaPath(id), this.dataPath(id)]) await removeFile(path);
  }

  private metaPath(id: string): string {
    return join(this.store.uploadsDir, `${id}.json`);
  }
}

const noSuchSession = () => notFound('No such upload session.');

async function removeFile(path: string): Promise<void> {
  await unlink(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code !== 'ENOENT') throw err;
  });
}
