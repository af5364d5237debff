// Which files a verify task re-reads (restic's `--read-data-subset`): a file is in part n of t when a
// hash of its path mod t is n - 1, and in a percentage x% when the same hash falls in the lowest x% of
// its range. The path is the file's within the backup (`dataset/table/data-….avro`), not its bare name,
// so tables whose files share names are sampled apart; parts 1/t … t/t together cover every file.
import { createHash } from 'node:crypto';
import type { FileSubset } from '@bqbr/shared';

const RANGE = 2 ** 32;

/** The first 4 bytes of the path's SHA-256, as an unsigned integer. */
const hashOf = (path: string): number => createHash('sha256').update(path).digest().readUInt32BE(0);

/** Whether the file at `path` (within the backup) is read under `subset` (every file when absent). */
export function inSubset(path: string, subset: FileSubset | undefined): boolean {
  if (subset === undefined) return true;
  const hash = hashOf(path);
  if ('part' in subset) return hash % subset.of === subset.part - 1;
  return hash < (subset.percent / 100) * RANGE;
}
