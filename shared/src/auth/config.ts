// The authentication settings both services read (docs/security.md#authentication): one codec, so the
// dispatcher, the worker and the Terraform check name the same variables.
import * as t from 'io-ts';
import { ValidationError, show } from '../decode.js';
import { decodeEnv, withDefault, type Env } from '../env.js';

/** Google's signing keys for the ID tokens it issues (JWKS). */
export const GOOGLE_CERTS_URL = 'https://www.googleapis.com/oauth2/v3/certs';

/** `a, b,c` as `['a', 'b', 'c']`: empty items dropped. */
const CommaList = new t.Type<readonly string[], string, unknown>(
  'CommaList',
  (u): u is readonly string[] => Array.isArray(u) && u.every((item) => typeof item === 'string'),
  (u, c) =>
    typeof u === 'string'
      ? t.success(
          u
            .split(',')
            .map((item) => item.trim())
            .filter((item) => item !== ''),
        )
      : t.failure(u, c, `expected a comma-separated list, got ${show(u)}`),
  (list) => list.join(','),
);

const HttpUrl = new t.Type<string, string, unknown>(
  'HttpUrl',
  (u): u is string => typeof u === 'string',
  (u, c) => {
    if (typeof u !== 'string') return t.failure(u, c, `expected a URL, got ${show(u)}`);
    try {
      const { protocol } = new URL(u);
      if (protocol === 'https:' || protocol === 'http:') return t.success(u);
    } catch {
      // reported below
    }
    return t.failure(u, c, `expected an http(s) URL of a JWKS document, got ${show(u)}`);
  },
  t.identity,
);

const list = withDefault(CommaList, []);
const CertsUrl = { BQBR_OIDC_CERTS_URL: withDefault(HttpUrl, GOOGLE_CERTS_URL) };

/** What the push and Eventarc endpoints of both services accept (the worker reads only these). */
export const PushAuthEnv = t.type({
  BQBR_PUSH_AUDIENCE: list,
  BQBR_PUSH_SERVICE_ACCOUNTS: list,
  ...CertsUrl,
});

/** What the dispatcher's HTTP API accepts. */
export const ApiAuthEnv = t.type({
  BQBR_API_AUDIENCE: list,
  BQBR_API_PRINCIPALS: list,
  ...CertsUrl,
});

/** Every authentication variable: `Object.keys(AuthEnv.props)`. */
export const AuthEnv = t.type({ ...PushAuthEnv.props, ...ApiAuthEnv.props });

export const AUTH_ENV_NAMES = Object.keys(AuthEnv.props) as readonly (keyof typeof AuthEnv.props)[];

/** Who may call one group of endpoints: a token for one of `audiences`, of one of `principals`. */
export interface OidcPolicy {
  readonly audiences: readonly string[];
  /** Emails, lower case. */
  readonly principals: readonly string[];
  /** The JWKS URL the token's signature is checked against. */
  readonly certsUrl: string;
  /** The variable that lists the principals, named when one is refused. */
  readonly principalsVariable: string;
}

/** Undefined policies are off (local runs); on when the audience variable is set. */
export interface AuthConfig {
  readonly push?: OidcPolicy;
  readonly api?: OidcPolicy;
}

function policy(
  audiences: readonly string[],
  principals: readonly string[],
  certsUrl: string,
  names: { audience: string; principals: string },
): OidcPolicy | undefined {
  if (audiences.length === 0) {
    if (principals.length === 0) return undefined;
    throw new ValidationError('configuration', [
      { path: names.audience, message: `required with ${names.principals}: the token audience to accept` },
    ]);
  }
  if (principals.length === 0)
    throw new ValidationError('configuration', [
      {
        path: names.principals,
        message: `required with ${names.audience}: the comma-separated emails allowed to call`,
      },
    ]);
  return {
    audiences,
    principals: principals.map((email) => email.toLowerCase()),
    certsUrl,
    principalsVariable: names.principals,
  };
}

/** The push endpoints' policy from `env`, or a ValidationError naming the variable at fault. */
export function pushAuthFromEnv(env: Env = process.env): OidcPolicy | undefined {
  const vars = decodeEnv(PushAuthEnv, env);
  return policy(vars.BQBR_PUSH_AUDIENCE, vars.BQBR_PUSH_SERVICE_ACCOUNTS, vars.BQBR_OIDC_CERTS_URL, {
    audience: 'BQBR_PUSH_AUDIENCE',
    principals: 'BQBR_PUSH_SERVICE_ACCOUNTS',
  });
}

/** Both policies from `env` (the dispatcher's), or a ValidationError naming the variable at fault. */
export function authFromEnv(env: Env = process.env): AuthConfig {
  const vars = decodeEnv(ApiAuthEnv, env);
  const push = pushAuthFromEnv(env);
  const api = policy(vars.BQBR_API_AUDIENCE, vars.BQBR_API_PRINCIPALS, vars.BQBR_OIDC_CERTS_URL, {
    audience: 'BQBR_API_AUDIENCE',
    principals: 'BQBR_API_PRINCIPALS',
  });
  return { ...(push ? { push } : {}), ...(api ? { api } : {}) };
}
