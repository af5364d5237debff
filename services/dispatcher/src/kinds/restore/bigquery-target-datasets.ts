// The restore's TargetDatasets on BigQuery's client.
import { classifyError } from '@bqbr/shared';
import type { BigQuery } from '@google-cloud/bigquery';
import type { TargetDatasets } from './target-datasets.js';

export function bigQueryTargetDatasets(bigquery: BigQuery): TargetDatasets {
  return {
    async find(ref) {
      try {
        const response = await bigquery.dataset(ref.datasetId, { projectId: ref.projectId }).getMetadata();
        const metadata = response[0] as { location?: string };
        // A dataset created without a location is in US, BigQuery's default.
        return { location: metadata.location ?? 'US' };
      } catch (err) {
        if (classifyError(err).reason === 'notFound') return undefined;
        throw err;
      }
    },

    async create(ref, location) {
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
