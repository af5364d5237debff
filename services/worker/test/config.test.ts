// The worker's environment: defaults, the intake-dependent job wait, and errors that name the variable.
import { ValidationError } from '@bqbr/shared';
import { expect } from 'chai';
import { parseConfig } from '../src/config.js';

describe('worker config', function () {
  it('fills in the defaults: pull intake, 4 tasks at once, 540 s job wait, polls every second', function () {
    const config = parseConfig({ GOOGLE_CLOUD_PROJECT: 'bqbr-local' });
    expect(config).to.deep.include({
      projectId: 'bqbr-local',
      port: 8081,
      intake: 'pull',
      concurrency: 4,
      jobWaitSeconds: 540,
      jobPollMs: 1_000,
      maxJobAttempts: 5,
      ensureTopology: true,
    });
    expect(config.topology.subscriptions.tasks).to.equal('bqbr-tasks-worker');
    expect(config.topology.topics.events).to.equal('bqbr-events');
  });

  it('waits 50 s per delivery in push mode, and takes explicit settings', function () {
    expect(parseConfig({ GOOGLE_CLOUD_PROJECT: 'p', BQBR_INTAKE: 'push' }).jobWaitSeconds).to.equal(50);
    const config = parseConfig({
      GOOGLE_CLOUD_PROJECT: 'p',
      BQBR_INTAKE: 'push',
      PORT: '9000',
      BQBR_WORKER_CONCURRENCY: '16',
      BQBR_JOB_WAIT_SECONDS: '3',
      BQBR_JOB_POLL_MS: '200',
      BQBR_SUBSCRIPTION_TASKS: 'my-tasks',
    });
    expect(config).to.deep.include({ port: 9000, concurrency: 16, jobWaitSeconds: 3, jobPollMs: 200 });
    expect(config.topology.subscriptions.tasks).to.equal('my-tasks');
  });

  it('refuses bad values, naming each variable', function () {
    let error: unknown;
    try {
      parseConfig({ BQBR_INTAKE: 'poll', BQBR_WORKER_CONCURRENCY: '0' });
    } catch (err) {
      error = err;
    }
    expect(error).to.be.instanceOf(ValidationError);
    const paths = (error as ValidationError).issues.map((i) => i.path);
    expect(paths).to.include.members(['GOOGLE_CLOUD_PROJECT', 'BQBR_INTAKE', 'BQBR_WORKER_CONCURRENCY']);
  });

  it('refuses a malformed endpoint allowlist at start-up, naming the variable', function () {
    expect(() => parseConfig({ GOOGLE_CLOUD_PROJECT: 'p', BQBR_S3_ENDPOINTS: 'ftp://s3.example' })).to.throw(
      'BQBR_S3_ENDPOINTS',
    );
    expect(() =>
      parseConfig({ GOOGLE_CLOUD_PROJECT: 'p', BQBR_AZURE_ACCOUNT_URLS: 'https://u:p@x.example' }),
    ).to.throw('BQBR_AZURE_ACCOUNT_URLS');
  });
});
