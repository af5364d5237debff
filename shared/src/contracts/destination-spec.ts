// Where a backup lives (and a restore reads from), as the services pass it to each other in task
// messages and keep it in Firestore: one definition, the TypeScript type derived from the codec.
// Requests name it with gcsOptions, s3Options, azureOptions or fileOptions (see destinations.ts);
// credentials are never part of it: they come from the services' environment (docs/contracts.md).
import * as t from 'io-ts';

export const DestinationSpec = t.union(
  [
    t.type({ kind: t.literal('gcs'), uri: t.string }),
    t.intersection([
      t.type({ kind: t.literal('s3'), bucket: t.string }),
      t.partial({
        prefix: t.string,
        region: t.string,
        endpoint: t.string,
        forcePathStyle: t.boolean,
        storageClass: t.string,
        serverSideEncryption: t.keyof({ AES256: null, 'aws:kms': null }),
        kmsKeyId: t.string,
      }),
    ]),
    t.intersection([
      t.type({ kind: t.literal('azure'), container: t.string }),
      t.partial({
        accountUrl: t.string,
        prefix: t.string,
        accessTier: t.keyof({ Hot: null, Cool: null, Cold: null, Archive: null }),
      }),
    ]),
    t.type({ kind: t.literal('file'), path: t.string }),
  ],
  'DestinationSpec',
);
export type DestinationSpec = t.TypeOf<typeof DestinationSpec>;
