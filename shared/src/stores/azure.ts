// Backups in Azure Blob Storage as block blobs: blocks are staged with their MD5 (the service checks each
// one), a few at a time, then committed in one block list carrying the whole blob's MD5 and access tier;
// until that commit nothing is visible at the path. Credentials come only from the environment.
// Write-once blobs carry a version-level immutability policy (the container needs version-level
// immutability enabled), set with the block list's commit; GOVERNANCE is an Unlocked policy, COMPLIANCE a
// Locked one. Azure protects versions: an overwrite makes a new current version and leaves the locked one
// as a previous version (https://learn.microsoft.com/azure/storage/blobs/immutable-version-level-worm-policies).
// This store checks the policy first and refuses deletes and overwrites alike.
import type { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { PermanentError, RetryableError } from '../errors.js';
import type { BackupStore, ObjectRetention, PutOptions, PutResult, StoredEntry } from './types.js';
import { refuseIfLocked } from './retention-lock.js';
import { checkFolder, checkObjectPath, checkPrefix, comparePaths, rootPrefix } from './paths.js';
import {
  httpStatusOf,
  permanent,
  retryable,
  shapeOfStatus,
  storeError,
  type ErrorShape,
} from './store-errors.js';
import {
  checkedDownload,
  checkExpected,
  fixedParts,
  md5Of,
  MiB,
  positive,
  Tally,
  uploadConcurrently,
} from './streams.js';

export type AzureAccessTier = 'Hot' | 'Cool' | 'Cold' | 'Archive';

export interface AzureStoreOptions {
  /** `https://account.blob.core.windows.net`; may be left out when a connection string names the account. */
  readonly accountUrl?: string;
  readonly container: string;
  readonly prefix?: string;
  /** Set on each blob as it is committed; default: the account's. */
  readonly accessTier?: AzureAccessTier;
  /** Bytes per block (default 8 MiB). */
  readonly blockSize?: number;
  /** Blocks staging at once (default 4): a put holds at most (concurrency + 1) × blockSize bytes. */
  readonly concurrency?: number;
  /** Blobs per listing page (default: the service's, 5000). */
  readonly pageSize?: number;
}

/** The variables the store reads (others, for DefaultAzureCredential, come from process.env). */
export const AZURE_CONNECTION_STRING = 'AZURE_STORAGE_CONNECTION_STRING';
export const AZURE_ACCOUNT_KEY = 'AZURE_STORAGE_ACCOUNT_KEY';

const DEFAULT_BLOCK_SIZE = 8 * MiB;
const DEFAULT_CONCURRENCY = 4;
/** Azure's limit on the blocks of one blob. */
const MAX_BLOCKS = 50_000;

/**
 * A store in `container` (under `prefix`). Credentials, in order: `AZURE_STORAGE_CONNECTION_STRING`
 * (which must name the same endpoint as `accountUrl` when both are given), `AZURE_STORAGE_ACCOUNT_KEY`
 * with the account named by `accountUrl`, else DefaultAzureCredential (managed identity, workload
 * identity, `AZURE_CLIENT_ID`/`AZURE_TENANT_ID`/... from process.env, the Azure CLI's login).
 */
export function azureStore(
  options: AzureStoreOptions,
  env: Readonly<Record<string, string | undefined>>,
): BackupStore {
  if (!options.container) throw new PermanentError('invalid', 'An Azure destination needs a container');
  const connectionString = env[AZURE_CONNECTION_STRING] || undefined;
  const accountKey = env[AZURE_ACCOUNT_KEY] || undefined;
  const accountUrl = options.accountUrl === undefined ? undefined : normalizeUrl(options.accountUrl);
  if (!connectionString && !accountUrl) {
    throw new PermanentError(
      'invalid',
      `An Azure destination needs accountUrl, or ${AZURE_CONNECTION_STRING} in the environment`,
    );
  }
  const root = rootPrefix(options.prefix);
  const blockSize = positive('blockSize', options.blockSize ?? DEFAULT_BLOCK_SIZE);
  const concurrency = positive('concurrency', options.concurrency ?? DEFAULT_CONCURRENCY);
  const connectionEndpoint = connectionString ? blobEndpointOf(connectionString) : undefined;
  if (accountUrl && connectionEndpoint && connectionEndpoint !== accountUrl) {
    throw mismatch(connectionEndpoint, accountUrl);
  }
  // The SDK's reading of the connection string settles it on first use.
  let base = accountUrl ?? connectionEndpoint;
  const objectUri = (path: string): string =>
    `${base ?? 'azure://(connection string)'}/${options.container}/${root}${path}`;
  const fail = (err: unknown, action: string, path: string): Error =>
    storeError(err, `${action} ${objectUri(path)}`, azureShape);

  // The SDK loads on first use: services that never write to Azure do not pay for it. A failure is
  // reported by the operation that needed the client, and the next one tries again.
  let connection: Promise<ContainerClient> | undefined;
  const connect = (): Promise<ContainerClient> =>
    (connection ??= serviceClient()
      .then((service) => {
        const url = normalizeUrl(service.url);
        if (accountUrl && url !== accountUrl) throw mismatch(url, accountUrl);
        base = url;
        return service.getContainerClient(options.container);
      })
      .catch((err: unknown) => {
        connection = undefined;
        throw err;
      }));

  async function serviceClient(): Promise<BlobServiceClient> {
    const blob = await import('@azure/storage-blob');
    if (connectionString) {
      try {
        return blob.BlobServiceClient.fromConnectionString(connectionString);
      } catch {
        // The SDK's message may quote the string, and with it the key.
        throw new PermanentError('invalid', `${AZURE_CONNECTION_STRING} is not a valid connection string`);
      }
    }
    if (!accountUrl) throw new PermanentError('invalid', 'An Azure destination needs accountUrl');
    if (accountKey) {
      const credential = new blob.StorageSharedKeyCredential(accountName(accountUrl), accountKey);
      return new blob.BlobServiceClient(accountUrl, credential);
    }
    const { DefaultAzureCredential } = await import('@azure/identity');
    return new blob.BlobServiceClient(accountUrl, new DefaultAzureCredential());
  }

  /** The blob's immutability policy; undefined when it has none or does not exist. */
  async function lockOf(name: string): Promise<ObjectRetention | undefined> {
    try {
      return retentionOf(await (await connect()).getBlobClient(name).getProperties());
    } catch (err) {
      if (azureShape(err)?.reason === 'notFound' && blobMissing(err)) return undefined;
      throw err;
    }
  }

  return {
    kind: 'azure',
    uri: objectUri,

    async put(path: string, body: Readable, put?: PutOptions): Promise<PutResult> {
      const name = root + checkObjectPath(path);
      try {
        refuseIfLocked(objectUri(path), await lockOf(name), 'overwrite');
        const blob = (await connect()).getBlockBlobClient(name);
        // A nonce per put: two writers of the same blob never stage into each other's block list.
        const nonce = randomUUID();
        const blockIds: string[] = [];
        const tally = new Tally();
        await uploadConcurrently(fixedParts(body, blockSize), concurrency, async (block, index) => {
          if (index >= MAX_BLOCKS) {
            throw new PermanentError(
              'invalid',
              `${objectUri(path)}: more than ${MAX_BLOCKS} blocks of ${blockSize} bytes`,
            );
          }
          tally.add(block);
          const id = Buffer.from(`${nonce}-${String(index).padStart(6, '0')}`).toString('base64');
          blockIds[index] = id;
          await blob.stageBlock(id, block, block.length, { transactionalContentMD5: md5Of(block) });
        });
        const md5 = tally.md5();
        checkExpected(tally.bytes, md5, put, objectUri(path));
        await blob.commitBlockList(blockIds, {
          blobHTTPHeaders: {
            blobContentMD5: md5,
            ...(put?.contentType ? { blobContentType: put.contentType } : {}),
          },
          ...(options.accessTier ? { tier: options.accessTier } : {}),
          ...(put?.retention ? { immutabilityPolicy: azurePolicy(put.retention) } : {}),
        });
        const committed = await blob.getProperties();
        const committedMd5 = committed.contentMD5 ? Buffer.from(committed.contentMD5) : undefined;
        if (committed.contentLength !== tally.bytes || (committedMd5 && !committedMd5.equals(md5))) {
          await blob.deleteIfExists().catch(() => undefined);
          throw new RetryableError(
            'checksumMismatch',
            `${objectUri(path)}: committed ${committed.contentLength} bytes, sent ${tally.bytes}`,
          );
        }
        return { bytes: tally.bytes, md5: md5.toString('base64') };
      } catch (err) {
        throw fail(err, 'writing', path);
      }
    },

    async get(path: string): Promise<Readable> {
      const name = root + checkObjectPath(path);
      try {
        const blob = (await connect()).getBlobClient(name);
        // Resumes from where a dropped connection left off, a few times.
        const response = await blob.download(0, undefined, { maxRetryRequests: 5 });
        if (!response.readableStreamBody) {
          throw new RetryableError('backendError', `${objectUri(path)}: no body`);
        }
        const md5 = response.contentMD5 ?? response.blobContentMD5;
        return checkedDownload(
          response.readableStreamBody as Readable,
          {
            ...(response.contentLength !== undefined ? { bytes: response.contentLength } : {}),
            ...(md5 ? { md5: Buffer.from(md5).toString('base64') } : {}),
          },
          objectUri(path),
          azureShape,
        );
      } catch (err) {
        throw fail(err, 'reading', path);
      }
    },

    async stat(path: string): Promise<StoredEntry | undefined> {
      const name = root + checkObjectPath(path);
      try {
        const properties = await (await connect()).getBlobClient(name).getProperties();
        const retention = retentionOf(properties);
        return {
          ...entry(path, properties.contentLength, properties.contentMD5),
          ...(retention ? { retention } : {}),
        };
      } catch (err) {
        if (azureShape(err)?.reason === 'notFound' && blobMissing(err)) return undefined;
        throw fail(err, 'reading the properties of', path);
      }
    },

    async list(prefix: string): Promise<StoredEntry[]> {
      checkPrefix(prefix);
      const entries: StoredEntry[] = [];
      try {
        const container = await connect();
        const pages = container
          .listBlobsFlat({ prefix: root + prefix })
          .byPage(options.pageSize ? { maxPageSize: options.pageSize } : {});
        for await (const page of pages) {
          for (const item of page.segment.blobItems) {
            entries.push(
              entry(item.name.slice(root.length), item.properties.contentLength, item.properties.contentMD5),
            );
          }
        }
      } catch (err) {
        throw fail(err, 'listing', prefix);
      }
      return entries.sort((a, b) => comparePaths(a.path, b.path));
    },

    async listFolders(prefix: string): Promise<string[]> {
      checkFolder(prefix);
      const folders: string[] = [];
      try {
        const container = await connect();
        const pages = container
          .listBlobsByHierarchy('/', { prefix: root + prefix })
          .byPage(options.pageSize ? { maxPageSize: options.pageSize } : {});
        for await (const page of pages) {
          for (const item of page.segment.blobPrefixes ?? []) folders.push(item.name.slice(root.length));
        }
      } catch (err) {
        throw fail(err, 'listing the folders of', prefix);
      }
      return folders.sort(comparePaths);
    },

    async delete(path: string): Promise<void> {
      const name = root + checkObjectPath(path);
      try {
        refuseIfLocked(objectUri(path), await lockOf(name), 'delete');
        await (await connect()).getBlobClient(name).deleteIfExists();
      } catch (err) {
        throw fail(err, 'deleting', path);
      }
    },

    async lock(path: string, retention: ObjectRetention): Promise<void> {
      const name = root + checkObjectPath(path);
      try {
        await (await connect()).getBlobClient(name).setImmutabilityPolicy(azurePolicy(retention));
      } catch (err) {
        throw fail(err, 'locking', path);
      }
    },

    clearIncomplete(prefix: string): Promise<number> {
      // Uncommitted blocks are never a blob; Azure discards them within a week, or at the next commit.
      return Promise.resolve(prefix).then((folder) => {
        checkFolder(folder);
        return 0;
      });
    },
  };
}

function entry(path: string, bytes: number | undefined, md5: Uint8Array | undefined): StoredEntry {
  return { path, bytes: bytes ?? 0, ...(md5 ? { md5: Buffer.from(md5).toString('base64') } : {}) };
}

const azurePolicy = (
  retention: ObjectRetention,
): { expiriesOn: Date; policyMode: 'Unlocked' | 'Locked' } => ({
  // Its headers carry whole seconds (RFC 1123): rounded up, so a lock never ends before it was asked to.
  expiriesOn: new Date(Math.ceil(Date.parse(retention.retainUntil) / 1000) * 1000),
  policyMode: retention.mode === 'COMPLIANCE' ? 'Locked' : 'Unlocked',
});

/** The x-ms-immutability-policy-until-date and -mode headers of Get Blob Properties. */
function retentionOf(properties: {
  immutabilityPolicyExpiresOn?: Date;
  immutabilityPolicyMode?: string;
}): ObjectRetention | undefined {
  const until = properties.immutabilityPolicyExpiresOn;
  const mode = properties.immutabilityPolicyMode;
  if (until === undefined || (mode !== 'Unlocked' && mode !== 'Locked')) return undefined;
  return { mode: mode === 'Locked' ? 'COMPLIANCE' : 'GOVERNANCE', retainUntil: until.toISOString() };
}

const mismatch = (endpoint: string, accountUrl: string): PermanentError =>
  new PermanentError(
    'invalid',
    `${AZURE_CONNECTION_STRING} names the endpoint ${endpoint}, the destination ${accountUrl}`,
  );

/** The blob endpoint a connection string names (BlobEndpoint, or the account's default), if it says. */
function blobEndpointOf(connectionString: string): string | undefined {
  const fields = new Map<string, string>();
  for (const part of connectionString.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) fields.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).trim());
  }
  try {
    const endpoint = fields.get('blobendpoint');
    if (endpoint) return normalizeUrl(endpoint);
    if (fields.get('usedevelopmentstorage') === 'true') return 'http://127.0.0.1:10000/devstoreaccount1';
    const account = fields.get('accountname');
    if (!account) return undefined;
    const protocol = fields.get('defaultendpointsprotocol') ?? 'https';
    return normalizeUrl(
      `${protocol}://${account}.blob.${fields.get('endpointsuffix') ?? 'core.windows.net'}`,
    );
  } catch {
    return undefined;
  }
}

/** Origin and path, no query (a SAS token is a credential) and no trailing slash. */
function normalizeUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new PermanentError('invalid', 'accountUrl is not a URL');
  }
  return `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
}

/** `acct` of `https://acct.blob.core.windows.net`, or of `http://127.0.0.1:10000/acct` (Azurite's path style). */
function accountName(accountUrl: string): string {
  const url = new URL(accountUrl);
  const pathStyle = /^[\d.]+$|^\[.*\]$|^localhost$/.test(url.hostname) || !url.hostname.includes('.');
  const name = pathStyle ? url.pathname.split('/').find((s) => s !== '') : url.hostname.split('.')[0];
  if (!name) throw new PermanentError('invalid', `No account name in ${accountUrl}`);
  return name;
}

/** A missing blob, as opposed to a missing container (which stat reports rather than hides). */
const blobMissing = (err: unknown): boolean => {
  const { code, details } = err as { code?: unknown; details?: { errorCode?: unknown } };
  return code !== 'ContainerNotFound' && details?.errorCode !== 'ContainerNotFound';
};

const NOT_FOUND = new Set(['BlobNotFound', 'ContainerNotFound', 'ResourceNotFound']);
const DENIED = new Set([
  'AuthenticationFailed',
  'AuthorizationFailure',
  'AuthorizationPermissionMismatch',
  'AuthorizationResourceTypeMismatch',
  'AuthorizationSourceIPMismatch',
  'AuthorizationProtocolMismatch',
  'InsufficientAccountPermissions',
]);
const RETRYABLE = new Set(['ServerBusy', 'InternalError', 'OperationTimedOut', 'REQUEST_SEND_ERROR']);

/** Azure's error codes first, then the HTTP status; identity's errors by name. */
function azureShape(err: unknown): ErrorShape | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { name, code, details } = err as {
    name?: unknown;
    code?: unknown;
    details?: { errorCode?: unknown };
  };
  const errorCode = typeof code === 'string' ? code : details?.errorCode;
  if (typeof errorCode === 'string') {
    if (NOT_FOUND.has(errorCode)) return permanent('notFound');
    if (DENIED.has(errorCode)) return permanent('accessDenied');
    if (errorCode === 'Md5Mismatch' || errorCode === 'InvalidMd5' || errorCode === 'Crc64Mismatch') {
      return retryable('checksumMismatch');
    }
    if (RETRYABLE.has(errorCode)) return retryable(errorCode);
    // 409: the version's immutability policy (or a legal hold) still holds.
    if (errorCode === 'BlobImmutableDueToPolicy') return permanent('retentionLocked');
  }
  // No credential of DefaultAzureCredential's chain could sign in: a deployment problem, not a blip.
  if (name === 'CredentialUnavailableError' || name === 'AggregateAuthenticationError') {
    return permanent('unauthenticated');
  }
  const { message } = err as { message?: unknown };
  if (typeof message === 'string' && message.startsWith('Bearer token authentication is not permitted')) {
    return permanent('invalid');
  }
  const status = httpStatusOf(err);
  return shapeOfStatus(status) ?? (status !== undefined && status >= 400 ? permanent('invalid') : undefined);
}
