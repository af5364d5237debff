// A stand-in for Google's token issuer in tests: an RS256 key served as JWKS on a dynamic local port,
// tokens minted with it, and the tokens every authenticated endpoint must refuse.
import { createLogger, type Logger } from '@bqbr/shared';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';

const KID = 'test-key';

export interface OidcIssuer {
  /** Set as BQBR_OIDC_CERTS_URL. */
  readonly certsUrl: string;
  /** An RS256 token with Google's claims for `aud` and `email`; `claims` override them. */
  mint(claims: JWTPayload & { aud: string; email?: string }, signer?: 'issuer' | 'stranger'): Promise<string>;
  /** Requests the JWKS was fetched with. */
  readonly fetches: () => number;
  stop(): Promise<void>;
}

export async function startOidcIssuer(): Promise<OidcIssuer> {
  const issuer = await generateKeyPair('RS256', { extractable: true });
  // Another key under the same key id: a signature by it is looked up and fails.
  const stranger = await generateKeyPair('RS256');
  const jwks = { keys: [{ ...(await exportJWK(issuer.publicKey)), kid: KID, alg: 'RS256', use: 'sig' }] };
  let fetches = 0;
  const server = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwks));
  });
  const base = await listenLocally(server);
  const now = (): number => Math.floor(Date.now() / 1000);
  return {
    certsUrl: `${base}/oauth2/v3/certs`,
    mint: (claims, signer = 'issuer') =>
      new SignJWT({
        iss: 'https://accounts.google.com',
        sub: '1234567890',
        email_verified: true,
        iat: now(),
        exp: now() + 3600,
        ...claims,
      })
        .setProtectedHeader({ alg: 'RS256', kid: KID, typ: 'JWT' })
        .sign(signer === 'issuer' ? issuer.privateKey : stranger.privateKey),
    fetches: () => fetches,
    stop: () => closeServer(server),
  };
}

/** An unsigned token (`alg: none`), built by hand. */
export function unsignedToken(claims: JWTPayload): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

export interface RefusedCase {
  readonly name: string;
  /** The Authorization header; undefined sends none. */
  readonly authorization: string | undefined;
  readonly status: 401 | 403;
}

/**
 * The requests an endpoint for `audience` that lets only `email` in must refuse: no token, another
 * key's, another audience's, an expired one, an unsigned one, another issuer's, an unverified email, an
 * unlisted email, and a header that is not a bearer token.
 */
export async function refusedCases(
  issuer: OidcIssuer,
  audience: string,
  email: string,
): Promise<RefusedCase[]> {
  const now = Math.floor(Date.now() / 1000);
  const bearer = (token: string): string => `Bearer ${token}`;
  return [
    { name: 'no token', authorization: undefined, status: 401 },
    { name: 'not a bearer token', authorization: 'Basic dXNlcjpwYXNz', status: 401 },
    {
      name: 'a token signed by another key',
      authorization: bearer(await issuer.mint({ aud: audience, email }, 'stranger')),
      status: 401,
    },
    {
      name: 'a token for another audience',
      authorization: bearer(await issuer.mint({ aud: 'https://elsewhere.example.com', email })),
      status: 401,
    },
    {
      name: 'an expired token',
      authorization: bearer(await issuer.mint({ aud: audience, email, iat: now - 7200, exp: now - 3600 })),
      status: 401,
    },
    {
      name: 'an unsigned token (alg: none)',
      authorization: bearer(
        unsignedToken({
          iss: 'https://accounts.google.com',
          aud: audience,
          email,
          email_verified: true,
          iat: now,
          exp: now + 3600,
        }),
      ),
      status: 401,
    },
    {
      name: 'a token of another issuer',
      authorization: bearer(await issuer.mint({ aud: audience, email, iss: 'https://issuer.example.com' })),
      status: 401,
    },
    {
      name: 'a token whose email is not verified',
      authorization: bearer(await issuer.mint({ aud: audience, email, email_verified: false })),
      status: 401,
    },
    {
      name: 'a token of an unlisted email',
      authorization: bearer(await issuer.mint({ aud: audience, email: 'intruder@example.com' })),
      status: 403,
    },
  ];
}

/** Listens on a free loopback port: the server's base URL. */
export async function listenLocally(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Closes the server and its connections (a no-op when it never started). */
export function closeServer(server: Server | undefined): Promise<void> {
  if (!server?.listening) return Promise.resolve();
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A JSON logger whose lines are kept, to count the refusals it logged. */
export function capturedLogger(service: string): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean))
        lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ service, format: 'json', stream }), lines };
}
