// What a restore trusts before it loads anything: `_table.json` as `_backup.json` recorded it (its MD5)
// and decodable as a table manifest, and every data file it lists at home with its size and checksums.
import {
  PermanentError,
  TableManifest,
  ValidationError,
  decode,
  type BackupFileEntry,
  type BqbrTableBackup,
} from '@bqbr/shared';
import { filePath, type TableHome } from './table-home.js';
import { md5Base64 } from './transfer.js';

/** Reads and decodes `_table.json`, refusing one whose MD5 differs from the one `_backup.json` recorded. */
export async function readTableManifest(home: TableHome, backup: BqbrTableBackup): Promise<TableManifest> {
  const uri = backup.manifestUri;
  const bytes = await home.read(backup.manifestPath);
  if (bytes === undefined) throw new PermanentError('notFound', `manifest ${uri} not found`);
  if (backup.manifestMd5 !== undefined) {
    const actual = md5Base64(bytes);
    if (actual !== backup.manifestMd5)
      throw new PermanentError(
        'checksumMismatch',
        `manifest ${uri} has MD5 ${actual}, but _backup.json recorded ${backup.manifestMd5}: it was changed or damaged`,
      );
  }
  try {
    return decode(TableManifest, JSON.parse(bytes.toString('utf8')), uri);
  } catch (err) {
    const detail = err instanceof ValidationError ? err.message : `not JSON: ${(err as Error).message}`;
    throw new PermanentError('invalid', `manifest ${uri} is not a bqbr table manifest: ${detail}`);
  }
}

/** Every file the manifest lists must be at home with its size and checksums: nothing partial is loaded. */
export async function checkDataFiles(home: TableHome, files: readonly BackupFileEntry[]): Promise<void> {
  const stored = await home.objectsOf(files);
  for (const file of files) {
    const path = filePath(home, file);
    checkAgainstManifest(home.store.uri(path), stored.get(path), file);
  }
}

/**
 * A stored data file against its manifest entry: a missing one fails with `notFound`, one whose size or
 * a checksum both sides know differs with `checksumMismatch` naming both values.
 */
function checkAgainstManifest(
  uri: string,
  found: { readonly bytes: number; readonly md5?: string; readonly crc32c?: string } | undefined,
  entry: BackupFileEntry,
): void {
  if (found === undefined) throw new PermanentError('notFound', `data file ${uri} is missing`);
  const problems: string[] = [];
  if (found.bytes !== entry.bytes) problems.push(`size ${found.bytes} bytes, manifest ${entry.bytes}`);
  if (entry.md5 !== undefined && found.md5 !== undefined && found.md5 !== entry.md5)
    problems.push(`MD5 ${found.md5}, manifest ${entry.md5}`);
  if (entry.crc32c !== undefined && found.crc32c !== undefined && found.crc32c !== entry.crc32c)
    problems.push(`CRC32C ${found.crc32c}, manifest ${entry.crc32c}`);
  if (problems.length > 0)
    throw new PermanentError(
      'checksumMismatch',
      `data file ${uri} does not match its manifest: ${problems.join('; ')}`,
    );
}
