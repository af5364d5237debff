// s3rver 3.7 with the S3 behaviour bqbr relies on and s3rver lacks, patched into its internals:
// - ListObjects with a delimiter finds every common prefix, also those whose objects all lie two or more
//   folders down (s3rver does not walk below a would-be prefix), and pages like S3: MaxKeys counts keys
//   and common prefixes, and the next page starts after the last of either.
// - AbortMultipartUpload and ListMultipartUploads (with Prefix), on s3rver's own folder of uploads in
//   progress (`<bucket>/._S3rver_uploads/<uploadId>/key`).
// - Object Lock: buckets created with `x-amz-bucket-object-lock-enabled: true` (GetObjectLockConfiguration
//   answers for them), the lock headers of PutObject / CreateMultipartUpload (which need Content-MD5 or an
//   x-amz-checksum header, as in S3) kept with the object and returned by HeadObject / GetObject, and
//   Get/PutObjectRetention. s3rver keeps no versions, so where S3 stacks a new version or a delete marker
//   on a locked object (and refuses only a DELETE that names the locked version), this stand-in refuses
//   the overwrite and the DELETE of a locked key with AccessDenied: the locked bytes stay, as in S3, but
//   S3 would answer 200/204. `x-amz-bypass-governance-retention: true` lifts a GOVERNANCE lock (S3 also
//   asks for the s3:BypassGovernanceRetention permission, which s3rver has no notion of); DeleteObjects
//   (the batch call) is not checked; the lock calls are answered before s3rver's signature check.
// Usage: node --openssl-legacy-provider s3rver-server.cjs --directory DIR [--address HOST] [--port N]
// (continuation tokens are DES-encrypted, which OpenSSL 3 offers only in its legacy provider).
'use strict';

const { AsyncLocalStorage } = require('node:async_hooks');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const S3rver = require('s3rver');
const bucketController = require('s3rver/lib/controllers/bucket');
const S3Object = require('s3rver/lib/models/object');

function parseArgs(argv) {
  const options = { address: '127.0.0.1', port: 4568 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case '--directory':
        options.directory = value;
        i++;
        break;
      case '--address':
        options.address = value;
        i++;
        break;
      case '--port':
        options.port = Number(value);
        i++;
        break;
      default:
        throw new Error(`s3rver-server: unknown argument ${argv[i]}`);
    }
  }
  if (!options.directory) throw new Error('s3rver-server: --directory is required');
  return options;
}

const options = parseArgs(process.argv.slice(2));
fs.mkdirSync(options.directory, { recursive: true });
const server = new S3rver({
  address: options.address,
  port: options.port,
  directory: options.directory,
  silent: true,
});

/** s3rver's token format (controllers/bucket.js keeps its own private): DES over `region/bucket/startAfter`. */
function continuationToken(bucket, startAfter) {
  const key = Buffer.alloc(8, 'S3RVER', 'utf8');
  const iv = crypto.randomBytes(8);
  iv[0] = (iv[0] & 0b00000011) | 0b11010100;
  const cipher = crypto.createCipheriv('des', key, iv);
  return Buffer.concat([
    iv,
    cipher.update(`us-east-1/${bucket}/${startAfter}`, 'utf8'),
    cipher.final(),
  ]).toString('base64');
}

// Where the delimiter listing of the current request says the next page starts (the controller builds
// its token from the last object, which is wrong when the page ends with a common prefix).
const pageEnd = new AsyncLocalStorage();

const Store = server.store.constructor;
const OBJECT_SUFFIX = '._S3rver_object';

/** Every key under `prefix`, from the names of s3rver's files alone (no metadata is read). */
function keysUnder(bucket, prefix) {
  const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1);
  const keys = [];
  const visit = (dir, keyFolder) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      if (entry.isDirectory()) {
        visit(path.join(dir, entry.name), `${keyFolder}${Store.decodeKeyPath(entry.name)}/`);
      } else if (entry.name.endsWith(OBJECT_SUFFIX)) {
        keys.push(keyFolder + Store.decodeKeyPath(entry.name.slice(0, -OBJECT_SUFFIX.length)));
      }
    }
  };
  visit(path.join(server.store.getBucketPath(bucket), Store.encodeKeyPath(folder)), folder);
  return keys.filter((key) => key.startsWith(prefix));
}

const listObjects = server.store.listObjects;
server.store.listObjects = async function (bucket, listing) {
  const { delimiter = '', prefix = '', maxKeys = Infinity, startAfter = '' } = listing;
  if (!delimiter) return listObjects.call(this, bucket, listing);
  const keys = keysUnder(bucket, prefix)
    .filter((key) => key > startAfter)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Keys and common prefixes in key order; a prefix's keys are contiguous, and `last` is the greatest.
  const entries = [];
  for (const key of keys) {
    const at = key.indexOf(delimiter, prefix.length);
    if (at === -1) {
      entries.push({ key, last: key });
      continue;
    }
    const commonPrefix = key.slice(0, at + delimiter.length);
    const previous = entries[entries.length - 1];
    if (previous && previous.commonPrefix === commonPrefix) previous.last = key;
    else entries.push({ commonPrefix, last: key });
  }
  const page = entries.slice(0, maxKeys);
  const truncated = entries.length > page.length;
  const state = pageEnd.getStore();
  if (state && truncated) state.startAfter = page[page.length - 1].last;
  const objects = await Promise.all(
    page
      .filter((e) => e.key !== undefined)
      .map(async ({ key }) => {
        // Gone since the walk: left out, as s3rver's own listing does.
        const metadata = await this.getMetadata(bucket, key).catch((err) => {
          if (err.code === 'ENOENT') return undefined;
          throw err;
        });
        return metadata && new S3Object(bucket, key, null, metadata);
      }),
  );
  return {
    objects: objects.filter((o) => o !== undefined),
    commonPrefixes: page.filter((e) => e.commonPrefix !== undefined).map((e) => e.commonPrefix),
    // Reported by getBucket below: the controller cannot make a token from a page without objects.
    isTruncated: state ? false : truncated,
  };
};

const getBucket = bucketController.getBucket;
bucketController.getBucket = async function (ctx) {
  if (!ctx.query.delimiter) return getBucket(ctx);
  const state = {};
  await pageEnd.run(state, () => getBucket(ctx));
  const result = ctx.body && ctx.body.ListBucketResult;
  if (!result) return;
  const v2 = ctx.query['list-type'] === '2';
  if (v2) result.KeyCount = result.Contents.length + result.CommonPrefixes.length;
  if (state.startAfter === undefined) return;
  result.IsTruncated = true;
  if (v2) result.NextContinuationToken = continuationToken(ctx.params.bucket, state.startAfter);
  else result.NextMarker = state.startAfter;
};

const uploadsOf = (bucket) => path.join(options.directory, path.basename(bucket), '._S3rver_uploads');
const xml = (s) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const errorXml = (code, message) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${xml(message)}</Message></Error>`;

// Before s3rver's routes, which answer these two with NotImplemented (or, for the abort, delete the object).
server.middleware.unshift(async (ctx, next) => {
  const [, bucket = '', ...keyParts] = ctx.path.split('/');
  const key = decodeURIComponent(keyParts.join('/'));
  if (ctx.method === 'DELETE' && key !== '' && ctx.query.uploadId !== undefined) {
    const upload = path.join(uploadsOf(bucket), path.basename(String(ctx.query.uploadId)));
    const keyFile = path.join(upload, 'key');
    if (!fs.existsSync(keyFile) || fs.readFileSync(keyFile, 'utf8') !== key) {
      ctx.status = 404;
      ctx.type = 'application/xml';
      ctx.body = errorXml('NoSuchUpload', 'The specified upload does not exist.');
      return;
    }
    fs.rmSync(upload, { recursive: true, force: true });
    ctx.status = 204;
    return;
  }
  if (ctx.method === 'GET' && key === '' && bucket !== '' && ctx.query.uploads !== undefined) {
    const dir = uploadsOf(bucket);
    const prefix = String(ctx.query.prefix || '');
    const uploads = (fs.existsSync(dir) ? fs.readdirSync(dir) : [])
      .flatMap((id) => {
        const keyFile = path.join(dir, id, 'key');
        return fs.existsSync(keyFile) ? [{ id, key: fs.readFileSync(keyFile, 'utf8') }] : [];
      })
      .filter((upload) => upload.key.startsWith(prefix))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.id < b.id ? -1 : 1));
    ctx.type = 'application/xml';
    ctx.body =
      '<?xml version="1.0" encoding="UTF-8"?><ListMultipartUploadsResult><Bucket>' +
      xml(bucket) +
      '</Bucket><Prefix>' +
      xml(prefix) +
      '</Prefix><IsTruncated>false</IsTruncated>' +
      uploads
        .map((u) => `<Upload><Key>${xml(u.key)}</Key><UploadId>${xml(u.id)}</UploadId></Upload>`)
        .join('') +
      '</ListMultipartUploadsResult>';
    return;
  }
  await next();
});

// ---- Object Lock

const LOCK_MODE = 'x-amz-object-lock-mode';
const LOCK_UNTIL = 'x-amz-object-lock-retain-until-date';
// Kept in the object's metadata file and sent back as headers, like its other system metadata.
S3Object.ALLOWED_METADATA.push(LOCK_MODE, LOCK_UNTIL);

/** The buckets created with Object Lock, in a file beside them (s3rver takes only folders for buckets). */
const lockedBucketsFile = path.join(options.directory, '.bqbr-object-lock-buckets.json');
const lockedBuckets = new Set(
  fs.existsSync(lockedBucketsFile) ? JSON.parse(fs.readFileSync(lockedBucketsFile, 'utf8')) : [],
);
const saveLockedBuckets = () => fs.writeFileSync(lockedBucketsFile, JSON.stringify([...lockedBuckets]));

const s3Error = (ctx, status, code, message) => {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = errorXml(code, message);
};

/** The current object's lock, or undefined (no object, no lock). */
async function lockOf(bucket, key) {
  const metadata = await server.store.getMetadata(bucket, key).catch((err) => {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  });
  if (!metadata || !metadata[LOCK_MODE] || !metadata[LOCK_UNTIL]) return undefined;
  return { mode: metadata[LOCK_MODE], until: metadata[LOCK_UNTIL], metadata };
}

const holds = (lock, ctx) =>
  lock !== undefined &&
  Date.parse(lock.until) > Date.now() &&
  !(lock.mode === 'GOVERNANCE' && ctx.headers['x-amz-bypass-governance-retention'] === 'true');

/** The lock a write asks for, checked as S3 checks it; an error answer was sent when it returns false. */
function acceptsLockHeaders(ctx, bucket) {
  const mode = ctx.headers[LOCK_MODE];
  const until = ctx.headers[LOCK_UNTIL];
  if (mode === undefined && until === undefined) return true;
  if (!lockedBuckets.has(bucket)) {
    s3Error(ctx, 400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
    return false;
  }
  if (mode === undefined || until === undefined) {
    s3Error(
      ctx,
      400,
      'InvalidArgument',
      'x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied',
    );
    return false;
  }
  if (mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') {
    s3Error(ctx, 400, 'InvalidArgument', 'Unknown wormMode directive.');
    return false;
  }
  if (!(Date.parse(until) > Date.now())) {
    s3Error(ctx, 400, 'InvalidArgument', 'The retain until date must be in the future!');
    return false;
  }
  const checksummed = Object.keys(ctx.headers).some(
    (h) => h === 'content-md5' || h.startsWith('x-amz-checksum-'),
  );
  if (ctx.method === 'PUT' && ctx.headers['x-amz-copy-source'] === undefined && !checksummed) {
    s3Error(
      ctx,
      400,
      'InvalidRequest',
      'Content-MD5 OR x-amz-checksum- HTTP header is required for Put Object requests with Object Lock parameters',
    );
    return false;
  }
  return true;
}

const readBody = async (req) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
};
const xmlField = (text, name) => (new RegExp(`<${name}>([^<]*)</${name}>`).exec(text) || [])[1];

server.middleware.unshift(async (ctx, next) => {
  const [, bucket = '', ...keyParts] = ctx.path.split('/');
  const key = decodeURIComponent(keyParts.join('/'));
  if (bucket === '') return next();
  if (key === '') {
    if (ctx.method === 'PUT' && ctx.querystring === '') {
      const enable = ctx.headers['x-amz-bucket-object-lock-enabled'] === 'true';
      await next();
      if (ctx.status < 300 && enable) {
        lockedBuckets.add(bucket);
        saveLockedBuckets();
      }
      return;
    }
    if (ctx.method === 'DELETE' && ctx.querystring === '') {
      await next();
      if (ctx.status < 300 && lockedBuckets.delete(bucket)) saveLockedBuckets();
      return;
    }
    if (ctx.method === 'GET' && ctx.query['object-lock'] !== undefined) {
      if (!lockedBuckets.has(bucket)) {
        s3Error(
          ctx,
          404,
          'ObjectLockConfigurationNotFoundError',
          'Object Lock configuration does not exist for this bucket',
        );
        return;
      }
      ctx.type = 'application/xml';
      ctx.body =
        '<?xml version="1.0" encoding="UTF-8"?><ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>';
      return;
    }
    return next();
  }
  if (ctx.query.retention !== undefined) {
    const lock = await lockOf(bucket, key);
    if (ctx.method === 'GET') {
      if (!lock) {
        s3Error(
          ctx,
          404,
          'NoSuchObjectLockConfiguration',
          'The specified object does not have a ObjectLock configuration',
        );
        return;
      }
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?><Retention><Mode>${lock.mode}</Mode><RetainUntilDate>${lock.until}</RetainUntilDate></Retention>`;
      return;
    }
    if (ctx.method === 'PUT') {
      const body = await readBody(ctx.req);
      const mode = xmlField(body, 'Mode');
      const until = xmlField(body, 'RetainUntilDate');
      const metadata = await server.store.getMetadata(bucket, key).catch(() => undefined);
      if (!metadata) {
        s3Error(ctx, 404, 'NoSuchKey', 'The specified key does not exist.');
        return;
      }
      if (!lockedBuckets.has(bucket)) {
        s3Error(ctx, 400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
        return;
      }
      if ((mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') || !(Date.parse(until) > Date.now())) {
        s3Error(
          ctx,
          400,
          'InvalidArgument',
          'A retention needs a mode and a retain until date in the future',
        );
        return;
      }
      // A lock in force is only extended: shortening it, or turning COMPLIANCE into GOVERNANCE, is refused.
      const weakens =
        lock !== undefined &&
        (Date.parse(until) < Date.parse(lock.until) || (lock.mode === 'COMPLIANCE' && mode !== 'COMPLIANCE'));
      if (weakens && holds(lock, ctx)) {
        s3Error(ctx, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
        return;
      }
      await server.store.putMetadata(bucket, key, {
        ...metadata,
        [LOCK_MODE]: mode,
        [LOCK_UNTIL]: new Date(until).toISOString(),
      });
      ctx.status = 200;
      ctx.body = '';
      return;
    }
  }
  const writes =
    (ctx.method === 'PUT' && ctx.query.partNumber === undefined) ||
    (ctx.method === 'POST' && (ctx.query.uploads !== undefined || ctx.query.uploadId !== undefined));
  if (writes || (ctx.method === 'DELETE' && ctx.query.uploadId === undefined)) {
    if (writes && !acceptsLockHeaders(ctx, bucket)) return;
    // Starting a multipart upload writes nothing yet; completing it does.
    if (
      !(ctx.method === 'POST' && ctx.query.uploads !== undefined) &&
      holds(await lockOf(bucket, key), ctx)
    ) {
      s3Error(ctx, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
      return;
    }
  }
  return next();
});

server.run().then(
  ({ address, port }) => console.log(`s3rver listening on ${address}:${port}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
