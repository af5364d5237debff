// OIDC verification of push, Eventarc and API callers against a local issuer served as JWKS.
import { expect } from 'chai';
import {
  AuthEnv,
  ApiAuthEnv,
  GOOGLE_CERTS_URL,
  PushAuthEnv,
  RetryableError,
  ValidationError,
  authFromEnv,
  bearerTokens,
  createAuthenticator,
  googleIdToken,
  isLoopbackUrl,
  pushAuthFromEnv,
  refuseUnauthenticated,
  type IdTokenSources,
  type OidcPolicy,
} from '../src/index.js';
import {
  capturedLogger,
  refusedCases,
  startOidcIssuer,
  type OidcIssuer,
} from '../../test/support/oidc-issuer.js';

const AUDIENCE = 'https://bqbr-dispatcher-abc-ew.a.run.app';
const PUSHER = 'bqbr-push@p.iam.gserviceaccount.com';

function configError(run: () => unknown): ValidationError {
  try {
    run();
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return err as ValidationError;
  }
  return expect.fail('expected a ValidationError');
}

describe('authentication configuration', function () {
  it('lists every variable it reads', function () {
    expect(Object.keys(AuthEnv.props)).to.have.members([
      'BQBR_PUSH_AUDIENCE',
      'BQBR_PUSH_SERVICE_ACCOUNTS',
      'BQBR_API_AUDIENCE',
      'BQBR_API_PRINCIPALS',
      'BQBR_OIDC_CERTS_URL',
    ]);
    expect(Object.keys(PushAuthEnv.props)).to.have.members([
      'BQBR_PUSH_AUDIENCE',
      'BQBR_PUSH_SERVICE_ACCOUNTS',
      'BQBR_OIDC_CERTS_URL',
    ]);
    expect(Object.keys(ApiAuthEnv.props)).to.include('BQBR_API_PRINCIPALS');
  });

  it('is off without an audience, on with one and its principals', function () {
    expect(authFromEnv({})).to.deep.equal({});
    const auth = authFromEnv({
      BQBR_PUSH_AUDIENCE: `${AUDIENCE}/pubsub/requests, ${AUDIENCE}`,
      BQBR_PUSH_SERVICE_ACCOUNTS: ` ${PUSHER.toUpperCase()} ,`,
      BQBR_API_AUDIENCE: AUDIENCE,
      BQBR_API_PRINCIPALS: 'Ada@example.com,ops@p.iam.gserviceaccount.com',
    });
    expect(auth.push).to.deep.equal({
      audiences: [`${AUDIENCE}/pubsub/requests`, AUDIENCE],
      principals: [PUSHER],
      certsUrl: GOOGLE_CERTS_URL,
      principalsVariable: 'BQBR_PUSH_SERVICE_ACCOUNTS',
    });
    expect(auth.api?.principals).to.deep.equal(['ada@example.com', 'ops@p.iam.gserviceaccount.com']);
    expect(
      pushAuthFromEnv({
        BQBR_PUSH_AUDIENCE: AUDIENCE,
        BQBR_PUSH_SERVICE_ACCOUNTS: PUSHER,
        BQBR_OIDC_CERTS_URL: 'http://127.0.0.1:1/certs',
      })?.certsUrl,
    ).to.equal('http://127.0.0.1:1/certs');
  });

  it('refuses an audience without principals, naming the variable', function () {
    const push = configError(() => pushAuthFromEnv({ BQBR_PUSH_AUDIENCE: AUDIENCE }));
    expect(push.issues.map((issue) => issue.path)).to.deep.equal(['BQBR_PUSH_SERVICE_ACCOUNTS']);
    const api = configError(() => authFromEnv({ BQBR_API_AUDIENCE: AUDIENCE }));
    expect(api.message).to.contain('BQBR_API_PRINCIPALS');
    const orphan = configError(() => authFromEnv({ BQBR_API_PRINCIPALS: 'ada@example.com' }));
    expect(orphan.issues.map((issue) => issue.path)).to.deep.equal(['BQBR_API_AUDIENCE']);
    const url = configError(() => pushAuthFromEnv({ BQBR_OIDC_CERTS_URL: 'not a url' }));
    expect(url.issues.map((issue) => issue.path)).to.deep.equal(['BQBR_OIDC_CERTS_URL']);
  });
});

describe('OIDC authenticator', function () {
  let issuer: OidcIssuer;
  let policy: OidcPolicy;

  before(async function () {
    issuer = await startOidcIssuer();
    policy = {
      audiences: ['https://other-audience.example.com', AUDIENCE],
      principals: [PUSHER],
      certsUrl: issuer.certsUrl,
      principalsVariable: 'BQBR_PUSH_SERVICE_ACCOUNTS',
    };
  });
  after(() => issuer?.stop());

  it('accepts a Google-signed token for a listed audience and email, either issuer form, any case', async function () {
    const auth = createAuthenticator(policy);
    for (const iss of ['https://accounts.google.com', 'accounts.google.com']) {
      const token = await issuer.mint({ aud: AUDIENCE, email: PUSHER.toUpperCase(), iss });
      expect(await auth.authenticate({ authorization: `bearer ${token}` })).to.deep.equal({
        ok: true,
        email: PUSHER.toUpperCase(),
      });
    }
    expect(issuer.fetches()).to.be.at.least(1);
  });

  it('refuses every other token, saying why without echoing it', async function () {
    const auth = createAuthenticator(policy);
    const cases = await refusedCases(issuer, AUDIENCE, PUSHER);
    const seen: string[] = [];
    for (const { name, authorization, status } of cases) {
      const outcome = await auth.authenticate(authorization === undefined ? {} : { authorization });
      expect(outcome, name).to.include({ ok: false, status });
      const message = (outcome as { message: string }).message;
      expect(message, name).to.be.a('string').and.not.equal('');
      if (authorization) expect(message, name).not.to.contain(authorization.split(' ')[1]!.slice(0, 20));
      seen.push(message);
    }
    expect(seen).to.include.members([
      'the token has expired',
      "the token's signature does not match Google's keys",
      "the token is for another audience than this service's",
      "the token's email is not verified",
      'the token was not issued by Google (accounts.google.com)',
      'intruder@example.com is not allowed to call this service (BQBR_PUSH_SERVICE_ACCOUNTS)',
    ]);
  });

  it('refuses a token without an email', async function () {
    const token = await issuer.mint({ aud: AUDIENCE });
    expect(
      await createAuthenticator(policy).authenticate({ authorization: `Bearer ${token}` }),
    ).to.deep.equal({
      ok: false,
      status: 401,
      message: 'the token carries no email',
    });
  });

  it('treats an unreachable key server as retryable, not as a bad token', async function () {
    const token = await issuer.mint({ aud: AUDIENCE, email: PUSHER });
    const auth = createAuthenticator({ ...policy, certsUrl: 'http://127.0.0.1:9/certs' });
    const failure = await auth.authenticate({ authorization: `Bearer ${token}` }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).to.be.instanceOf(RetryableError);
  });

  it('answers a refusal with a Bearer challenge and logs one line without the token', async function () {
    const { logger, lines } = capturedLogger('test');
    const auth = createAuthenticator(policy);
    expect(await refuseUnauthenticated(undefined, {}, '/x', logger)).to.equal(undefined);
    expect(await refuseUnauthenticated(auth, {}, '/pubsub/requests', logger)).to.deep.include({
      status: 401,
      headers: { 'www-authenticate': 'Bearer' },
    });
    const stranger = await issuer.mint({ aud: AUDIENCE, email: 'intruder@example.com' });
    const refusal = await refuseUnauthenticated(
      auth,
      { authorization: `Bearer ${stranger}` },
      '/pubsub/events',
      logger,
    );
    expect(refusal?.status).to.equal(403);
    const valid = await issuer.mint({ aud: AUDIENCE, email: PUSHER });
    expect(
      await refuseUnauthenticated(auth, { authorization: `Bearer ${valid}` }, '/pubsub/events', logger),
    ).to.equal(undefined);
    const refused = lines.filter((line) => line['message'] === 'request refused');
    expect(refused).to.have.length(2);
    expect(refused[1]).to.include({ path: '/pubsub/events', status: 403, email: 'intruder@example.com' });
    expect(JSON.stringify(lines)).not.to.contain(stranger);
  });
});

describe('the CLI side: ID tokens for the API', function () {
  const token = (exp: number): string =>
    `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;

  function sources(adc: Awaited<ReturnType<IdTokenSources['adc']>>, gcloud?: string) {
    const calls: string[] = [];
    const fake: IdTokenSources = {
      adc: (audience) => (calls.push(`adc ${audience}`), Promise.resolve(adc)),
      adcUser: (audience) => (calls.push(`adcUser ${audience}`), Promise.resolve('user-adc-token')),
      gcloud: () => (calls.push('gcloud'), Promise.resolve(gcloud)),
    };
    return { fake, calls };
  }

  it('knows the loopback hosts', function () {
    for (const url of [
      'http://127.0.0.1:8080',
      'http://127.9.0.1',
      'http://localhost:1',
      'http://[::1]:8080',
    ])
      expect(isLoopbackUrl(url), url).to.equal(true);
    for (const url of ['https://bqbr-abc.a.run.app', 'http://10.0.0.1', 'http://128.0.0.1', 'http://[::2]'])
      expect(isLoopbackUrl(url), url).to.equal(false);
  });

  it('takes a service account token for the audience, else gcloud, else the user credentials', async function () {
    const service = sources({ kind: 'token', token: 'sa-token' }, 'gcloud-token');
    expect(await googleIdToken(AUDIENCE, service.fake)).to.equal('sa-token');
    expect(service.calls).to.deep.equal([`adc ${AUDIENCE}`]);
    const user = sources({ kind: 'user' }, 'gcloud-token');
    expect(await googleIdToken(AUDIENCE, user.fake)).to.equal('gcloud-token');
    const userOnly = sources({ kind: 'user' });
    expect(await googleIdToken(AUDIENCE, userOnly.fake)).to.equal('user-adc-token');
    const none = sources({ kind: 'none' });
    const failure = await googleIdToken(AUDIENCE, none.fake).catch((err: Error) => err);
    expect((failure as Error).message)
      .to.contain('gcloud auth login')
      .and.contain('--id-token');
  });

  it('sends an override as given, nothing to a loopback URL, and a cached token elsewhere', async function () {
    const looked = sources({ kind: 'token', token: token(Math.floor(Date.now() / 1000) + 3600) });
    expect(await bearerTokens({ apiUrl: 'http://127.0.0.1:8080', override: 'given' })()).to.equal(
      'Bearer given',
    );
    expect(await bearerTokens({ apiUrl: 'http://127.0.0.1:8080', sources: () => looked.fake })()).to.equal(
      undefined,
    );
    expect(looked.calls).to.deep.equal([]);
    const remote = bearerTokens({ apiUrl: `${AUDIENCE}/some/path`, sources: () => looked.fake });
    const first = await remote();
    expect(await remote()).to.equal(first);
    expect(looked.calls).to.deep.equal([`adc ${AUDIENCE}`]);
  });
});
