// Codecs for the values requests are made of, each with the naming rules of the Google service it names.
import { oneOf, stringWith } from '../codecs.js';
import { show } from '../decode.js';
import { isTimeZone, parseBackupFolderName, parseLocalDateTime } from '../snapshot-time.js';

const problemUnless =
  (test: (value: string) => boolean, expected: string) =>
  (value: string): string | undefined =>
    test(value) ? undefined : `expected ${expected}, got ${show(value)}`;

// GCP project ids: 6-30 of [a-z0-9-], starting with a letter, not ending with a hyphen; legacy
// domain-scoped ids prefix a domain and a colon (`example.com:my-project`).
const PROJECT_ID = /^(?:[a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
export const ProjectId = stringWith(
  'ProjectId',
  problemUnless(
    (v) => PROJECT_ID.test(v),
    'a project id (6-30 lowercase letters, digits or hyphens, starting with a letter)',
  ),
);

export const DatasetName = stringWith(
  'DatasetName',
  problemUnless(
    (v) => /^[A-Za-z0-9_]{1,1024}$/.test(v),
    'a dataset name (at most 1024 letters, digits or underscores)',
  ),
);

// BigQuery table names: Unicode letters, marks, numbers, connectors (_), dashes and spaces, up to 1024 bytes.
const TABLE_CHARS = '\\p{L}\\p{M}\\p{N}\\p{Pc}\\p{Pd}\\p{Zs}';
const TABLE_NAME = new RegExp(`^[${TABLE_CHARS}]+$`, 'u');
const TABLE_PATTERN = new RegExp(`^[${TABLE_CHARS}*]+$`, 'u');
const fitsTableName = (v: string): boolean => Buffer.byteLength(v, 'utf8') <= 1024;

export const TableName = stringWith(
  'TableName',
  problemUnless(
    (v) => TABLE_NAME.test(v) && fitsTableName(v),
    'a table name (letters, numbers, underscores, dashes or spaces, at most 1024 bytes)',
  ),
);

/** A table name where `*` matches any run of characters, e.g. `daily_*`. */
export const TablePattern = stringWith(
  'TablePattern',
  problemUnless(
    (v) => TABLE_PATTERN.test(v) && fitsTableName(v),
    'a table name pattern (table name characters and * wildcards)',
  ),
);

/** `dataset.table` with `*` wildcards in either part, or a bare table pattern meaning any dataset. */
export const QualifiedTablePattern = stringWith(
  'QualifiedTablePattern',
  problemUnless((v) => {
    const parts = v.split('.');
    const table = parts.pop()!;
    return parts.length <= 1 && parts.every((d) => /^[A-Za-z0-9_*]+$/.test(d)) && TABLE_PATTERN.test(table);
  }, 'a table pattern (table or dataset.table, with * wildcards)'),
);

/** `dataset.table`, exactly one table. */
export const QualifiedTableName = stringWith(
  'QualifiedTableName',
  problemUnless((v) => {
    const [dataset = '', table = '', ...rest] = v.split('.');
    return rest.length === 0 && /^[A-Za-z0-9_]{1,1024}$/.test(dataset) && TABLE_NAME.test(table);
  }, 'dataset.table'),
);

export const GcsUri = stringWith('GcsUri', gcsUriProblem);

// Cloud Storage bucket naming rules: https://cloud.google.com/storage/docs/buckets#naming
function gcsUriProblem(uri: string): string | undefined {
  const match = /^gs:\/\/([^/]*)(\/.*)?$/.exec(uri);
  if (!match) return `expected a gs://bucket[/path] URI, got ${show(uri)}`;
  const bucket = match[1]!;
  const path = match[2] ?? '';
  const maxLength = bucket.includes('.') ? 222 : 63;
  if (
    !/^[a-z0-9][a-z0-9._-]*[a-z0-9]$/.test(bucket) ||
    bucket.length < 3 ||
    bucket.length > maxLength ||
    bucket.split('.').some((part) => part.length === 0 || part.length > 63)
  ) {
    return `expected a bucket name of 3-63 lowercase letters, digits, -, _ or . starting and ending with a letter or digit, got ${show(bucket)}`;
  }
  if (/^\d+\.\d+\.\d+\.\d+$/.test(bucket))
    return `a bucket name cannot be an IP address, got ${show(bucket)}`;
  if (bucket.startsWith('goog') || /g[o0]{2}g[l1]e/.test(bucket)) {
    return `a bucket name cannot start with "goog" or contain "google", got ${show(bucket)}`;
  }
  // The path becomes a folder prefix: empty segments and wildcards would make listings ambiguous.
  if (/\/\/|[*?[\]#]/.test(path.replace(/\/$/, '')) || /[\r\n]/.test(path)) {
    return `expected a path without empty segments, wildcards, # or line breaks, got ${show(path)}`;
  }
  return undefined;
}

export const FORMATS = ['AVRO', 'PARQUET', 'CSV', 'JSON'] as const;
export type Format = (typeof FORMATS)[number];
export const Format = oneOf<Format>('Format', FORMATS, { NEWLINE_DELIMITED_JSON: 'JSON' });

export const COMPRESSIONS = ['NONE', 'GZIP', 'DEFLATE', 'SNAPPY', 'ZSTD'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export const Compression = oneOf<Compression>('Compression', COMPRESSIONS);

/** What BigQuery's extract jobs accept per destination format. */
export const COMPRESSIONS_BY_FORMAT: Readonly<Record<Format, readonly Compression[]>> = {
  CSV: ['NONE', 'GZIP'],
  JSON: ['NONE', 'GZIP'],
  AVRO: ['NONE', 'DEFLATE', 'SNAPPY'],
  PARQUET: ['NONE', 'SNAPPY', 'GZIP', 'ZSTD'],
};

export const WRITE_DISPOSITIONS = ['WRITE_TRUNCATE', 'WRITE_APPEND', 'WRITE_EMPTY'] as const;
export type WriteDisposition = (typeof WRITE_DISPOSITIONS)[number];
export const WriteDisposition = oneOf<WriteDisposition>('WriteDisposition', WRITE_DISPOSITIONS);

// BigQuery takes `\t` (backslash-t) or `tab` for a tab, otherwise one ISO-8859-1 (single-byte) character.
export const FieldDelimiter = stringWith(
  'FieldDelimiter',
  problemUnless(
    (v) =>
      v === '\\t' ||
      v.toLowerCase() === 'tab' ||
      (v.length === 1 && v.charCodeAt(0) <= 0xff && !/["\r\n]/.test(v)),
    'one character (or "\\t" or "tab" for a tab), not a quote or line break',
  ),
);

// A BigQuery location: a multi-region (US, EU) or a region such as europe-west3.
export const Location = stringWith(
  'Location',
  problemUnless(
    (v) => /^(?:[A-Za-z]+|[a-z]+-[a-z]+\d+)$/.test(v),
    'a BigQuery location such as EU, US or europe-west3',
  ),
);

export const LocalDateTimeText = stringWith(
  'LocalDateTime',
  problemUnless(
    (v) => parseLocalDateTime(v) !== undefined,
    'an ISO local date-time without offset, like 2026-11-20T23:30:00 (put the zone in timezone)',
  ),
);

export const TimeZone = stringWith(
  'TimeZone',
  problemUnless(isTimeZone, 'an IANA time zone such as Europe/Berlin, UTC, or an offset such as +01:00'),
);

/** A backup's timestamp folder, `yyyyMMdd_HHmmss`, or `latest` for the newest backup of the project. */
export const BackupTimestamp = stringWith(
  'BackupTimestamp',
  // A folder's full name (`yyyyMMdd_HHmmss_<12 hex>`) picks one of several backups of the same second.
  problemUnless(
    (v) => v === 'latest' || parseBackupFolderName(v) !== undefined,
    'a backup timestamp yyyyMMdd_HHmmss (or a backup folder name yyyyMMdd_HHmmss_<12 hex digits>) or "latest"',
  ),
);

// Operation ids become Firestore document ids, which may not be `.`, `..` or `__name__`-shaped.
export const OperationId = stringWith(
  'OperationId',
  problemUnless(
    (v) => /^[A-Za-z0-9_.-]{1,128}$/.test(v) && v !== '.' && v !== '..' && !/^__.*__$/.test(v),
    'an operation id (1-128 letters, digits, _, . or -)',
  ),
);

/** `verify: "fingerprint"` (docs/contracts.md, "Value verification"): compare tables' values, not only their counts. */
export const ValueVerification = oneOf('ValueVerification', ['FINGERPRINT'] as const);
