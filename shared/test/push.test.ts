import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startStack, type RunningStack } from '@bqbr/emulators';
import type { PubSub } from '@google-cloud/pubsub';
import { expect } from 'chai';
import {
  createClients,
  decodePushRequest,
  ensureTopology,
  PUBSUB_CLOUD_EVENT_TYPE,
  toReceivedMessage,
  ValidationError,
  type PushedMessage,
  type Topology,
} from '../src/index.js';

const PROJECT = 'push-test';
const SUBSCRIPTION = `projects/${PROJECT}/subscriptions/bqbr-tasks-worker`;
const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const base64 = (text: string): string => Buffer.from(text).toString('base64');

function issuesOf(headers: Record<string, string>, body: Buffer): unknown {
  try {
    decodePushRequest(headers, body);
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  return expect.fail('expected a ValidationError');
}

describe('decodePushRequest', function () {
  const message = {
    data: base64('{"taskId":"sales.orders"}'),
    attributes: { operationId: 'op-1', taskId: 'sales.orders' },
    messageId: '1234',
    message_id: '1234',
    publishTime: '2024-05-01T10:00:00.123Z',
    publish_time: '2024-05-01T10:00:00.123Z',
  };

  it('decodes the standard push envelope', function () {
    const pushed = decodePushRequest(
      { 'content-type': 'application/json' },
      json({ message, subscription: SUBSCRIPTION, deliveryAttempt: 3 }),
    );
    expect(pushed).to.deep.equal({
      data: Buffer.from('{"taskId":"sales.orders"}'),
      attributes: { operationId: 'op-1', taskId: 'sales.orders' },
      messageId: '1234',
      publishTime: '2024-05-01T10:00:00.123Z',
      deliveryAttempt: 3,
      subscription: SUBSCRIPTION,
    });
    expect(toReceivedMessage(pushed).deliveryAttempt).to.equal(3);
  });

  it('accepts the snake_case spellings, no data and no attributes, and counts a first delivery as 1', function () {
    const pushed = decodePushRequest(
      {},
      json({ message: { message_id: '9', publish_time: '2024-05-01T10:00:00Z' } }),
    );
    expect(pushed).to.deep.equal({
      data: Buffer.alloc(0),
      attributes: {},
      messageId: '9',
      publishTime: '2024-05-01T10:00:00Z',
    });
    expect(toReceivedMessage(pushed).deliveryAttempt).to.equal(1);
  });

  it("decodes Eventarc's CloudEvent in binary mode", function () {
    const pushed = decodePushRequest(
      {
        'Content-Type': 'application/json',
        'ce-id': '1234',
        'ce-type': PUBSUB_CLOUD_EVENT_TYPE,
        'ce-source': `//pubsub.googleapis.com/projects/${PROJECT}/topics/bqbr-requests`,
        'ce-specversion': '1.0',
        'ce-time': '2024-05-01T10:00:00.123Z',
      },
      json({
        message: { data: message.data, attributes: message.attributes, messageId: '1234' },
        subscription: SUBSCRIPTION,
      }),
    );
    expect(pushed).to.deep.include({
      messageId: '1234',
      publishTime: '2024-05-01T10:00:00.123Z',
      subscription: SUBSCRIPTION,
    });
    expect(pushed.data.toString()).to.equal('{"taskId":"sales.orders"}');
    expect(pushed.attributes).to.deep.equal(message.attributes);
  });

  it('decodes a CloudEvent in structured mode', function () {
    const pushed = decodePushRequest(
      { 'content-type': 'application/cloudevents+json; charset=utf-8' },
      json({
        specversion: '1.0',
        type: PUBSUB_CLOUD_EVENT_TYPE,
        id: '77',
        source: 'x',
        data: { message: { data: '' } },
      }),
    );
    expect(pushed).to.deep.include({ messageId: '77', attributes: {} });
    expect(pushed.data.length).to.equal(0);
  });

  it('rejects bad bodies with a ValidationError naming the field', function () {
    expect(issuesOf({}, Buffer.from('not json'))).to.have.nested.property('[0].path', '');
    expect(issuesOf({}, json({ subscription: SUBSCRIPTION }))).to.deep.equal([
      { path: 'message', message: 'required' },
    ]);
    expect(issuesOf({}, json({ message: { ...message, data: 'not base64!' } }))).to.deep.equal([
      { path: 'message.data', message: 'expected base64 data, got "not base64!"' },
    ]);
    expect(issuesOf({}, json({ message: { ...message, attributes: { n: 1 } } }))).to.deep.equal([
      { path: 'message.attributes.n', message: 'expected a string, got 1' },
    ]);
    expect(issuesOf({}, json({ message: { data: message.data } }))).to.deep.equal([
      { path: 'message.messageId', message: 'required' },
    ]);
    expect(
      issuesOf({ 'ce-type': 'google.cloud.storage.object.v1.finalized', 'ce-id': '1' }, json({ message })),
    ).to.deep.equal([
      {
        path: 'type',
        message: `expected ${PUBSUB_CLOUD_EVENT_TYPE}, got "google.cloud.storage.object.v1.finalized"`,
      },
    ]);
  });
});

describe('push delivery from the Pub/Sub emulator', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let pubsub: PubSub;
  let server: Server;
  const received: { headers: IncomingHttpHeaders; pushed: PushedMessage }[] = [];
  let answer = 204;

  before(async function () {
    stack = await startStack({ services: ['pubsub'], ports: { pubsub: 0 }, projectId: PROJECT });
    pubsub = createClients(stack.env, PROJECT).pubsub;
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        received.push({
          headers: req.headers,
          pushed: decodePushRequest(req.headers, Buffer.concat(chunks)),
        });
        res.writeHead(answer).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  after(async function () {
    server?.close();
    await pubsub?.close();
    await stack?.stop();
  });

  it('decodes real push envelopes, first delivery and redelivery after a 503', async function () {
    const { port } = server.address() as AddressInfo;
    const p = `push-${Date.now()}`;
    const topology: Topology = {
      topics: {
        requests: `${p}-requests`,
        tasks: `${p}-tasks`,
        events: `${p}-events`,
        notifications: `${p}-notifications`,
        deadLetter: `${p}-dead-letter`,
      },
      subscriptions: {
        requests: `${p}-requests-dispatcher`,
        tasks: `${p}-tasks-worker`,
        events: `${p}-events-dispatcher`,
        deadLetter: `${p}-dead-letter-dispatcher`,
      },
    };
    await ensureTopology(pubsub, topology, {
      push: { tasks: `http://127.0.0.1:${port}/pubsub/tasks` },
      minimumBackoffSeconds: 0,
      maximumBackoffSeconds: 0,
    });
    answer = 503; // nack the first delivery
    const messageId = await pubsub
      .topic(topology.topics.tasks)
      .publishMessage({ json: { taskId: 'sales.orders' }, attributes: { operationId: 'op-1' } });

    const deadline = Date.now() + 60_000;
    while (received.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    answer = 204;
    while (received.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

    // The emulator leaves deliveryAttempt out of push envelopes (Pub/Sub sets it when the subscription
    // dead-letters), so locally every push delivery counts as the first.
    expect(
      received.map((r) => [r.pushed.messageId, toReceivedMessage(r.pushed).deliveryAttempt]),
    ).to.deep.equal([
      [messageId, 1],
      [messageId, 1],
    ]);
    const [first] = received;
    expect(first!.pushed).to.deep.include({
      messageId,
      attributes: { operationId: 'op-1' },
      subscription: `projects/${PROJECT}/subscriptions/${topology.subscriptions.tasks}`,
    });
    expect(JSON.parse(first!.pushed.data.toString())).to.deep.equal({ taskId: 'sales.orders' });
    expect(Number.isNaN(Date.parse(first!.pushed.publishTime))).to.equal(false);
  });
});
