// What a finished data task records about its files (the dispatcher sums them into the operation's summary).
import type { BackupFileEntry, TaskDoc } from '@bqbr/shared';

/** File entries a task document keeps at most (Firestore's 1 MiB limit); `_table.json` has them all. */
export const MAX_FILES_IN_TASK = 500;

/** Bytes, file count and (the first) file entries of a task whose table has `files`. */
export function fileFigures(
  files: readonly BackupFileEntry[],
): Pick<TaskDoc, 'bytes' | 'fileCount' | 'files'> {
  return {
    bytes: files.reduce((sum, f) => sum + f.bytes, 0),
    fileCount: files.length,
    files: files.slice(0, MAX_FILES_IN_TASK),
  };
}
