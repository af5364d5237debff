// The stores behind BackupStore, and the one a destination names.
import type { Storage } from '@google-cloud/storage';
import { azureStore } from './azure.js';
import { checkEndpoint, endpointAllowlist } from './endpoints.js';
import { fileRootsFrom, fileStore } from './file.js';
import { gcsStore } from './gcs.js';
import { s3Store } from './s3.js';
import type { BackupStore, DestinationSpec } from './types.js';

export * from './types.js';
export { gcsStore, type GcsStoreOptions } from './gcs.js';
export { s3Store, type S3StoreOptions } from './s3.js';
export {
  azureStore,
  AZURE_ACCOUNT_KEY,
  AZURE_CONNECTION_STRING,
  type AzureAccessTier,
  type AzureStoreOptions,
} from './azure.js';
export { fileStore, fileRootsFrom, FILE_ROOTS_VARIABLE, TEMP_MARKER } from './file.js';
export { destinationFromUri, S3_ENDPOINT_VARIABLE } from './uri.js';
export { coversRetention, lockingStore, stillLocked } from './retention-lock.js';
export {
  checkEndpoint,
  endpointAllowlist,
  AZURE_ACCOUNT_URLS_VARIABLE,
  DEFAULT_AZURE_ACCOUNT_URLS,
  DEFAULT_S3_ENDPOINTS,
  ENDPOINT_VARIABLES,
  S3_ENDPOINTS_VARIABLE,
  type EndpointAllowlist,
} from './endpoints.js';

export interface StoreDeps {
  /** The Cloud Storage client (pointed at the emulator locally). */
  readonly storage: Storage;
  /**
   * Credentials for Azure, the roots file destinations may use (`BQBR_FILE_ROOTS`) and the endpoints
   * requests may name (`BQBR_S3_ENDPOINTS`, `BQBR_AZURE_ACCOUNT_URLS`); S3's credentials come from the
   * AWS SDK's chain.
   */
  readonly env: Readonly<Record<string, string | undefined>>;
}

/**
 * The store a destination names. Configuration errors throw a PermanentError('invalid' or 'accessDenied'),
 * an endpoint outside the allowlists among them, before anything connects.
 */
export function createStore(destination: DestinationSpec, deps: StoreDeps): BackupStore {
  checkEndpoint(destination, endpointAllowlist(deps.env));
  switch (destination.kind) {
    case 'gcs':
      return gcsStore(deps.storage, destination.uri);
    case 's3': {
      const { kind: _kind, ...options } = destination;
      return s3Store(options);
    }
    case 'azure': {
      const { kind: _kind, ...options } = destination;
      return azureStore(options, deps.env);
    }
    case 'file':
      return fileStore(process.cwd(), destination.path, fileRootsFrom(deps.env));
  }
}

/**
 * `storeFor` with the `size` most recently used stores kept: one client (and its connections) per place
 * instead of one per call.
 */
export function keptStores(
  storeFor: (where: DestinationSpec) => BackupStore,
  size: number,
): (where: DestinationSpec) => BackupStore {
  const stores = new Map<string, BackupStore>();
  return (where) => {
    // Destinations are flat objects: their sorted fields name them.
    const key = JSON.stringify(where, Object.keys(where).sort());
    let store = stores.get(key);
    if (store) {
      stores.delete(key);
    } else {
      store = storeFor(where);
      if (stores.size >= size) stores.delete(stores.keys().next().value!);
    }
    // Most recently used last.
    stores.set(key, store);
    return store;
  };
}
