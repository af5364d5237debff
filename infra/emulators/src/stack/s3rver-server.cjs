// s3rver 3.7 with the S3 behaviour bqbr relies on and s3rver lacks, patched into its internals:
// - ListObjects with a delimiter finds every common prefix, also those whose objects all lie two or more
//   folders down (s3rver does not walk below a would-be prefix), and pages like S3: MaxKeys counts keys
//   and common prefixes, and the next page starts after the last of either.
// - AbortMultipartUpload and ListMultipartUploads (with Prefix), on s3rver's own folder of uploads in
//   progress (`<bucket>/._S3rver_uploads/<uploadId>/key`).
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

server.run().then(
  ({ address, port }) => console.log(`s3rver listening on ${address}:${port}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
