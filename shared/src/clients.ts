// The Google Cloud clients both services use, pointed at the local emulators when their variables are set
// (README.md, "Local stack") and at Google Cloud otherwise.
import { BigQuery } from '@google-cloud/bigquery';
import { Firestore } from '@google-cloud/firestore';
import { PubSub } from '@google-cloud/pubsub';
import { Storage } from '@google-cloud/storage';
import { PassThroughClient } from 'google-auth-library';
import { crc32cGenerator } from './crc32c.js';
import type { Env } from './env.js';

export interface Clients {
  readonly bigquery: BigQuery;
  readonly storage: Storage;
  readonly pubsub: PubSub;
  readonly firestore: Firestore;
}

/**
 * Builds the clients from `env` (not only `process.env`, so a test can point them at its own stack).
 * `PUBSUB_EMULATOR_HOST` and `FIRESTORE_EMULATOR_HOST` are `host:port`; `BIGQUERY_EMULATOR_HOST` and
 * `STORAGE_EMULATOR_HOST` are URLs. The emulators take no credentials.
 */
export function createClients(env: Env, projectId: string): Clients {
  const bigqueryHost = nonEmpty(env['BIGQUERY_EMULATOR_HOST']);
  const storageHost = nonEmpty(env['STORAGE_EMULATOR_HOST']);
  const pubsubHost = nonEmpty(env['PUBSUB_EMULATOR_HOST']);
  const firestoreHost = nonEmpty(env['FIRESTORE_EMULATOR_HOST']);
  return {
    bigquery: bigqueryHost
      ? new BigQuery({ projectId, apiEndpoint: bigqueryHost, authClient: new PassThroughClient() })
      : new BigQuery({ projectId }),
    // With a custom endpoint the Storage client sends no credentials (useAuthWithCustomEndpoint is false).
    // Downloads are validated with a CRC32C several times faster than the client's own.
    storage: new Storage({
      projectId,
      crc32cGenerator,
      ...(storageHost ? { apiEndpoint: storageHost } : {}),
    }),
    // An apiEndpoint that is not *.googleapis.com puts the client in emulator mode (plain gRPC, no auth).
    pubsub: pubsubHost ? new PubSub({ projectId, apiEndpoint: pubsubHost }) : new PubSub({ projectId }),
    firestore: new Firestore({
      projectId,
      // Optional fields of the state documents are often undefined: leave them out instead of failing.
      ignoreUndefinedProperties: true,
      // ssl: false is how the client recognises the emulator (it then sends `Bearer owner`).
      ...(firestoreHost ? { host: firestoreHost, ssl: false } : {}),
    }),
  };
}

/** Closes the long-lived connections (gRPC channels), for graceful shutdown. */
export async function closeClients(clients: Clients): Promise<void> {
  await Promise.allSettled([clients.pubsub.close(), clients.firestore.terminate()]);
}

const nonEmpty = (value: string | undefined): string | undefined => (value ? value : undefined);
