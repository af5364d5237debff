// Authentication of every dispatcher endpoint but /healthz (docs/security.md#authentication): the real
// HTTP server with counting handlers for each path, then a real dispatcher on the local stack.
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  authFromEnv,
  closeClients,
  createAuthenticator,
  createClients,
  FirestoreStateStore,
  type Clients,
} from '@bqbr/shared';
import { BigQuery } from '@google-cloud/bigquery';
import { expect } from 'chai';
import { PassThroughClient } from 'google-auth-library';
import type { Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import {
  capturedLogger,
  closeServer,
  listenLocally,
  refusedCases,
  startOidcIssuer,
  type OidcIssuer,
} from '../../../test/support/oidc-issuer.js';
import { parseConfig } from '../src/config.js';
import { startDispatcher, type RunningDispatcher } from '../src/dispatcher.js';
import type { MessageHandler } from '../src/handler.js';
import { createHttpServer } from '../src/http-server.js';
import type { OperationsApi } from '../src/operations-api.js';

const PUSH_AUDIENCE = 'https://bqbr-dispatcher.example.run.app/pubsub';
const API_AUDIENCE = 'https://bqbr-dispatcher.example.run.app';
const PUSHER = 'bqbr-push@p.iam.gserviceaccount.com';
const USER = 'ada@example.com';
const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;

const PUSH_PATHS = [
  '/pubsub/requests',
  '/eventarc/requests',
  '/pubsub/events',
  '/eventarc/events',
  '/pubsub/dead-letter',
  '/eventarc/dead-letter',
];
const API_ROUTES: [method: string, path: string][] = [
  ['POST', '/api/v1/backup'],
  ['POST', '/api/v1/restore'],
  ['GET', '/api/v1/operations'],
  ['GET', '/api/v1/operations/op-1'],
];

const envelope = (data: unknown, messageId = '1'): object => ({
  message: {
    data: Buffer.from(JSON.stringify(data)).toString('base64'),
    attributes: { kind: 'backup' },
    messageId,
    publishTime: new Date().toISOString(),
  },
  subscription: 'projects/p/subscriptions/bqbr-requests-dispatcher',
});

const cloudEventHeaders = (path: string): Record<string, string> =>
  path.startsWith('/eventarc/')
    ? {
        'ce-id': '1',
        'ce-type': 'google.cloud.pubsub.topic.v1.messagePublished',
        'ce-source': '//pubsub.googleapis.com/projects/p/topics/bqbr-requests',
        'ce-specversion': '1.0',
      }
    : {};

async function call(
  base: string,
  method: string,
  path: string,
  authorization: string | undefined,
  body?: unknown,
): Promise<{ status: number; challenge: string | null; message?: string }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...cloudEventHeaders(path),
      ...(authorization ? { authorization } : {}),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const parsed = (text ? JSON.parse(text) : {}) as { error?: { message?: string } };
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    ...(parsed.error?.message ? { message: parsed.error.message } : {}),
  };
}

describe('dispatcher HTTP authentication', function () {
  let issuer: OidcIssuer;
  before(async function () {
    issuer = await startOidcIssuer();
  });
  after(() => issuer?.stop());

  const authEnv = (): Record<string, string> => ({
    BQBR_PUSH_AUDIENCE: PUSH_AUDIENCE,
    BQBR_PUSH_SERVICE_ACCOUNTS: PUSHER,
    BQBR_API_AUDIENCE: API_AUDIENCE,
    BQBR_API_PRINCIPALS: `${USER},ops@p.iam.gserviceaccount.com`,
    BQBR_OIDC_CERTS_URL: issuer.certsUrl,
  });

  describe('the HTTP server, every path', function () {
    let server: Server;
    let base: string;
    const calls = new Map<string, number>();
    const count = (key: string): void => void calls.set(key, (calls.get(key) ?? 0) + 1);
    const handled = (): number => [...calls.values()].reduce((a, b) => a + b, 0);
    const log = capturedLogger('dispatcher');

    before(async function () {
      const auth = authFromEnv(authEnv());
      const api: OperationsApi = {
        submit: (kind) => (
          count(`api ${kind}`),
          Promise.resolve({ status: 202, body: { operationId: 'op-1' } })
        ),
        getOperation: (id) => (count(`api get ${id}`), Promise.resolve({ status: 200, body: {} })),
        listOperations: () => (count('api list'), Promise.resolve({ status: 200, body: { operations: [] } })),
      };
      const handler =
        (path: string): MessageHandler =>
        () => (count(path), Promise.resolve());
      server = createHttpServer({
        api,
        logger: log.logger,
        isHealthy: () => true,
        push: Object.fromEntries(PUSH_PATHS.map((path) => [path, handler(path)])),
        auth: { push: createAuthenticator(auth.push!), api: createAuthenticator(auth.api!) },
      });
      base = await listenLocally(server);
    });
    after(() => closeServer(server));

    it('keeps /healthz open', async function () {
      expect((await call(base, 'GET', '/healthz', undefined)).status).to.equal(200);
    });

    it('refuses every bad token on every push and Eventarc path, and delivers nothing', async function () {
      const cases = await refusedCases(issuer, PUSH_AUDIENCE, PUSHER);
      // A token of an API principal for the API's audience opens no push path.
      const apiToken = `Bearer ${await issuer.mint({ aud: API_AUDIENCE, email: USER })}`;
      for (const path of PUSH_PATHS) {
        for (const { name, authorization, status } of [
          ...cases,
          { name: 'an API token', authorization: apiToken, status: 401 },
        ]) {
          const res = await call(base, 'POST', path, authorization, envelope({ n: 1 }));
          expect(res.status, `${path}: ${name}`).to.equal(status);
          expect(res.message, `${path}: ${name}`).to.be.a('string');
          if (status === 401) expect(res.challenge, `${path}: ${name}`).to.match(/^Bearer/);
        }
        // Refused before the method is looked at.
        expect((await call(base, 'GET', path, undefined)).status).to.equal(401);
      }
      expect(handled()).to.equal(0);
      const refused = log.lines.filter((line) => line['message'] === 'request refused');
      expect(refused).to.have.length(PUSH_PATHS.length * (cases.length + 2));
      expect(refused.find((line) => line['status'] === 403)).to.include({ email: 'intruder@example.com' });
    });

    it('refuses every bad token on every API route, and answers nothing else', async function () {
      const cases = await refusedCases(issuer, API_AUDIENCE, USER);
      const pushToken = `Bearer ${await issuer.mint({ aud: PUSH_AUDIENCE, email: PUSHER })}`;
      for (const [method, path] of [...API_ROUTES, ['GET', '/api/v1/nothing-here'] as [string, string]]) {
        for (const { name, authorization, status } of [
          ...cases,
          { name: 'a push token', authorization: pushToken, status: 401 },
        ]) {
          const res = await call(base, method, path, authorization, method === 'POST' ? {} : undefined);
          expect(res.status, `${method} ${path}: ${name}`).to.equal(status);
        }
      }
      expect(handled()).to.equal(0);
    });

    it('processes a valid token on every path', async function () {
      const pushToken = `Bearer ${await issuer.mint({ aud: PUSH_AUDIENCE, email: PUSHER })}`;
      for (const path of PUSH_PATHS) {
        expect((await call(base, 'POST', path, pushToken, envelope({ n: 1 }))).status, path).to.equal(204);
        expect(calls.get(path), path).to.equal(1);
      }
      const apiToken = `Bearer ${await issuer.mint({ aud: API_AUDIENCE, email: 'Ops@P.iam.gserviceaccount.com' })}`;
      const answers = [];
      for (const [method, path] of API_ROUTES)
        answers.push((await call(base, method, path, apiToken, method === 'POST' ? {} : undefined)).status);
      expect(answers).to.deep.equal([202, 202, 200, 200]);
      expect(Object.fromEntries([...calls].filter(([key]) => key.startsWith('api')))).to.deep.equal({
        'api backup': 1,
        'api restore': 1,
        'api list': 1,
        'api get op-1': 1,
      });
    });
  });

  describe('a running dispatcher on the local stack', function () {
    this.timeout(120_000);
    let stack: RunningStack;
    let clients: Clients;
    let dispatcher: RunningDispatcher;
    let base: string;
    let sourceProject: string;
    const bucket = unique('auth-backups');

    before(async function () {
      const projectId = unique('dispatcher-auth');
      stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 }, projectId });
      clients = createClients(stack.env, projectId);
      await clients.storage.createBucket(bucket);
      sourceProject = unique('source');
      const bigquery = new BigQuery({
        apiEndpoint: stack.env['BIGQUERY_EMULATOR_HOST'],
        projectId: sourceProject,
        authClient: new PassThroughClient(),
      });
      await bigquery.createDataset('empty');
      const env = { ...stack.env, ...authEnv(), PORT: '0', BQBR_INTAKE: 'push' };
      dispatcher = await startDispatcher(parseConfig(env), env, capturedLogger('dispatcher').logger);
      base = `http://127.0.0.1:${dispatcher.port}`;
    });
    after(async function () {
      await dispatcher?.stop();
      if (clients) await closeClients(clients);
      await stack?.stop();
    });

    const backup = (operationId: string): object => ({
      operationId,
      bigQuery: { projectId: sourceProject, tablesToBackup: [{ datasetName: 'empty' }] },
      backupStorage: {
        gcsOptions: { uri: `gs://${bucket}/${operationId}`, exportOptions: { format: 'AVRO' } },
      },
    });

    it('processes a push with a valid token end to end and refuses one without', async function () {
      const store = new FirestoreStateStore(clients.firestore);
      const refused = unique('refused');
      const forged = `Bearer ${await issuer.mint({ aud: PUSH_AUDIENCE, email: PUSHER }, 'stranger')}`;
      expect(
        (await call(base, 'POST', '/pubsub/requests', undefined, envelope(backup(refused), '1'))).status,
      ).to.equal(401);
      expect(
        (await call(base, 'POST', '/pubsub/requests', forged, envelope(backup(refused), '2'))).status,
      ).to.equal(401);

      const accepted = unique('accepted');
      const token = `Bearer ${await issuer.mint({ aud: PUSH_AUDIENCE, email: PUSHER })}`;
      expect(
        (await call(base, 'POST', '/pubsub/requests', token, envelope(backup(accepted), '3'))).status,
      ).to.equal(204);
      const deadline = Date.now() + 30_000;
      let status: string | undefined;
      while (Date.now() < deadline && status !== 'SUCCEEDED') {
        status = (await store.getOperation(accepted))?.status;
        if (status !== 'SUCCEEDED') await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(status).to.equal('SUCCEEDED');
      // The refused request was answered before it was read: it never became an operation.
      expect(await store.getOperation(refused)).to.equal(undefined);

      // The API: its own audience and principals.
      const path = `/api/v1/operations/${accepted}`;
      expect((await call(base, 'GET', path, undefined)).status).to.equal(401);
      expect((await call(base, 'GET', path, token)).status).to.equal(401);
      const user = `Bearer ${await issuer.mint({ aud: API_AUDIENCE, email: USER })}`;
      expect((await call(base, 'GET', path, user)).status).to.equal(200);
      expect((await call(base, 'GET', '/healthz', undefined)).status).to.equal(200);
    });

    it('refuses to start with an audience but no principals, naming the variable', function () {
      expect(() => parseConfig({ ...stack.env, BQBR_PUSH_AUDIENCE: PUSH_AUDIENCE })).to.throw(
        /BQBR_PUSH_SERVICE_ACCOUNTS/,
      );
    });
  });
});
