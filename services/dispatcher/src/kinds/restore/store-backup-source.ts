// The restore's BackupSource on the real stores (Cloud Storage, S3, Azure Blob Storage, a filesystem).
import {
  classifyError,
  findStoredBackup,
  listOriginalLayoutTables,
  listStoredBackups,
  keptStores,
  type BackupStore,
  type DestinationSpec,
} from '@bqbr/shared';
import type { Readable } from 'node:stream';
import type { BackupSource } from './backup-source.js';

/** Backups read from the store each destination names; `storeFor` makes the store (see createStore). */
export function storeBackupSource(storeFor: (where: DestinationSpec) => BackupStore): BackupSource {
  // A dispatcher restores from a few places: their stores (each with a client and connections) are kept.
  const storeOf = keptStores(storeFor, 16);
  return {
    find: (where, projectId, timestamp) => findStoredBackup(storeOf(where), projectId, timestamp),
    async timestamps(where, projectId) {
      const backups = await listStoredBackups(storeOf(where), { projectId });
      return backups.map((b) => b.timestamp);
    },
    originalTables: (where, folderPath) => listOriginalLayoutTables(storeOf(where), folderPath),
    async manifestLocation(where, manifestPath) {
      let text: string;
      try {
        text = await readText(await storeOf(where).get(manifestPath));
      } catch (err) {
        // The worker reports a missing or unreadable manifest on its table; the dataset takes the default.
        if (classifyError(err).kind === 'retryable') throw err;
        return undefined;
      }
      try {
        const location = (JSON.parse(text) as { location?: unknown } | null)?.location;
        return typeof location === 'string' ? location : undefined;
      } catch {
        // Not JSON: unreadable, like a missing manifest (a retry would read the same bytes).
        return undefined;
      }
    },
  };
}

async function readText(stream: Readable): Promise<string> {
  return Buffer.concat((await stream.toArray()) as Buffer[]).toString('utf8');
}
