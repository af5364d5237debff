// Nothing from a request that looks like a credential is stored or logged (docs/security.md,
// "Credentials"): values are replaced by REDACTED before a request, a message or a log line is kept.

/** What a credential's value is replaced with. */
export const REDACTED = '[redacted]';

// Names compared without case, `_` or `-`: `private_key`, `privateKey` and `PRIVATE-KEY` are one name.
const squash = (name: string): string => name.toLowerCase().replace(/[_-]/g, '');

const SECRET_NAMES = new Set(
  [
    // CREDENTIAL_FIELDS (contracts/destinations.ts), listed here to keep decode.ts free of an import cycle.
    'secretAccessKey',
    'sessionToken',
    'password',
    'passwd',
    'pwd',
    'secret',
    'privateKey',
    'privateKeyId',
    'credential',
    'credentials',
    'clientSecret',
    'apiKey',
    'accessKey',
    'accessKeyId',
    'secretKey',
    'accountKey',
    'sharedKey',
    'sasToken',
    'sas',
    'sig',
    'signature',
    'connectionString',
    'serviceAccountKey',
    'authorization',
    'cookie',
    'token',
  ].map(squash),
);

// Any name with one of these inside is a secret (`dbPassword`, `clientSecretValue`, `awsSessionToken`).
const SECRET_PARTS = [
  'password',
  'passwd',
  'secret',
  'privatekey',
  'credential',
  'apikey',
  'accesskey',
  'accountkey',
];

// Tokens that only page through a listing are not credentials.
const PAGING_TOKEN = /(page|continuation|next|sync|resume)token$/;

/** Whether a field of this name carries a credential (case, `_` and `-` aside). */
export function isCredentialName(name: string): boolean {
  const key = squash(name);
  if (SECRET_NAMES.has(key)) return true;
  if (SECRET_PARTS.some((part) => key.includes(part))) return true;
  return key.endsWith('token') && !PAGING_TOKEN.test(key);
}

const PEM_PRIVATE_KEY =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
// `scheme://user:password@host` or `scheme://token@host`.
const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@"'<>]+@/gi;
// SAS and presigned URLs: signature, credential and token parameters.
const SECRET_QUERY =
  /([?&](?:sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential|token|access_token|api_key|apikey|key|password|secret)=)[^&#\s"'<>]*/gi;
// Connection strings: `AccountKey=...;SharedAccessSignature=...`.
const CONNECTION_SECRET =
  /\b((?:AccountKey|SharedAccessSignature|SharedAccessKey|Password|Pwd)=)[^;\s"'<>]*/gi;
// `"name": "value"` and `name=value` inside a text (a JSON body quoted in an error message).
const QUOTED_FIELD = /("([^"\\]{1,100})"\s*:\s*)"(?:[^"\\]|\\.)*"/g;

/** `text` with every credential inside it (private keys, URL passwords, signatures, account keys) replaced. */
export function redactText(text: string): string {
  if (text === REDACTED) return text;
  return text
    .replace(PEM_PRIVATE_KEY, REDACTED)
    .replace(URL_USERINFO, `$1${REDACTED}@`)
    .replace(SECRET_QUERY, `$1${REDACTED}`)
    .replace(CONNECTION_SECRET, `$1${REDACTED}`)
    .replace(QUOTED_FIELD, (whole, head: string, name: string) =>
      isCredentialName(name) ? `${head}"${REDACTED}"` : whole,
    );
}

/**
 * A deep copy of a JSON value with every credential replaced by REDACTED: the value of any field named
 * like a credential (isCredentialName), at any depth, and every credential inside a string (redactText).
 */
export function redact<T>(value: T): T {
  return redactValue(value, 0) as T;
}

function redactValue(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return redactText(value);
  if (typeof value !== 'object' || value === null) return value;
  // Deeper than anything that is stored (Firestore keeps 20 levels): nothing below is kept.
  if (depth > 64) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redactValue(item, depth + 1));
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      isCredentialName(key) && item !== undefined && item !== null ? REDACTED : redactValue(item, depth + 1),
    ]),
  );
}
