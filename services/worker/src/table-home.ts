// A table's home: the store its backup lives in (Cloud Storage, S3, Azure Blob Storage, a directory) and
// the table folder in it. Every read and write of a backup goes through the home's BackupStore: the data
// files (listed with their sizes and checksums) and `_table.json`.
import { Readable } from 'node:stream';
import {
  PermanentError,
  TABLE_MANIFEST,
  type BackupFileEntry,
  type BackupStore,
  type DestinationSpec,
  type StoredEntry,
  type TableHome as TableHomeSpec,
  type TableManifest,
} from '@bqbr/shared';

/** The store a destination names (the wiring keeps one per place). */
export type StoreFactory = (where: DestinationSpec) => BackupStore;

export interface TableHome {
  readonly store: BackupStore;
  /** The table folder's path in the store, ending with '/'. */
  readonly folder: string;
  /** The table folder's `_table.json`: its path in the store and its URI. */
  readonly manifestPath: string;
  readonly manifestUri: string;
  /** Every `data-*` file in the table folder (a manifest's and any others), as manifest entries, in name order. */
  dataFiles(): Promise<BackupFileEntry[]>;
  /** Every object in the table folder, by its path in the store. */
  objects(): Promise<ReadonlyMap<string, StoredEntry>>;
  /**
   * Every object in the folders a manifest's files are in (the table folder, and the folders of the backups
   * an incremental references files from), by its path in the store.
   */
  objectsOf(files: readonly BackupFileEntry[]): Promise<ReadonlyMap<string, StoredEntry>>;
  /** A small object's bytes (a manifest), or undefined when there is none. */
  read(path: string): Promise<Buffer | undefined>;
  /** Writes the table folder's `_table.json` (replacing one there); its MD5. */
  writeManifest(manifest: TableManifest): Promise<string>;
  /** Removes what interrupted puts left in the table folder; only once no put of the task may still run. */
  clearIncomplete(): Promise<number>;
}

/**
 * Where a manifest's file is in the store: in the table folder, or (an incremental backup's reference to a
 * file it did not write) in the folder the entry names (docs/contracts.md, "Incremental backups").
 */
export const filePath = (home: Pick<TableHome, 'folder'>, file: BackupFileEntry): string =>
  `${file.folder ?? home.folder}${file.name}`;

/** A stored file as a manifest entry: its name in `folder`, its URI and its checksums. */
export const fileEntry = (store: BackupStore, folder: string, stored: StoredEntry): BackupFileEntry => ({
  name: stored.path.slice(folder.length),
  uri: store.uri(stored.path),
  bytes: stored.bytes,
  ...(stored.md5 === undefined ? {} : { md5: stored.md5 }),
  ...(stored.crc32c === undefined ? {} : { crc32c: stored.crc32c }),
});

export function openTableHome(spec: TableHomeSpec, stores: StoreFactory): TableHome {
  const store = stores(spec.home);
  const folder = `${spec.tablePath.replace(/\/+$/, '')}/`;
  const manifestPath = `${folder}${TABLE_MANIFEST}`;
  return {
    store,
    folder,
    manifestPath,
    manifestUri: store.uri(manifestPath),
    async dataFiles() {
      return (await store.list(`${folder}data-`)).map((stored) => fileEntry(store, folder, stored));
    },
    async objects() {
      return new Map((await store.list(folder)).map((stored) => [stored.path, stored]));
    },
    async objectsOf(files) {
      const folders = [...new Set([folder, ...files.map((file) => file.folder ?? folder)])];
      const listed = await Promise.all(folders.map((f) => store.list(f)));
      return new Map(listed.flat().map((stored) => [stored.path, stored]));
    },
    async read(path) {
      let body: Readable;
      try {
        body = await store.get(path);
      } catch (err) {
        // Asked for directly rather than stat'ed first: one request where the manifest exists.
        if (err instanceof PermanentError && err.reason === 'notFound') return undefined;
        throw err;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks);
    },
    async writeManifest(manifest) {
      const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      const result = await store.put(manifestPath, Readable.from([body]), {
        contentType: 'application/json',
        expectedBytes: body.length,
      });
      return result.md5;
    },
    clearIncomplete: () => store.clearIncomplete(folder),
  };
}
