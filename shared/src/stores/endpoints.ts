// Requests never make the services connect where the operator did not allow (docs/security.md,
// "Endpoints"): a request's S3 `endpoint` or Azure `accountUrl` must match the operator's list.
import { PermanentError } from '../errors.js';
import { S3_ENDPOINT_VARIABLE } from './uri.js';
import type { DestinationSpec } from './types.js';

/** Comma-separated S3 endpoints a request may name (default: AWS's public endpoints). */
export const S3_ENDPOINTS_VARIABLE = 'BQBR_S3_ENDPOINTS';
/** Comma-separated Azure account URLs a request may name (default: `https://*.blob.core.windows.net`). */
export const AZURE_ACCOUNT_URLS_VARIABLE = 'BQBR_AZURE_ACCOUNT_URLS';
/** Every variable of the allowlists, as the services, the CLI and the deployment read them. */
export const ENDPOINT_VARIABLES = [S3_ENDPOINTS_VARIABLE, AZURE_ACCOUNT_URLS_VARIABLE] as const;

/** AWS's public S3 endpoints: global, regional, dual-stack, FIPS, and China's partition. */
export const DEFAULT_S3_ENDPOINTS = [
  'https://s3.amazonaws.com',
  'https://s3.*.amazonaws.com',
  'https://s3-*.amazonaws.com',
  'https://s3.dualstack.*.amazonaws.com',
  'https://s3-fips.*.amazonaws.com',
  'https://s3-fips.dualstack.*.amazonaws.com',
  'https://s3.*.amazonaws.com.cn',
  'https://s3.dualstack.*.amazonaws.com.cn',
] as const;
export const DEFAULT_AZURE_ACCOUNT_URLS = ['https://*.blob.core.windows.net'] as const;

type Env = Readonly<Record<string, string | undefined>>;

/** One allowed place: scheme, host (a `*` stands for one DNS label), port, and a path prefix. */
interface AllowedPlace {
  readonly text: string;
  readonly protocol: string;
  readonly host: RegExp;
  readonly port: string;
  /** Without a trailing slash; '' allows every path. */
  readonly path: string;
}

/** The operator's lists, read from `env` (the same variables in the dispatcher, the worker and the CLI). */
export interface EndpointAllowlist {
  readonly s3: readonly AllowedPlace[];
  readonly azure: readonly AllowedPlace[];
}

export function endpointAllowlist(env: Env): EndpointAllowlist {
  const s3 = listFrom(env, S3_ENDPOINTS_VARIABLE, DEFAULT_S3_ENDPOINTS);
  // The CLI's own `s3://` endpoint is the operator's choice too.
  const cliEndpoint = env[S3_ENDPOINT_VARIABLE]?.trim();
  if (cliEndpoint) s3.push(place(cliEndpoint, S3_ENDPOINT_VARIABLE));
  return { s3, azure: listFrom(env, AZURE_ACCOUNT_URLS_VARIABLE, DEFAULT_AZURE_ACCOUNT_URLS) };
}

/**
 * Throws a PermanentError('accessDenied') naming the variable to set when `destination` names an S3
 * endpoint or an Azure account URL outside the allowlist; nothing is connected to either way.
 */
export function checkEndpoint(destination: DestinationSpec, allowed: EndpointAllowlist): void {
  if (destination.kind === 's3' && destination.endpoint !== undefined) {
    ensureAllowed('S3 endpoint', destination.endpoint, allowed.s3, S3_ENDPOINTS_VARIABLE);
  }
  if (destination.kind === 'azure' && destination.accountUrl !== undefined) {
    ensureAllowed('Azure account URL', destination.accountUrl, allowed.azure, AZURE_ACCOUNT_URLS_VARIABLE);
  }
}

function ensureAllowed(what: string, url: string, allowed: readonly AllowedPlace[], variable: string): void {
  if (allowed.some((entry) => matches(entry, url))) return;
  const origin = originOf(url);
  throw new PermanentError(
    'accessDenied',
    `${what} ${origin} is not allowed: the operator lists the allowed ones in ${variable} (now: ${allowed.map((a) => a.text).join(', ')})`,
  );
}

function listFrom(env: Env, variable: string, defaults: readonly string[]): AllowedPlace[] {
  const text = env[variable]?.trim();
  const entries = text
    ? text
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
    : defaults;
  return entries.map((entry) => place(entry, variable));
}

function place(entry: string, variable: string): AllowedPlace {
  // `*` is not a valid host character for URL: parse with a stand-in label.
  const url = parseUrl(entry.replace(/\*/g, 'wildcard---label'));
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username || url.password)
    throw new PermanentError('invalid', `${variable}: expected http(s) URLs, got ${JSON.stringify(entry)}`);
  const labels = url.hostname
    .split('.')
    .map((label) =>
      label === 'wildcard---label' ? '[a-z0-9-]+' : label.replace(/[^a-z0-9]/g, (c) => `\\${c}`),
    );
  return {
    text: entry,
    protocol: url.protocol,
    host: new RegExp(`^${labels.join('\\.')}$`),
    port: portOf(url),
    path: url.pathname.replace(/\/+$/, ''),
  };
}

function matches(entry: AllowedPlace, candidate: string): boolean {
  const url = parseUrl(candidate);
  if (!url || url.username || url.password) return false;
  if (url.protocol !== entry.protocol || portOf(url) !== entry.port) return false;
  if (!entry.host.test(url.hostname)) return false;
  const path = url.pathname.replace(/\/+$/, '');
  return entry.path === '' || path === entry.path || path.startsWith(`${entry.path}/`);
}

const portOf = (url: URL): string => url.port || (url.protocol === 'https:' ? '443' : '80');

function parseUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

/** Scheme, host and path only: a query or a password in the URL is never repeated. */
function originOf(url: string): string {
  const parsed = parseUrl(url);
  return parsed ? `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}` : JSON.stringify('(not a URL)');
}
