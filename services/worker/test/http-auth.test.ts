// Authentication of the worker's push endpoint (docs/security.md#authentication): the real HTTP server
// with a counting task handler, and a local issuer served as JWKS.
import { createAuthenticator, type ReceivedMessage } from '@bqbr/shared';
import { expect } from 'chai';
import type { Server } from 'node:http';
import {
  capturedLogger,
  closeServer,
  listenLocally,
  refusedCases,
  startOidcIssuer,
  type OidcIssuer,
} from '../../../test/support/oidc-issuer.js';
import { parseConfig, WorkerEnv } from '../src/config.js';
import { createWorkerHttpServer } from '../src/http-server.js';

const AUDIENCE = 'https://bqbr-worker.example.run.app/pubsub/tasks';
const PUSHER = 'bqbr-push@p.iam.gserviceaccount.com';

const envelope = {
  message: {
    data: Buffer.from('{"taskId":"sales.orders"}').toString('base64'),
    attributes: { operationId: 'op-1', taskId: 'sales.orders' },
    messageId: '1',
    publishTime: new Date().toISOString(),
  },
  subscription: 'projects/p/subscriptions/bqbr-tasks-worker',
};

describe('worker push authentication', function () {
  let issuer: OidcIssuer;
  let server: Server;
  let base: string;
  const handled: ReceivedMessage[] = [];
  let lines: Record<string, unknown>[] = [];

  before(async function () {
    issuer = await startOidcIssuer();
    const config = parseConfig({
      GOOGLE_CLOUD_PROJECT: 'p',
      BQBR_INTAKE: 'push',
      BQBR_PUSH_AUDIENCE: AUDIENCE,
      BQBR_PUSH_SERVICE_ACCOUNTS: PUSHER,
      BQBR_OIDC_CERTS_URL: issuer.certsUrl,
    });
    const log = capturedLogger('worker');
    lines = log.lines;
    server = createWorkerHttpServer({
      logger: log.logger,
      handleTask: (message) => (handled.push(message), Promise.resolve('ack')),
      isAccepting: () => true,
      auth: createAuthenticator(config.pushAuth!),
    });
    base = await listenLocally(server);
  });
  after(async function () {
    await closeServer(server);
    await issuer?.stop();
  });

  const push = async (authorization: string | undefined, method = 'POST') => {
    const res = await fetch(`${base}/pubsub/tasks`, {
      method,
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      ...(method === 'POST' ? { body: JSON.stringify(envelope) } : {}),
    });
    const body = (await res.json()) as { error?: { message?: string } } | undefined;
    return {
      status: res.status,
      challenge: res.headers.get('www-authenticate'),
      message: body?.error?.message,
    };
  };

  it('reads the push variables, and only those of authentication', function () {
    expect(Object.keys(WorkerEnv.props)).to.include.members([
      'BQBR_PUSH_AUDIENCE',
      'BQBR_PUSH_SERVICE_ACCOUNTS',
      'BQBR_OIDC_CERTS_URL',
    ]);
    expect(Object.keys(WorkerEnv.props)).not.to.include('BQBR_API_AUDIENCE');
    expect(parseConfig({ GOOGLE_CLOUD_PROJECT: 'p' }).pushAuth).to.equal(undefined);
    expect(() => parseConfig({ GOOGLE_CLOUD_PROJECT: 'p', BQBR_PUSH_AUDIENCE: AUDIENCE })).to.throw(
      /BQBR_PUSH_SERVICE_ACCOUNTS/,
    );
  });

  it('refuses every bad token and handles no task', async function () {
    const cases = await refusedCases(issuer, AUDIENCE, PUSHER);
    for (const { name, authorization, status } of cases) {
      const res = await push(authorization);
      expect(res.status, name).to.equal(status);
      expect(res.message, name).to.be.a('string');
      if (status === 401) expect(res.challenge, name).to.match(/^Bearer/);
    }
    expect((await push(undefined, 'GET')).status).to.equal(401);
    expect(handled).to.have.length(0);
    const refused = lines.filter((line) => line['message'] === 'request refused');
    expect(refused).to.have.length(cases.length + 1);
    expect(refused.every((line) => line['path'] === '/pubsub/tasks')).to.equal(true);
    expect(refused.find((line) => line['status'] === 403)).to.include({ email: 'intruder@example.com' });
  });

  it('handles a task pushed with a valid token, and keeps /healthz open', async function () {
    const token = await issuer.mint({ aud: AUDIENCE, email: PUSHER });
    const res = await fetch(`${base}/pubsub/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(envelope),
    });
    expect(res.status).to.equal(204);
    expect(handled.map((message) => message.attributes['taskId'])).to.deep.equal(['sales.orders']);
    expect((await fetch(`${base}/healthz`)).status).to.equal(200);
  });
});
