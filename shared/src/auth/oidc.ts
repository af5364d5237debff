// Verifying the Google-signed OIDC ID tokens that Pub/Sub push, Eventarc and the API's callers send
// (docs/security.md#authentication). jose checks the signature and the registered claims.
import type { IncomingHttpHeaders } from 'node:http';
import { createRemoteJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { RetryableError } from '../errors.js';
import type { Logger } from '../logging.js';
import type { OidcPolicy } from './config.js';

/** The issuers Google's ID tokens carry. */
export const GOOGLE_ISSUERS: readonly string[] = ['https://accounts.google.com', 'accounts.google.com'];

/** Clock skew allowed on `exp`, `iat` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 30;

export type AuthOutcome =
  | { readonly ok: true; readonly email: string }
  | {
      readonly ok: false;
      /** 401: no token or one that does not authenticate; 403: a valid token of a principal not listed. */
      readonly status: 401 | 403;
      /** Why, in words: never the token itself. */
      readonly message: string;
      /** The token's email, when its signature was valid. */
      readonly email?: string;
    };

export interface Authenticator {
  authenticate(headers: IncomingHttpHeaders): Promise<AuthOutcome>;
}

// One key set per URL, shared by the push and API authenticators (jose caches and refreshes the keys).
const keySets = new Map<string, JWTVerifyGetKey>();

function remoteKeys(url: string): JWTVerifyGetKey {
  let keys = keySets.get(url);
  if (!keys) {
    keys = createRemoteJWKSet(new URL(url));
    keySets.set(url, keys);
  }
  return keys;
}

const refused = (status: 401 | 403, message: string, email?: unknown): AuthOutcome => ({
  ok: false,
  status,
  message,
  ...(typeof email === 'string' ? { email } : {}),
});

/** A jose failure in words; key-server trouble is ours, not the caller's, and is thrown as retryable. */
function explain(err: unknown, url: string): AuthOutcome {
  if (err instanceof errors.JWTExpired) return refused(401, 'the token has expired', err.payload.email);
  if (err instanceof errors.JWTClaimValidationFailed) {
    const email = err.payload.email;
    switch (err.claim) {
      case 'iss':
        return refused(401, 'the token was not issued by Google (accounts.google.com)', email);
      case 'aud':
        return refused(401, "the token is for another audience than this service's", email);
      default:
        return refused(401, `the token's ${err.claim} claim is ${err.reason}`, email);
    }
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return refused(401, 'the token is not signed with RS256');
  if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JWKSNoMatchingKey)
    return refused(401, "the token's signature does not match Google's keys");
  if (
    err instanceof errors.JWKSTimeout ||
    err instanceof errors.JWKSInvalid ||
    !(err instanceof errors.JOSEError)
  )
    throw new RetryableError('backendError', `cannot read the token signing keys from ${url}`, {
      cause: err,
    });
  return refused(401, 'the token is not a well-formed signed JWT');
}

function checkPrincipal(payload: JWTPayload, policy: OidcPolicy): AuthOutcome {
  const { email } = payload;
  if (typeof email !== 'string' || email === '') return refused(401, 'the token carries no email');
  if (payload['email_verified'] !== true) return refused(401, "the token's email is not verified", email);
  if (!policy.principals.includes(email.toLowerCase()))
    return refused(403, `${email} is not allowed to call this service (${policy.principalsVariable})`, email);
  return { ok: true, email };
}

/**
 * Checks `Authorization: Bearer <ID token>` against `policy`: RS256 signature by a key of the policy's
 * JWKS (Google's by default), a Google issuer, one of the audiences, not expired, a verified email in
 * the list. `keys` replaces the remote key set (tests).
 */
export function createAuthenticator(policy: OidcPolicy, keys?: JWTVerifyGetKey): Authenticator {
  const getKey = keys ?? remoteKeys(policy.certsUrl);
  return {
    async authenticate(headers) {
      const header = headers.authorization;
      if (header === undefined || header.trim() === '')
        return refused(401, 'no bearer token: send an ID token for this service (Authorization: Bearer)');
      const match = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
      if (!match) return refused(401, 'the Authorization header is not a bearer token');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(match[1]!, getKey, {
          algorithms: ['RS256'],
          issuer: [...GOOGLE_ISSUERS],
          audience: [...policy.audiences],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          requiredClaims: ['exp'],
        }));
      } catch (err) {
        return explain(err, policy.certsUrl);
      }
      return checkPrincipal(payload, policy);
    },
  };
}

/** What an HTTP server answers a refused request: the status, a JSON error body and its headers. */
export interface AuthRefusal {
  readonly status: 401 | 403;
  readonly message: string;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * Undefined when `authenticator` is off or accepts the request; otherwise the answer to send, after one
 * warn line (the reason, the path, the token's email when its signature held; never the token).
 */
export async function refuseUnauthenticated(
  authenticator: Authenticator | undefined,
  headers: IncomingHttpHeaders,
  path: string,
  logger: Logger,
): Promise<AuthRefusal | undefined> {
  if (authenticator === undefined) return undefined;
  const outcome = await authenticator.authenticate(headers);
  if (outcome.ok) return undefined;
  logger.warn('request refused', {
    path,
    status: outcome.status,
    reason: outcome.message,
    ...(outcome.email === undefined ? {} : { email: outcome.email }),
  });
  // RFC 6750: a 401 names the scheme; invalid_token when a token was sent but did not authenticate.
  const challenge =
    outcome.status === 403
      ? 'Bearer error="insufficient_scope"'
      : headers.authorization
        ? 'Bearer error="invalid_token"'
        : 'Bearer';
  return { status: outcome.status, message: outcome.message, headers: { 'www-authenticate': challenge } };
}
