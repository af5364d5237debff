// Stand-ins for the backup destinations outside Google Cloud: s3rver for S3 and Azurite's blob service for
// Azure. Both are npm packages (root devDependencies) started as node child processes.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackSetupError, type LaunchCommand } from './google-sdk.js';

/** s3rver's built-in credentials: it checks signatures against this one key pair. */
export const S3RVER_ACCESS_KEY_ID = 'S3RVER';
export const S3RVER_SECRET_ACCESS_KEY = 'S3RVER';
export const S3RVER_REGION = 'us-east-1';

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT_NAME = 'devstoreaccount1';
export const AZURITE_ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

const require = createRequire(import.meta.url);

/** The script behind an npm package's bin entry, or a setup error that says how to install it. */
function packageBin(pkg: string, bin: string): string {
  let packageJson: string;
  try {
    packageJson = require.resolve(`${pkg}/package.json`);
  } catch {
    throw new StackSetupError(
      `${pkg} not installed: run npm install (it is a devDependency of the repository root)`,
    );
  }
  const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as { bin?: string | Record<string, string> };
  const script = typeof manifest.bin === 'string' ? manifest.bin : manifest.bin?.[bin];
  if (!script) throw new StackSetupError(`${pkg}: no "${bin}" program in ${packageJson}`);
  return join(dirname(packageJson), script);
}

/**
 * s3rver with the patches of `s3rver-server.cjs` (complete delimiter listings that page like S3's,
 * AbortMultipartUpload, ListMultipartUploads, Object Lock). The script sits in `src/stack/` and is found from here
 * whether this module runs from `src/` or from `dist/`.
 */
export const S3RVER_SCRIPT = fileURLToPath(new URL('../../src/stack/s3rver-server.cjs', import.meta.url));

export function s3rverCommand(host: string, port: number, directory: string): LaunchCommand {
  // Resolving the package first turns a missing install into a setup error that says what to do.
  packageBin('s3rver', 's3rver');
  return {
    command: process.execPath,
    args: [
      // ListObjectsV2 continuation tokens are DES-encrypted, which OpenSSL 3 only offers in its legacy provider.
      '--openssl-legacy-provider',
      S3RVER_SCRIPT,
      '--directory',
      directory,
      '--address',
      host,
      '--port',
      String(port),
    ],
  };
}

/**
 * Azurite's blob service with the version-level immutability policies of `azurite-server.cjs`, which
 * runs Azurite's own `azurite-blob` in its process.
 */
export const AZURITE_SCRIPT = fileURLToPath(new URL('../../src/stack/azurite-server.cjs', import.meta.url));

export function azuriteBlobCommand(host: string, port: number, location: string): LaunchCommand {
  // Resolving the program first turns a missing install into a setup error that says what to do.
  packageBin('azurite', 'azurite-blob');
  return {
    command: process.execPath,
    args: [
      AZURITE_SCRIPT,
      '--blobHost',
      host,
      '--blobPort',
      String(port),
      '--location',
      location,
      // Newer SDKs send API versions this Azurite release does not know yet.
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
    ],
  };
}

export function azuriteAccountUrl(host: string, port: number): string {
  return `http://${host}:${port}/${AZURITE_ACCOUNT_NAME}`;
}

export function azuriteConnectionString(host: string, port: number): string {
  return [
    'DefaultEndpointsProtocol=http',
    `AccountName=${AZURITE_ACCOUNT_NAME}`,
    `AccountKey=${AZURITE_ACCOUNT_KEY}`,
    `BlobEndpoint=${azuriteAccountUrl(host, port)}`,
  ].join(';');
}

/**
 * Settings for an AWS SDK S3 client on the stack's s3rver, from the stack's environment (`new
 * S3Client(s3ClientConfig(env))`): path-style addressing, and checksums only where S3 requires them.
 */
export function s3ClientConfig(env: Readonly<Record<string, string | undefined>>): {
  endpoint: string;
  region: string;
  forcePathStyle: true;
  credentials: { accessKeyId: string; secretAccessKey: string };
  requestChecksumCalculation: 'WHEN_REQUIRED';
  responseChecksumValidation: 'WHEN_REQUIRED';
} {
  const endpoint = env['BQBR_S3_ENDPOINT'];
  if (!endpoint) throw new Error('BQBR_S3_ENDPOINT is not set: start the stack with s3');
  return {
    endpoint,
    region: env['AWS_REGION'] ?? S3RVER_REGION,
    forcePathStyle: true,
    credentials: {
      accessKeyId: env['AWS_ACCESS_KEY_ID'] ?? S3RVER_ACCESS_KEY_ID,
      secretAccessKey: env['AWS_SECRET_ACCESS_KEY'] ?? S3RVER_SECRET_ACCESS_KEY,
    },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}
