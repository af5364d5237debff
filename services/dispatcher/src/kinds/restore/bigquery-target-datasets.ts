// The restore's TargetDatasets (and a verify's scratch datasets) on BigQuery's client.
import { classifyError } from '@bqbr/shared';
import type { BigQuery } from '@google-cloud/bigquery';
import type { DrillDatasets } from '../verify/restore-drill.js';
import type { TargetDatasets } from './target-datasets.js';

export function bigQueryTargetDatasets(bigquery: BigQuery): DrillDatasets & TargetDatasets {
  return {
    async find(ref) {
      try {
        const response = await bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).getMetadata();
        const metadata = response[0] as { location?: string; creationTime?: string | number };
        // A dataset created without a location is in US, BigQuery's default.
        return {
          location: metadata.location ?? 'US',
          ...(metadata.creationTime === undefined ? {} : { creationTime: Number(metadata.creationTime) }),
        };
      } catch (err) {
        if (classifyError(err).reason === 'notFound') return undefined;
        throw err;
      }
    },

    async create(ref, location, settings = {}) {
      try {
        // datasets.insert in the target project (the client's own create sends its options in the body).
        await new Promise<void>((resolve, reject) =>
          bigquery.request(
            {
              method: 'POST',
              uri: '/datasets',
              projectId: ref.projectId,
              json: {
                ...settings,
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

    async setAccess(ref, access) {
      await bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).setMetadata({ access });
    },

    async delete(ref) {
      try {
        await bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).delete({ force: true });
      } catch (err) {
        if (classifyError(err).reason !== 'notFound') throw err;
      }
    },
  };
}
