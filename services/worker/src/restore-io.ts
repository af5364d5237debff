// The restore's reads and writes besides jobs, on the real clients: backup objects in Cloud Storage,
// target tables in BigQuery.
import type { BigQuery } from '@google-cloud/bigquery';
import type { Storage } from '@google-cloud/storage';
import { classifyError, gcsUri, parseGcsUri, type TableRef } from '@bqbr/shared';
import type { RestoreIO, StoredObject } from './restore-step.js';

const isReason = (err: unknown, reason: string): boolean => classifyError(err).reason === reason;

export function createRestoreIO(bigquery: BigQuery, storage: Storage): RestoreIO {
  const table = (ref: TableRef) =>
    bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).table(ref.tableId);
  return {
    async readObject(uri) {
      const { bucket, name } = parseGcsUri(uri);
      try {
        const [bytes] = await storage.bucket(bucket).file(name).download();
        return bytes;
      } catch (err) {
        if (isReason(err, 'notFound')) return undefined;
        throw err;
      }
    },
    async listObjects(prefix) {
      const { bucket, name } = parseGcsUri(prefix);
      const [files] = await storage.bucket(bucket).getFiles({ prefix: name });
      const out = new Map<string, StoredObject>();
      for (const file of files) {
        const { size, md5Hash, crc32c } = file.metadata;
        out.set(gcsUri({ bucket, name: file.name }), {
          bytes: Number(size ?? 0),
          ...(md5Hash === undefined ? {} : { md5: md5Hash }),
          ...(crc32c === undefined ? {} : { crc32c }),
        });
      }
      return out;
    },
    async getTable(ref) {
      try {
        const [metadata] = (await table(ref).getMetadata()) as unknown as [Record<string, unknown>];
        return {
          type: typeof metadata['type'] === 'string' ? metadata['type'] : 'TABLE',
          numRows: Number(metadata['numRows'] ?? 0),
        };
      } catch (err) {
        if (isReason(err, 'notFound')) return undefined;
        throw err;
      }
    },
    async createTable(ref, body) {
      try {
        await bigquery
          .dataset(ref.datasetId, { projectId: ref.projectId })
          .createTable(ref.tableId, body as never);
        return true;
      } catch (err) {
        if (isReason(err, 'duplicate')) return false;
        throw err;
      }
    },
    async patchTable(ref, body) {
      await table(ref).setMetadata(body);
    },
    async deleteTable(ref) {
      try {
        await table(ref).delete();
      } catch (err) {
        if (!isReason(err, 'notFound')) throw err;
      }
    },
  };
}
