import { startStack, type RunningStack } from '@bqbr/emulators';
import type { Message, PubSub } from '@google-cloud/pubsub';
import { expect } from 'chai';
import {
  createClients,
  DEFAULT_TOPOLOGY,
  ensureTopology,
  fromPulledMessage,
  topologyFromEnv,
  ValidationError,
  type ReceivedMessage,
  type Topology,
} from '../src/index.js';

const PROJECT = 'topology-test';

/** A topology with unique names, so tests never see each other's messages. */
function uniqueTopology(prefix: string): Topology {
  const p = `${prefix}-${Date.now()}`;
  return {
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
}

describe('topologyFromEnv', function () {
  it('uses the default names when nothing is set', function () {
    expect(topologyFromEnv({})).to.deep.equal(DEFAULT_TOPOLOGY);
    expect(DEFAULT_TOPOLOGY.topics.tasks).to.equal('bqbr-tasks');
    expect(DEFAULT_TOPOLOGY.subscriptions.deadLetter).to.equal('bqbr-dead-letter-dispatcher');
  });

  it('takes each name from its variable', function () {
    const topology = topologyFromEnv({
      BQBR_TOPIC_TASKS: 'prod-tasks',
      BQBR_SUBSCRIPTION_EVENTS: 'prod-events-sub',
    });
    expect(topology.topics).to.include({ tasks: 'prod-tasks', requests: 'bqbr-requests' });
    expect(topology.subscriptions).to.include({ events: 'prod-events-sub', tasks: 'bqbr-tasks-worker' });
  });

  it('names every variable that is not a valid Pub/Sub name', function () {
    expect(() => topologyFromEnv({ BQBR_TOPIC_EVENTS: '1bad', BQBR_SUBSCRIPTION_TASKS: 'has space' }))
      .to.throw(ValidationError)
      .with.property('issues')
      .that.has.deep.members([
        {
          path: 'BQBR_TOPIC_EVENTS',
          message: 'expected a Pub/Sub name (a letter, then 2-254 of A-Z a-z 0-9 - _ . ~ + %), got "1bad"',
        },
        {
          path: 'BQBR_SUBSCRIPTION_TASKS',
          message:
            'expected a Pub/Sub name (a letter, then 2-254 of A-Z a-z 0-9 - _ . ~ + %), got "has space"',
        },
      ]);
  });
});

describe('ensureTopology (Pub/Sub emulator)', function () {
  this.timeout(120_000);
  let stack: RunningStack;
  let pubsub: PubSub;

  before(async function () {
    stack = await startStack({ services: ['pubsub'], ports: { pubsub: 0 }, projectId: PROJECT });
    pubsub = createClients(stack.env, PROJECT).pubsub;
  });

  after(async function () {
    await pubsub?.close();
    await stack?.stop();
  });

  it('creates the missing topics and subscriptions with retry and dead-letter policies, once', async function () {
    const topology = uniqueTopology('create');
    const first = await ensureTopology(pubsub, topology, { maxDeliveryAttempts: 7, ackDeadlineSeconds: 30 });
    expect(first.created).to.have.members([
      ...Object.values(topology.topics),
      ...Object.values(topology.subscriptions),
    ]);
    const again = await Promise.all([ensureTopology(pubsub, topology), ensureTopology(pubsub, topology)]);
    expect(again.map((r) => r.created)).to.deep.equal([[], []]);

    const deadLetterTopic = `projects/${PROJECT}/topics/${topology.topics.deadLetter}`;
    for (const role of ['requests', 'tasks', 'events'] as const) {
      const [metadata] = await pubsub.subscription(topology.subscriptions[role]).getMetadata();
      expect(metadata.topic, role).to.equal(`projects/${PROJECT}/topics/${topology.topics[role]}`);
      expect(metadata.deadLetterPolicy, role).to.deep.include({ deadLetterTopic, maxDeliveryAttempts: 7 });
      expect(Number(metadata.retryPolicy?.minimumBackoff?.seconds), role).to.equal(10);
      expect(Number(metadata.retryPolicy?.maximumBackoff?.seconds), role).to.equal(600);
      expect(metadata.ackDeadlineSeconds, role).to.equal(30);
      expect(metadata.pushConfig?.pushEndpoint ?? '', role).to.equal('');
    }
    const [deadLetters] = await pubsub.subscription(topology.subscriptions.deadLetter).getMetadata();
    expect(deadLetters.deadLetterPolicy ?? null).to.equal(null);

    const [notificationSubscriptions] = await pubsub.topic(topology.topics.notifications).getSubscriptions();
    expect(notificationSubscriptions).to.have.length(0);
  });

  it('sends a message nacked maxDeliveryAttempts times to the dead-letter subscription', async function () {
    const topology = uniqueTopology('dead');
    await ensureTopology(pubsub, topology, {
      maxDeliveryAttempts: 5,
      minimumBackoffSeconds: 0,
      maximumBackoffSeconds: 0,
    });
    const attempts: number[] = [];
    const tasks = pubsub.subscription(topology.subscriptions.tasks);
    tasks.on('message', (message: Message) => {
      attempts.push(fromPulledMessage(message).deliveryAttempt);
      message.nack();
    });
    const deadLetters = pubsub.subscription(topology.subscriptions.deadLetter);
    const deadLettered = new Promise<ReceivedMessage>((resolve) => {
      deadLetters.on('message', (message: Message) => {
        message.ack();
        resolve(fromPulledMessage(message));
      });
    });
    try {
      const messageId = await pubsub
        .topic(topology.topics.tasks)
        .publishMessage({ json: { taskId: 'sales.orders' }, attributes: { taskId: 'sales.orders' } });
      const received = await deadLettered;
      expect(JSON.parse(received.data.toString())).to.deep.equal({ taskId: 'sales.orders' });
      expect(received.attributes).to.include({
        taskId: 'sales.orders',
        CloudPubSubDeadLetterSourceDeliveryCount: '5',
      });
      expect(received.attributes['CloudPubSubDeadLetterSourceSubscription']).to.equal(
        topology.subscriptions.tasks,
      );
      expect(messageId).to.be.a('string');
      expect(attempts.slice(0, 5)).to.deep.equal([1, 2, 3, 4, 5]);
    } finally {
      await tasks.close();
      await deadLetters.close();
    }
  });

  it('switches a subscription between push and pull as the options say', async function () {
    const topology = uniqueTopology('push');
    await ensureTopology(pubsub, topology, { push: { tasks: 'http://127.0.0.1:9/pubsub/tasks' } });
    const endpoint = async (): Promise<string> =>
      (await pubsub.subscription(topology.subscriptions.tasks).getMetadata())[0].pushConfig?.pushEndpoint ??
      '';
    expect(await endpoint()).to.equal('http://127.0.0.1:9/pubsub/tasks');

    await ensureTopology(pubsub, topology, { push: { tasks: 'http://127.0.0.1:10/pubsub/tasks' } });
    expect(await endpoint()).to.equal('http://127.0.0.1:10/pubsub/tasks');

    await ensureTopology(pubsub, topology);
    expect(await endpoint()).to.equal('');
  });
});
