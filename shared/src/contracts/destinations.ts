// Where a backup goes (and a restore reads from) besides Cloud Storage: Amazon S3 (or an S3-compatible
// server), Azure Blob Storage, or a directory on a local or network filesystem. Only locations are
// requested; credentials come from the services' environment, never from a request.
import { bool, oneOf, stringWith } from '../codecs.js';
import { show } from '../decode.js';
import type { DestinationSpec } from '../stores/types.js';

const problemUnless =
  (test: (value: string) => boolean, expected: string) =>
  (value: string): string | undefined =>
    test(value) ? undefined : `expected ${expected}, got ${show(value)}`;

/** An object key prefix: no leading slash, no empty or dot segments, no wildcards or line breaks. */
export const ObjectPrefix = stringWith(
  'ObjectPrefix',
  problemUnless(
    (v) =>
      v.length <= 512 &&
      !v.startsWith('/') &&
      !/[*?[\]#\r\n\\]/.test(v) &&
      v
        .replace(/\/$/, '')
        .split('/')
        .every((s) => v === '' || (s !== '' && s !== '.' && s !== '..')),
    'a key prefix such as nightly/bq (no leading /, no empty, . or .. segments, no wildcards)',
  ),
);

// https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
export const S3Bucket = stringWith(
  'S3Bucket',
  problemUnless(
    (v) => /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(v) && !/\.\./.test(v) && !/^\d+\.\d+\.\d+\.\d+$/.test(v),
    'an S3 bucket name (3-63 lowercase letters, digits, dots or hyphens)',
  ),
);

export const HttpUrl = stringWith(
  'HttpUrl',
  problemUnless((v) => {
    try {
      const url = new URL(v);
      return (
        (url.protocol === 'https:' || url.protocol === 'http:') && url.username === '' && url.password === ''
      );
    } catch {
      return false;
    }
  }, 'an http(s) URL without credentials'),
);

const AwsRegion = stringWith(
  'AwsRegion',
  problemUnless((v) => /^[a-z]{2}(-[a-z]+)+-\d$/.test(v), 'an AWS region such as eu-central-1'),
);

// https://learn.microsoft.com/en-us/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata
export const AzureContainer = stringWith(
  'AzureContainer',
  problemUnless(
    (v) => /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/.test(v),
    'an Azure container name (3-63 lowercase letters, digits or single hyphens)',
  ),
);

export const LocalPath = stringWith(
  'LocalPath',
  problemUnless(
    (v) => v.startsWith('/') && !/[\0\r\n]/.test(v) && !v.split('/').includes('..'),
    'an absolute directory path without .. segments',
  ),
);

export const S3Location = {
  required: { bucket: S3Bucket },
  optional: {
    prefix: ObjectPrefix,
    region: AwsRegion,
    /** An S3-compatible endpoint (MinIO, Ceph, a local stand-in) listed in BQBR_S3_ENDPOINTS; default: AWS for the region. */
    endpoint: HttpUrl,
    forcePathStyle: bool,
    storageClass: oneOf('S3StorageClass', [
      'STANDARD',
      'STANDARD_IA',
      'ONEZONE_IA',
      'INTELLIGENT_TIERING',
      'GLACIER_IR',
      'GLACIER',
      'DEEP_ARCHIVE',
      'REDUCED_REDUNDANCY',
    ] as const),
    serverSideEncryption: oneOf('S3ServerSideEncryption', ['AES256', 'aws:kms'] as const, {
      'AWS:KMS': 'aws:kms',
    }),
    /** A KMS key id or ARN (with serverSideEncryption aws:kms): a name, not a secret. */
    kmsKeyId: stringWith(
      'KmsKeyId',
      problemUnless((v) => /^[A-Za-z0-9:/_-]{1,2048}$/.test(v), 'a KMS key id or ARN'),
    ),
  },
} as const;

export const AzureLocation = {
  required: { container: AzureContainer },
  optional: {
    /** `https://<account>.blob.core.windows.net` (or one listed in BQBR_AZURE_ACCOUNT_URLS); default: the account of AZURE_STORAGE_CONNECTION_STRING. */
    accountUrl: HttpUrl,
    prefix: ObjectPrefix,
    accessTier: oneOf('AzureAccessTier', ['Hot', 'Cool', 'Cold', 'Archive'] as const, {
      HOT: 'Hot',
      COOL: 'Cool',
      COLD: 'Cold',
      ARCHIVE: 'Archive',
    }),
  },
} as const;

export const FileLocation = {
  /** A directory under one of the roots the services allow (BQBR_FILE_ROOTS). */
  required: { path: LocalPath },
  optional: {},
} as const;

/** The four places, as request fields: exactly one must be given. */
export const DESTINATION_FIELDS = ['gcsOptions', 's3Options', 'azureOptions', 'fileOptions'] as const;
export type DestinationField = (typeof DESTINATION_FIELDS)[number];

const credentials = (where: string): string =>
  `credentials are never taken from a request (requests are logged and stored): set ${where} in the services' environment`;

/** Fields that would carry credentials: refused with a pointer to the environment variables instead. */
export const CREDENTIAL_FIELDS: Readonly<Record<string, string>> = {
  accessKeyId: credentials('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use an IAM role'),
  secretAccessKey: credentials('AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or use an IAM role'),
  sessionToken: credentials('AWS_SESSION_TOKEN'),
  connectionString: credentials('AZURE_STORAGE_CONNECTION_STRING'),
  accountKey: credentials('AZURE_STORAGE_ACCOUNT_KEY, or use a managed identity'),
  sasToken: credentials('AZURE_STORAGE_CONNECTION_STRING (with a SAS)'),
};

/** A destination's options (without exportOptions/importOptions and the restore fields) as a DestinationSpec. */
export function destinationSpec(field: DestinationField, options: Record<string, unknown>): DestinationSpec {
  const pick = (keys: readonly string[]): Record<string, unknown> =>
    Object.fromEntries(keys.filter((k) => options[k] !== undefined).map((k) => [k, options[k]]));
  switch (field) {
    case 'gcsOptions':
      return { kind: 'gcs', uri: options['uri'] as string };
    case 's3Options':
      return { kind: 's3', ...pick(['bucket', ...Object.keys(S3Location.optional)]) } as DestinationSpec;
    case 'azureOptions':
      return {
        kind: 'azure',
        ...pick(['container', ...Object.keys(AzureLocation.optional)]),
      } as DestinationSpec;
    case 'fileOptions':
      return { kind: 'file', path: options['path'] as string };
  }
}

/** Exactly one destination: a cross-field check for BackupStorage and RestoreStorage. */
export function oneDestination(
  value: Readonly<Record<string, unknown>>,
): { path: string[]; message: string }[] {
  const given = DESTINATION_FIELDS.filter((f) => value[f] !== undefined);
  if (given.length === 1) return [];
  return [
    {
      path: given.length === 0 ? ['gcsOptions'] : [given[1]!],
      message:
        given.length === 0
          ? `required: one of ${DESTINATION_FIELDS.join(', ')}`
          : `give one of ${DESTINATION_FIELDS.join(', ')}, not ${given.join(' and ')}`,
    },
  ];
}

/** The destination a request names, with its own options (exportOptions / importOptions and the rest). */
export function chosenDestination<T extends Partial<Record<DestinationField, Record<string, unknown>>>>(
  storage: T,
): { field: DestinationField; options: NonNullable<T[DestinationField]>; spec: DestinationSpec } {
  const field = DESTINATION_FIELDS.find((f) => storage[f] !== undefined);
  if (field === undefined) throw new Error('no destination in the request');
  const options = storage[field]!;
  return { field, options, spec: destinationSpec(field, options) };
}
