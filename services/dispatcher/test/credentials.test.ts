// No credential a request carries is kept (docs/security.md, "Credentials"), and a request names no
// endpoint the operator did not allow ("Endpoints"): a real dispatcher on the local stack, requests over
// HTTP and Pub/Sub, then every Firestore document, API answer, log line and notification is searched.
import { startStack, type RunningStack } from '@bqbr/emulators';
import {
  DEFAULT_TOPOLOGY,
  FirestoreStateStore,
  closeClients,
  createClients,
  createLogger,
  ensureTopology,
  type Clients,
  type OperationDoc,
} from '@bqbr/shared';
import type { DocumentReference, Firestore } from '@google-cloud/firestore';
import type { Message, Subscription } from '@google-cloud/pubsub';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Writable } from 'node:stream';
import { parseConfig } from '../src/config.js';
import { startDispatcher, type RunningDispatcher } from '../src/dispatcher.js';

const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const secret = (): string => `secret-${randomUUID()}`;
const EXPORT = { format: 'AVRO', overwrite: true };

describe('dispatcher: credentials kept nowhere, endpoints allowlisted', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let clients: Clients;
  let store: FirestoreStateStore;
  let dispatcher: RunningDispatcher;
  let baseUrl: string;
  let notifications: Subscription;
  let listener: Server;
  let connections = 0;
  let listenerUrl = '';
  const published: string[] = [];
  const logText: string[] = [];
  const answers: string[] = [];
  const secrets: string[] = [];

  before(async function () {
    const projectId = unique('credentials');
    stack = await startStack({ ports: { pubsub: 0, firestore: 0, storage: 0, bigquery: 0 }, projectId });
    clients = createClients(stack.env, projectId);
    store = new FirestoreStateStore(clients.firestore);
    await ensureTopology(clients.pubsub, DEFAULT_TOPOLOGY, {
      minimumBackoffSeconds: 1,
      maximumBackoffSeconds: 2,
      maxDeliveryAttempts: 5,
    });
    const subscription = unique('credentials-notifications');
    await clients.pubsub.topic(DEFAULT_TOPOLOGY.topics.notifications).createSubscription(subscription);
    notifications = clients.pubsub.subscription(subscription);
    notifications.on('message', (message: Message) => {
      published.push(message.data.toString('utf8'), JSON.stringify(message.attributes));
      message.ack();
    });
    listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const address = listener.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    listenerUrl = `http://127.0.0.1:${address.port}`;

    const capture = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logText.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = createLogger({ service: 'dispatcher', level: 'debug', format: 'json', stream: capture });
    dispatcher = await startDispatcher(
      parseConfig({ ...stack.env, PORT: '0', BQBR_STAGING_URI: 'gs://credentials-staging/x' }),
      stack.env,
      logger,
    );
    baseUrl = `http://127.0.0.1:${dispatcher.port}`;
  });

  after(async function () {
    await dispatcher?.stop();
    await notifications?.close();
    if (clients) await closeClients(clients);
    await stack?.stop();
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
  });

  const kept = (value: string): string => {
    secrets.push(value);
    return value;
  };

  const publish = (body: unknown, attributes: Record<string, string>): Promise<string> =>
    clients.pubsub
      .topic(DEFAULT_TOPOLOGY.topics.requests)
      .publishMessage({ data: Buffer.from(JSON.stringify(body)), attributes });

  async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
    const response = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await response.text();
    answers.push(text);
    return { status: response.status, text };
  }

  async function get(path: string): Promise<string> {
    const text = await (await fetch(`${baseUrl}${path}`)).text();
    answers.push(text);
    return text;
  }

  async function announced(operationId: string): Promise<OperationDoc> {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const operation = await store.getOperation(operationId);
      if (operation?.notified === true && published.some((p) => p.includes(operationId))) return operation;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`operation ${operationId} not announced`);
  }

  /** Every document under every collection, subcollections included, as JSON. */
  async function everyDocument(db: Firestore): Promise<string[]> {
    const out: string[] = [];
    const walk = async (refs: DocumentReference[]): Promise<void> => {
      for (const ref of refs) {
        const snapshot = await ref.get();
        if (snapshot.exists) out.push(JSON.stringify(snapshot.data()));
        for (const sub of await ref.listCollections()) await walk(await sub.listDocuments());
      }
    };
    for (const collection of await db.listCollections()) await walk(await collection.listDocuments());
    return out;
  }

  it('keeps no credential sent over HTTP or Pub/Sub, refused or not', async function () {
    const projectId = unique('source');
    const bigQuery = { projectId };
    const viaHttp = unique('http');
    const refusedHttp = await post('/api/v1/backup', {
      operationId: viaHttp,
      bigQuery,
      backupStorage: {
        s3Options: { bucket: 'bucket', exportOptions: EXPORT, secretAccessKey: kept(secret()) },
      },
    });
    expect(refusedHttp.status).to.equal(400);
    expect(refusedHttp.text).to.include('secretAccessKey');

    const s3 = unique('s3');
    await publish(
      {
        operationId: s3,
        bigQuery,
        backupStorage: {
          s3Options: {
            bucket: 'bucket',
            exportOptions: { ...EXPORT, nested: { password: kept(secret()) } },
            accessKeyId: kept(secret()),
            sessionToken: kept(secret()),
          },
        },
      },
      { kind: 'backup' },
    );
    const azure = unique('azure');
    await publish(
      {
        operationId: azure,
        bigQuery,
        backupStorage: {
          azureOptions: {
            container: 'ccc',
            exportOptions: EXPORT,
            accountKey: kept(secret()),
            connectionString: `DefaultEndpointsProtocol=https;AccountName=a;AccountKey=${kept(secret())}`,
            sasToken: kept(secret()),
          },
        },
      },
      { kind: 'backup' },
    );
    const gcs = unique('gcs');
    await publish(
      {
        operationId: gcs,
        bigQuery,
        unknown: { deeper: { clientSecret: kept(secret()) } },
        backupStorage: {
          gcsOptions: {
            uri: 'gs://bucket/x',
            exportOptions: EXPORT,
            credentials: kept(secret()),
            privateKey: `-----BEGIN PRIVATE KEY-----\n${kept(secret())}\n-----END PRIVATE KEY-----`,
          },
        },
      },
      { kind: 'backup' },
    );
    const restore = unique('restore');
    await publish(
      {
        operationId: restore,
        bigQuery,
        restoreStorage: {
          azureOptions: {
            container: 'ccc',
            backupTimestamp: 'latest',
            projectIdOfBackup: projectId,
            sasToken: kept(secret()),
          },
        },
      },
      { kind: 'restore' },
    );

    const expectations: [string, string][] = [
      [s3, 'accessKeyId'],
      [azure, 'accountKey'],
      [gcs, 'credentials'],
      [restore, 'sasToken'],
    ];
    for (const [operationId, field] of expectations) {
      const operation = await announced(operationId);
      expect(operation.status, operationId).to.equal('FAILED');
      expect(operation.error?.message, operationId).to.include(field);
      expect(await get(`/api/v1/operations/${operationId}`)).to.include(operationId);
    }
    expect(await get('/api/v1/operations')).to.include(s3);

    const documents = await everyDocument(clients.firestore);
    expect(documents.join('\n')).to.include(s3);
    expect(secrets).to.have.length(11);
    const places = { documents, answers, logs: logText, notifications: published };
    for (const [where, texts] of Object.entries(places)) {
      const all = texts.join('\n');
      expect(all.length, where).to.be.greaterThan(0);
      for (const value of secrets) expect(all, where).not.to.include(value);
    }
  });

  it('refuses an S3 endpoint or Azure account URL outside the allowlist without connecting to it', async function () {
    const projectId = unique('source');
    const s3 = unique('endpoint-s3');
    const azure = unique('endpoint-azure');
    const from = { backupTimestamp: 'latest', projectIdOfBackup: projectId };
    await publish(
      {
        operationId: s3,
        bigQuery: { projectId },
        restoreStorage: { s3Options: { bucket: 'bucket', endpoint: listenerUrl, ...from } },
      },
      { kind: 'restore' },
    );
    await publish(
      {
        operationId: azure,
        bigQuery: { projectId },
        restoreStorage: { azureOptions: { container: 'ccc', accountUrl: `${listenerUrl}/acct`, ...from } },
      },
      { kind: 'restore' },
    );
    const backupS3 = unique('endpoint-backup-s3');
    await publish(
      {
        operationId: backupS3,
        bigQuery: { projectId },
        backupStorage: { s3Options: { bucket: 'bucket', endpoint: listenerUrl, exportOptions: EXPORT } },
      },
      { kind: 'backup' },
    );
    // Over HTTP the preflight answers before anything is published.
    const backupAzure = await post('/api/v1/backup', {
      operationId: unique('endpoint-backup-azure'),
      bigQuery: { projectId },
      backupStorage: {
        azureOptions: { container: 'ccc', accountUrl: `${listenerUrl}/acct`, exportOptions: EXPORT },
      },
    });
    expect(backupAzure.status, backupAzure.text).to.equal(400);
    expect(backupAzure.text).to.include('BQBR_AZURE_ACCOUNT_URLS');
    const bySpan: [string, string][] = [
      [s3, 'BQBR_S3_ENDPOINTS'],
      [azure, 'BQBR_AZURE_ACCOUNT_URLS'],
      [backupS3, 'BQBR_S3_ENDPOINTS'],
    ];
    for (const [operationId, variable] of bySpan) {
      const operation = await announced(operationId);
      expect(operation.status, operationId).to.equal('FAILED');
      expect(operation.error?.message, operationId).to.include(variable);
    }
    expect(connections).to.equal(0);
  });
});
