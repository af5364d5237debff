// The restore's view of Cloud Storage (backups) and BigQuery (target datasets), on the real clients.
import type { BigQuery } from '@google-cloud/bigquery';
import type { Storage } from '@google-cloud/storage';
import {
  classifyError,
  findStoredBackup,
  listOriginalLayoutTables,
  listStoredBackups,
  parseGcsUri,
} from '@bqbr/shared';
import type { BackupSource, TargetDatasets } from './restore.js';

export function storageBackupSource(storage: Storage): BackupSource {
  return {
    find: (uri, projectId, timestamp) => findStoredBackup(storage, uri, projectId, timestamp),
    async timestamps(uri, projectId) {
      const backups = await listStoredBackups(storage, uri, { projectId });
      return backups.map((b) => b.timestamp);
    },
    originalTables: (folder) => listOriginalLayoutTables(storage, folder),
    async manifestLocation(manifestUri) {
      const { bucket, name } = parseGcsUri(manifestUri);
      try {
        const [bytes] = await storage.bucket(bucket).file(name).download();
        const location = (JSON.parse(bytes.toString('utf8')) as { location?: unknown }).location;
        return typeof location === 'string' ? location : undefined;
      } catch (err) {
        // The worker reports a missing or unreadable manifest on its table; the dataset takes the default.
        if (classifyError(err).kind === 'retryable') throw err;
        return undefined;
      }
    },
  };
}

export function bigQueryTargetDatasets(bigquery: BigQuery): TargetDatasets {
  return {
    async ensure(ref, location) {
      const dataset = bigquery.dataset(ref.datasetId, { projectId: ref.projectId });
      const [exists] = await dataset.exists();
      if (exists) return 'existed';
      try {
        // datasets.insert in the target project (the client's own create sends its options in the body).
        await new Promise<void>((resolve, reject) =>
          bigquery.request(
            {
              method: 'POST',
              uri: '/datasets',
              projectId: ref.projectId,
              json: {
                datasetReference: { projectId: ref.projectId, datasetId: ref.datasetId },
                ...(location === undefined ? {} : { location }),
              },
            },
            (err: Error | null) => (err ? reject(err) : resolve()),
          ),
        );
        return 'created';
      } catch (err) {
        // Another delivery of the same request created it a moment ago.
        if (classifyError(err).reason === 'duplicate') return 'existed';
        throw err;
      }
    },
  };
}
