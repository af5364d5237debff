// Ack or nack: what the handler tells Pub/Sub for each kind of delivery.
import { extractJobId } from '@bqbr/shared';
import { expect } from 'chai';
import { handleTaskMessage } from '../src/task-handler.js';
import { fixture, taskFor } from './fakes.js';

const SOURCE = { projectId: 'src-project', datasetId: 'sales', tableId: 'refunds' };

const delivery = (data: Buffer) => ({
  data,
  attributes: {},
  messageId: '1',
  publishTime: new Date().toISOString(),
  deliveryAttempt: 1,
});

describe('task handler', function () {
  it('acks a message that is not a task (retrying cannot fix it) and touches nothing', async function () {
    const f = fixture();
    for (const body of [
      'not json',
      '{"operationId":"x"}',
      '{"operationId":"x","taskId":"y","spec":{"kind":"restore"}}',
    ]) {
      expect(await handleTaskMessage(delivery(Buffer.from(body)), { ...f.ctx, deps: f.deps }), body).to.equal(
        'ack',
      );
    }
    expect(f.publisher.events).to.have.length(0);
  });

  it('nacks a retryable failure and acks once the task is recorded', async function () {
    const f = fixture();
    const { message, doc } = taskFor('op', SOURCE);
    f.store.put(doc);
    f.tables.set(SOURCE, { type: 'TABLE', schema: { fields: [{ name: 'n', type: 'INTEGER' }] } });
    f.jobs.plan.set(extractJobId('op', doc.taskId, 0), {
      error: { reason: 'backendError', message: 'try again' },
    });
    const data = Buffer.from(JSON.stringify(message));
    expect(await handleTaskMessage(delivery(data), { ...f.ctx, deps: f.deps })).to.equal('nack');
    expect(await handleTaskMessage(delivery(data), { ...f.ctx, deps: f.deps })).to.equal('ack');
    expect(f.store.task('op', doc.taskId)).to.deep.include({ status: 'SUCCEEDED', jobAttempt: 1 });
  });
});
