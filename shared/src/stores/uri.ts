// A destination as people write it on a command line: `gs://bucket/prefix`, `s3://bucket/prefix`,
// `https://account.blob.core.windows.net/container/prefix` (or Azurite's
// `http://127.0.0.1:10000/devstoreaccount1/container/prefix`), `azure://container/prefix` (the account of
// AZURE_STORAGE_CONNECTION_STRING), `file:///abs/dir` or a plain directory path.
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode } from '../decode.js';
import { PermanentError } from '../errors.js';
import { GcsUri } from '../contracts/fields.js';
import { AzureContainer, ObjectPrefix, S3Bucket } from '../contracts/destinations.js';
import type { DestinationSpec } from './types.js';

/** The S3-compatible endpoint an `s3://` URI is read from (unset: AWS itself). */
export const S3_ENDPOINT_VARIABLE = 'BQBR_S3_ENDPOINT';

/**
 * The destination `uri` names. For `s3://`, the region is `AWS_REGION` and the endpoint
 * `BQBR_S3_ENDPOINT` (with path-style addressing) when they are set in `env`. A relative path is
 * resolved against `cwd`. Anything else throws a PermanentError('invalid') (a ValidationError for a bad
 * bucket, container or prefix) that says what was expected.
 */
export function destinationFromUri(
  uri: string,
  env: Readonly<Record<string, string | undefined>>,
  cwd: string = process.cwd(),
): DestinationSpec {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(uri)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'gs':
      decode(GcsUri, uri, 'Cloud Storage URI');
      return { kind: 'gcs', uri };
    case 's3': {
      const { first: bucket, prefix } = split(uri, 's3://bucket[/prefix]');
      decode(S3Bucket, bucket, 'S3 bucket');
      const endpoint = env[S3_ENDPOINT_VARIABLE] || undefined;
      const region = env['AWS_REGION'] || undefined;
      return {
        kind: 's3',
        bucket,
        ...withPrefix(prefix),
        ...(region ? { region } : {}),
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      };
    }
    case 'azure': {
      const { first: container, prefix } = split(uri, 'azure://container[/prefix]');
      decode(AzureContainer, container, 'Azure container');
      return { kind: 'azure', container, ...withPrefix(prefix) };
    }
    case 'http':
    case 'https':
      return azureFromUrl(uri);
    case 'file': {
      let path: string;
      try {
        path = fileURLToPath(uri);
      } catch (err) {
        throw invalid(`not a file URI (file:///absolute/dir): ${err instanceof Error ? err.message : uri}`);
      }
      return { kind: 'file', path: trimTrailingSlashes(path) };
    }
    default:
      // A Windows drive letter is not a scheme, but no path here has one: anything else with a scheme is unknown.
      if (scheme !== undefined && uri.slice(scheme.length).startsWith('://')) {
        throw invalid(
          `unknown kind of location ${JSON.stringify(`${scheme}://`)}: expected gs://, s3://, https:// (Azure), azure://, file:// or a directory path`,
        );
      }
      if (uri === '') throw invalid('no location given');
      return { kind: 'file', path: trimTrailingSlashes(isAbsolute(uri) ? uri : resolve(cwd, uri)) };
  }
}

/**
 * `https://acct.blob.core.windows.net/container/prefix`, or with the account in the path where the host
 * does not name it (Azurite, an IP address or a single-label host): `http://127.0.0.1:10000/acct/container/prefix`.
 */
function azureFromUrl(uri: string): DestinationSpec {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw invalid(`not a URL: ${uri}`);
  }
  if (url.username !== '' || url.password !== '' || url.search !== '') {
    // A SAS token or a password in the URL is a credential: the environment carries those.
    throw invalid(
      'an Azure URL carries no credentials (no SAS token, no user): set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_KEY',
    );
  }
  const segments = url.pathname.split('/').filter((s) => s !== '');
  const pathStyle = /^[\d.]+$|^\[.*\]$|^localhost$/.test(url.hostname) || !url.hostname.includes('.');
  const account = pathStyle ? segments.shift() : undefined;
  const container = segments.shift();
  const expected = pathStyle
    ? `${url.protocol}//${url.host}/account/container[/prefix]`
    : `${url.protocol}//account.blob.core.windows.net/container[/prefix]`;
  if ((pathStyle && account === undefined) || container === undefined) {
    throw invalid(`expected ${expected}, got ${uri}`);
  }
  decode(AzureContainer, container, 'Azure container');
  const prefix = decodeURIComponent(segments.join('/'));
  return {
    kind: 'azure',
    accountUrl: `${url.origin}${account === undefined ? '' : `/${account}`}`,
    container,
    ...withPrefix(prefix),
  };
}

/** `scheme://first/rest...` as the first segment and the rest (the prefix, '' when none). */
function split(uri: string, expected: string): { first: string; prefix: string } {
  const match = /^[a-z0-9+.-]+:\/\/([^/]*)\/?(.*)$/i.exec(uri);
  if (!match || match[1] === '') throw invalid(`expected ${expected}, got ${uri}`);
  return { first: match[1]!, prefix: match[2]! };
}

function withPrefix(prefix: string): { prefix?: string } {
  const trimmed = trimTrailingSlashes(prefix);
  if (trimmed === '') return {};
  decode(ObjectPrefix, trimmed, 'prefix');
  return { prefix: trimmed };
}

const trimTrailingSlashes = (path: string): string => (path === '/' ? path : path.replace(/\/+$/, ''));

const invalid = (message: string): PermanentError => new PermanentError('invalid', message);
