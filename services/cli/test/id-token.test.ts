// The CLI's ID token (docs/security.md#the-clis-token): sent when given, not looked up for a local API,
// and a refusal of the API in one line that says what to do. Against a local server that records
// each request's Authorization header.
import type { IdTokenSources } from '@bqbr/shared';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { ApiError } from '../src/api-client.js';
import { ApiClient } from '../src/api-client.js';
import { apiAuthorization } from '../src/auth.js';
import { closeServer, listenLocally } from '../../../test/support/oidc-issuer.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('bqbr ID token', function () {
  let server: Server;
  let base: string;
  const seen: (string | undefined)[] = [];
  /** What the server answers next: bqbr's list, or a refusal. */
  let answer: { status: number; body: string } = { status: 200, body: '{"operations":[]}' };

  before(async function () {
    server = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body);
    });
    base = await listenLocally(server);
  });
  beforeEach(function () {
    seen.length = 0;
    answer = { status: 200, body: '{"operations":[]}' };
  });
  after(() => closeServer(server));

  /** Sources that count their use: none may be asked for a local API. */
  function countingSources(): { factory: () => IdTokenSources; uses: () => number } {
    let uses = 0;
    const fail = (): never => {
      throw new Error('no credentials expected to be looked up');
    };
    return {
      factory: () => {
        uses += 1;
        return { adc: fail, adcUser: fail, gcloud: fail };
      },
      uses: () => uses,
    };
  }

  it('sends --id-token, else BQBR_ID_TOKEN, also to a local API', async function () {
    await new ApiClient(
      base,
      apiAuthorization(base, { 'id-token': 'from-option' }, { BQBR_ID_TOKEN: 'from-env' }),
    ).operations({});
    await new ApiClient(base, apiAuthorization(base, {}, { BQBR_ID_TOKEN: 'from-env' })).operations({});
    expect(seen).to.deep.equal(['Bearer from-option', 'Bearer from-env']);
  });

  it('sends no token to a local API without one, and looks none up', async function () {
    const sources = countingSources();
    for (const url of [base, base.replace('127.0.0.1', 'localhost')])
      await new ApiClient(url, apiAuthorization(url, {}, {}, sources.factory)).operations({});
    expect(seen).to.deep.equal([undefined, undefined]);
    expect(sources.uses()).to.equal(0);
  });

  it('asks Google for a token for the API origin, or the audience given, when the API is remote', async function () {
    const asked: string[] = [];
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const token = `e30.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;
    const sources = (): IdTokenSources => ({
      adc: (audience) => (asked.push(audience), Promise.resolve({ kind: 'token', token })),
      adcUser: () => Promise.reject(new Error('unused')),
      gcloud: () => Promise.reject(new Error('unused')),
    });
    const remote = 'https://bqbr-dispatcher-abc-ew.a.run.app';
    expect(await apiAuthorization(remote, {}, {}, sources)()).to.equal(`Bearer ${token}`);
    await apiAuthorization(remote, { audience: 'aud-option' }, { BQBR_API_AUDIENCE: 'a,b' }, sources)();
    await apiAuthorization(remote, {}, { BQBR_API_AUDIENCE: ' aud-env , other' }, sources)();
    expect(asked).to.deep.equal([remote, 'aud-option', 'aud-env']);
  });

  it('turns a 401 or 403 into one line that says what to do', async function () {
    const client = new ApiClient(base, apiAuthorization(base, { 'id-token': 'stale' }, {}));
    const failure = (on: ApiClient = client): Promise<ApiError> =>
      on.operations({}).then(
        () => expect.fail('expected a refusal'),
        (err: unknown) => err as ApiError,
      );
    answer = { status: 401, body: '{"error":{"message":"the token has expired"}}' };
    const expired = await failure();
    expect(expired.status).to.equal(401);
    expect(expired.message).to.contain('the token has expired').and.contain('--id-token');
    // Cloud Run's own refusal is a page, not bqbr's JSON.
    answer = { status: 403, body: '<html><body>Forbidden</body></html>' };
    const forbidden = await failure();
    expect(forbidden.status).to.equal(403);
    expect(forbidden.message).to.contain('roles/run.invoker').and.contain('BQBR_API_PRINCIPALS');
    const anonymous = await failure(new ApiClient(base));
    expect(anonymous.message).to.contain('403');
    answer = { status: 401, body: '' };
    const none = await failure(new ApiClient(base));
    expect(none.message).to.contain('asks for an ID token').and.contain('BQBR_ID_TOKEN');
  });

  it('the command line sends --id-token and says so in its help', async function () {
    const run = promisify(execFile);
    const { stdout } = await run(
      process.execPath,
      ['--import', 'tsx', MAIN, 'list', '--json', '--api', base, '--id-token', 'cli-token'],
      {
        env: { ...process.env, BQBR_ID_TOKEN: '' },
      },
    );
    expect(JSON.parse(stdout)).to.deep.equal([]);
    expect(seen).to.deep.equal(['Bearer cli-token']);
    const help = await run(process.execPath, ['--import', 'tsx', MAIN, '--help']);
    expect(help.stdout).to.contain('--id-token').and.contain('--audience').and.contain('BQBR_ID_TOKEN');
  });
});
