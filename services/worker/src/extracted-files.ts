// The files an extract job wrote, and only those (docs/contracts.md, "Storage layout"). BigQuery numbers
// the files of a wildcard URI from 000000000000 up and reports how many it wrote to each URI
// (statistics.extract.destinationUriFileCounts), so a table's files are exactly those names: a folder may
// hold more `data-` files (what an earlier job attempt wrote beyond this job's count), which are not part
// of the backup. Every counted file must be in the folder's listing, and a job that wrote none is refused.
import { PermanentError, type BackupFileEntry } from '@bqbr/shared';

/** The names BigQuery gives the first `count` files of a wildcard URI's last segment (`data-*.avro`). */
export function shardNames(uri: string, count: number): string[] {
  const pattern = uri.slice(uri.lastIndexOf('/') + 1);
  return Array.from({ length: count }, (_, i) => pattern.replace('*', String(i).padStart(12, '0')));
}

/**
 * The listed files the job wrote, in name order. `destinationUris` are the job's (one wildcard URI each
 * into the listed folder), `fileCounts` its statistics. Fails the task when the job reported no files,
 * or when a file it counted is not in the listing.
 */
export function filesOfJob(
  jobId: string,
  destinationUris: readonly string[],
  fileCounts: readonly number[] | undefined,
  listed: readonly BackupFileEntry[],
): BackupFileEntry[] {
  if (fileCounts === undefined || fileCounts.length !== destinationUris.length)
    throw new PermanentError(
      'fileCountMismatch',
      `extract job ${jobId} reported ${fileCounts === undefined ? 'no' : fileCounts.length} file count(s) for ${destinationUris.length} destination URI(s): the files it wrote cannot be told apart from others`,
    );
  const total = fileCounts.reduce((sum, count) => sum + count, 0);
  // BigQuery writes at least one file per wildcard URI, even for an empty table.
  if (total === 0)
    throw new PermanentError(
      'noDataFiles',
      `extract job ${jobId} wrote no file to ${destinationUris.join(', ')}: a backup without data is refused`,
    );
  const byName = new Map(listed.map((file) => [file.name, file]));
  const names = destinationUris.flatMap((uri, i) => shardNames(uri, fileCounts[i]!));
  const missing = names.filter((name) => !byName.has(name));
  if (missing.length > 0)
    throw new PermanentError(
      'fileCountMismatch',
      `extract job ${jobId} wrote ${total} file(s), but ${missing.length} of them (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}) are not in ${destinationUris.join(', ')}'s folder`,
    );
  return names.sort().map((name) => byName.get(name)!);
}
