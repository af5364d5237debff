// Azurite's blob service (`azurite-blob`, same arguments) with the version-level immutability policies
// Azure Blob Storage has and Azurite 3.x answers NotImplemented for, patched into its handlers:
// - Put Blob and Put Block List take `x-ms-immutability-policy-until-date` / `-mode` (Unlocked, Locked);
//   Set and Delete Blob Immutability Policy (`?comp=immutabilityPolicies`) change them: a Locked policy
//   is only extended, never removed or shortened.
// - Get Blob Properties and Get Blob return them as headers.
// - While a policy holds, Delete Blob, Set Blob Metadata, and every write onto the blob (Put Blob, Put
//   Block List, Copy Blob) fail with 409 BlobImmutableDueToPolicy.
// Simplified: Azure keeps versions, so an overwrite there makes a new current version and leaves the
// locked one as a previous version, where this stand-in refuses it (the locked bytes stay in both); the
// container's version-level immutability support (an ARM setting Azurite has no API for) is assumed on.
// Policies are kept in `<location>/bqbr-immutability-policies.json`, keyed by account/container/blob.
// See https://learn.microsoft.com/azure/storage/blobs/immutable-version-level-worm-policies.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const dist = path.dirname(require.resolve('azurite/package.json'));
const load = (file) => require(path.join(dist, 'dist', 'src', 'blob', file)).default;
const BlobHandler = load('handlers/BlobHandler');
const BlockBlobHandler = load('handlers/BlockBlobHandler');
const BlobStorageContext = load('context/BlobStorageContext');
const StorageError = load('errors/StorageError');

const args = process.argv.slice(2);
const locationAt = args.indexOf('--location');
const location = locationAt >= 0 ? args[locationAt + 1] : process.cwd();
fs.mkdirSync(location, { recursive: true });
const policiesFile = path.join(location, 'bqbr-immutability-policies.json');

/** account/container/blob → { until: ISO, mode: 'Unlocked' | 'Locked' } */
const policies = new Map(
  fs.existsSync(policiesFile) ? Object.entries(JSON.parse(fs.readFileSync(policiesFile, 'utf8'))) : [],
);
const save = () => {
  const temp = `${policiesFile}.tmp`;
  fs.writeFileSync(temp, JSON.stringify(Object.fromEntries(policies)));
  fs.renameSync(temp, policiesFile);
};

const keyOf = (context) => {
  const blob = new BlobStorageContext(context);
  return `${blob.account}/${blob.container}/${blob.blob}`;
};
const holding = (context) => {
  const policy = policies.get(keyOf(context));
  return policy !== undefined && Date.parse(policy.until) > Date.now() ? policy : undefined;
};
const immutable = (context) =>
  new StorageError(
    409,
    'BlobImmutableDueToPolicy',
    'This operation is not permitted as the blob is immutable due to a policy.',
    context.contextId,
  );
const refuseIfHeld = (context) => {
  if (holding(context)) throw immutable(context);
};

/** The policy a write asks for (the generated deserializer parses the headers into options). */
function requested(options, context) {
  const expiry = options.immutabilityPolicyExpiry;
  if (expiry === undefined) return undefined;
  const until = new Date(expiry);
  if (Number.isNaN(until.getTime()) || until.getTime() <= Date.now()) {
    throw new StorageError(
      400,
      'InvalidHeaderValue',
      'The value for x-ms-immutability-policy-until-date must be a date in the future.',
      context.contextId,
    );
  }
  const mode = options.immutabilityPolicyMode ?? 'Unlocked';
  if (mode !== 'Unlocked' && mode !== 'Locked') {
    throw new StorageError(
      400,
      'InvalidHeaderValue',
      'The value for x-ms-immutability-policy-mode must be Unlocked or Locked.',
      context.contextId,
    );
  }
  return { until: until.toISOString(), mode };
}

/** Records the policy a successful write asked for; a write without one leaves the new blob without. */
function afterWrite(options, context) {
  const policy = requested(options, context);
  if (policy) policies.set(keyOf(context), policy);
  else if (!policies.delete(keyOf(context))) return;
  save();
}

const withPolicy = (response, context) => {
  const policy = policies.get(keyOf(context));
  return policy
    ? {
        ...response,
        immutabilityPolicyExpiresOn: new Date(policy.until),
        immutabilityPolicyMode: policy.mode,
      }
    : response;
};

/** Wraps `Class.prototype[name]`: `before` may refuse, `after` sees the response. */
function patch(Class, name, { before, after }) {
  const original = Class.prototype[name];
  Class.prototype[name] = async function (...args) {
    const context = args[args.length - 1];
    const options = args[args.length - 2];
    before?.(options, context);
    const response = await original.apply(this, args);
    return after ? after(response, options, context) : response;
  };
}

const writeOnto = {
  before: (options, context) => {
    requested(options, context);
    refuseIfHeld(context);
  },
  after: (response, options, context) => {
    afterWrite(options, context);
    return response;
  },
};
patch(BlockBlobHandler, 'upload', writeOnto);
patch(BlockBlobHandler, 'commitBlockList', writeOnto);
const refuseCopy = { before: (_options, context) => refuseIfHeld(context) };
patch(BlobHandler, 'startCopyFromURL', refuseCopy);
patch(BlobHandler, 'copyFromURL', refuseCopy);
patch(BlobHandler, 'setMetadata', { before: (_options, context) => refuseIfHeld(context) });
patch(BlobHandler, 'delete', {
  before: (_options, context) => refuseIfHeld(context),
  after: (response, _options, context) => {
    if (policies.delete(keyOf(context))) save();
    return response;
  },
});
const reportPolicy = { after: (response, _options, context) => withPolicy(response, context) };
patch(BlobHandler, 'getProperties', reportPolicy);
patch(BlobHandler, 'download', reportPolicy);

BlobHandler.prototype.setImmutabilityPolicy = async function (options, context) {
  const blob = new BlobStorageContext(context);
  // Throws BlobNotFound (or ContainerNotFound) as Get Blob Properties does.
  await this.metadataStore.getBlobProperties(context, blob.account, blob.container, blob.blob);
  const next = requested(options, context);
  if (next === undefined) {
    throw new StorageError(
      400,
      'MissingRequiredHeader',
      'An HTTP header that is mandatory for this request is not specified: x-ms-immutability-policy-until-date.',
      context.contextId,
    );
  }
  const current = holding(context);
  const weakens =
    current !== undefined &&
    current.mode === 'Locked' &&
    (next.mode !== 'Locked' || Date.parse(next.until) < Date.parse(current.until));
  if (weakens) throw immutable(context);
  policies.set(keyOf(context), next);
  save();
  return {
    statusCode: 200,
    requestId: context.contextId,
    date: context.startTime,
    clientRequestId: options.requestId,
    immutabilityPolicyExpiry: new Date(next.until),
    immutabilityPolicyMode: next.mode,
  };
};

BlobHandler.prototype.deleteImmutabilityPolicy = async function (options, context) {
  const current = holding(context);
  if (current !== undefined && current.mode === 'Locked') throw immutable(context);
  if (policies.delete(keyOf(context))) save();
  return {
    statusCode: 200,
    requestId: context.contextId,
    date: context.startTime,
    clientRequestId: options.requestId,
  };
};

// Azurite's own entry point, with the arguments given to this script.
require(path.join(dist, 'dist', 'src', 'blob', 'main.js'));
