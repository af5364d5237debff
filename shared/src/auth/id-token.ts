// The CLI's side of authentication: an ID token for the API's audience, from Google's default
// credentials or gcloud (docs/security.md#the-clis-token).
import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { GoogleAuth, Impersonated, UserRefreshClient } from 'google-auth-library';
import { decodeJwt } from 'jose';
import { PermanentError } from '../errors.js';

/** 127.0.0.0/8, ::1 and localhost: no token is looked up for a dispatcher on this machine. */
export function isLoopbackUrl(url: string): boolean {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1' || host === '::ffff:127.0.0.1' || /^::ffff:127\./.test(host);
}

/** Where ID tokens come from; replaceable in tests. */
export interface IdTokenSources {
  /**
   * Google's application default credentials: `token` for a service account, the metadata server or
   * impersonation; `user` for `gcloud auth application-default login` (whose ID tokens are for the
   * OAuth client, whatever audience is asked); `none` without credentials.
   */
  adc(audience: string): Promise<{ kind: 'token'; token: string } | { kind: 'user' | 'none' }>;
  /** An ID token for the user's token from user credentials, whose audience is the OAuth client. */
  adcUser(audience: string): Promise<string>;
  /** `gcloud auth print-identity-token`; undefined when gcloud is not on PATH. */
  gcloud(): Promise<string | undefined>;
}

export const googleIdTokenSources = (): IdTokenSources => {
  const auth = new GoogleAuth();
  return {
    async adc(audience) {
      let client;
      try {
        client = await auth.getClient();
      } catch {
        return { kind: 'none' };
      }
      if (client instanceof UserRefreshClient) return { kind: 'user' };
      if (client instanceof Impersonated)
        return { kind: 'token', token: await client.fetchIdToken(audience, { includeEmail: true }) };
      if ('fetchIdToken' in client && typeof client.fetchIdToken === 'function')
        return {
          kind: 'token',
          token: await client.fetchIdToken(audience),
        };
      return { kind: 'none' };
    },
    async adcUser(audience) {
      const client = await auth.getClient();
      return (client as UserRefreshClient).fetchIdToken(audience);
    },
    gcloud: () =>
      new Promise((resolve, reject) => {
        execFile('gcloud', ['auth', 'print-identity-token'], { timeout: 60_000 }, (err, stdout, stderr) => {
          if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') return resolve(undefined);
          if (err)
            return reject(
              new PermanentError(
                'unauthenticated',
                `gcloud auth print-identity-token failed (${stderr.trim().split('\n').pop() ?? err.message}): sign in with gcloud auth login, or give a token with --id-token or BQBR_ID_TOKEN`,
              ),
            );
          resolve(stdout.trim());
        });
      }),
  };
};

/**
 * An ID token for `audience`: a service account's, the metadata server's or an impersonated one from
 * the default credentials; for a user, gcloud's (what `gcloud auth print-identity-token` prints), else
 * the default user credentials' own.
 */
export async function googleIdToken(audience: string, sources: IdTokenSources): Promise<string> {
  const adc = await sources.adc(audience);
  if (adc.kind === 'token') return adc.token;
  const fromGcloud = await sources.gcloud();
  if (fromGcloud) return fromGcloud;
  if (adc.kind === 'user') return sources.adcUser(audience);
  throw new PermanentError(
    'unauthenticated',
    `no Google credentials to sign in to ${audience} with: run gcloud auth login (or gcloud auth application-default login), or give a token with --id-token or BQBR_ID_TOKEN`,
  );
}

/** Seconds before expiry at which a cached token is fetched again. */
const REFRESH_MARGIN_SECONDS = 120;

/**
 * The `Authorization` value for each call to `apiUrl`: `override` as given (also for a local API), else
 * none for a loopback URL (nothing is looked up), else a Google ID token for `audience` (default: the
 * URL's origin), fetched again shortly before it expires.
 */
export function bearerTokens(options: {
  apiUrl: string;
  override?: string;
  audience?: string;
  sources?: () => IdTokenSources;
}): () => Promise<string | undefined> {
  const { apiUrl, override } = options;
  if (override) return () => Promise.resolve(`Bearer ${override}`);
  if (isLoopbackUrl(apiUrl)) return () => Promise.resolve(undefined);
  const audience = options.audience || new URL(apiUrl).origin;
  let sources: IdTokenSources | undefined;
  let cached: { token: string; refreshAt: number } | undefined;
  return async () => {
    if (!cached || Date.now() >= cached.refreshAt) {
      sources ??= (options.sources ?? googleIdTokenSources)();
      const token = await googleIdToken(audience, sources);
      const { exp } = decodeJwt(token);
      cached = { token, refreshAt: ((exp ?? 0) - REFRESH_MARGIN_SECONDS) * 1000 };
    }
    return `Bearer ${cached.token}`;
  };
}
