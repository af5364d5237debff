import { expect } from 'chai';
import { Writable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import type { LoggerOptions } from '../src/index.js';
import { createLogger, createSilentLogger, PermanentError } from '../src/index.js';

/** A logger writing into memory; `lines()` waits for winston's stream pipeline to deliver. */
function capture(options: Partial<LoggerOptions> = {}) {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const logger = createLogger({ service: 'worker', env: {}, stream, ...options });
  const lines = async (): Promise<string[]> => {
    await tick();
    return chunks.join('').split('\n').filter(Boolean);
  };
  const records = async (): Promise<Record<string, unknown>[]> =>
    (await lines()).map((line) => JSON.parse(line) as Record<string, unknown>);
  return { logger, lines, records };
}

describe('logging', () => {
  it('writes one JSON object per line with severity, message, time and service', async () => {
    const { logger, records } = capture({ format: 'json' });
    logger.info('table exported', { rows: 42 });
    logger.warn('slow job');
    const [first, second] = await records();
    expect(first).to.include({ severity: 'INFO', message: 'table exported', service: 'worker', rows: 42 });
    expect(new Date(first!.time as string).toISOString()).to.equal(first!.time);
    expect(second).to.include({ severity: 'WARNING', message: 'slow job' });
    expect(second).to.not.have.property('level');
  });

  it("maps every level to Cloud Logging's severity", async () => {
    const { logger, records } = capture({ format: 'json', level: 'debug' });
    logger.critical('a');
    logger.error('b');
    logger.warn('c');
    logger.info('d');
    logger.debug('e');
    expect((await records()).map((r) => r.severity)).to.deep.equal([
      'CRITICAL',
      'ERROR',
      'WARNING',
      'INFO',
      'DEBUG',
    ]);
  });

  it('carries the ids of a child logger on every line', async () => {
    const { logger, records } = capture({ format: 'json' });
    const task = logger
      .child({ operationId: 'op-1', taskId: 'sales.orders' })
      .child({ messageId: 'm-9', deliveryAttempt: 2 });
    task.info('started');
    task.error('failed', { attempt: 3 });
    for (const record of await records()) {
      expect(record).to.include({
        operationId: 'op-1',
        taskId: 'sales.orders',
        messageId: 'm-9',
        deliveryAttempt: 2,
      });
    }
  });

  it('serializes errors with name, message, reason and stack, but not client request config', async () => {
    const { logger, records } = capture({ format: 'json' });
    const err = Object.assign(new PermanentError('notFound', 'Not found: Table demo:sales.orders'), {
      config: { headers: { Authorization: 'Bearer secret' } },
    });
    logger.error('restore failed', { error: err });
    const [record] = await records();
    const error = record!.error as Record<string, unknown>;
    expect(error).to.include({
      name: 'PermanentError',
      message: 'Not found: Table demo:sales.orders',
      reason: 'notFound',
    });
    expect(error.stack).to.be.a('string').that.contains('PermanentError');
    expect(JSON.stringify(record)).to.not.contain('secret');
  });

  it('survives circular metadata and bigints', async () => {
    const { logger, records } = capture({ format: 'json' });
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    logger.info('odd', { loop, bytes: 10n ** 20n });
    const [record] = await records();
    expect(record).to.deep.include({
      loop: { name: 'loop', self: '[Circular]' },
      bytes: '100000000000000000000',
    });
  });

  it('drops lines below the level, from options or LOG_LEVEL', async () => {
    const fromEnv = capture({ format: 'json', env: { LOG_LEVEL: 'WARNING' } });
    fromEnv.logger.info('hidden');
    fromEnv.logger.warn('shown');
    expect((await fromEnv.records()).map((r) => r.message)).to.deep.equal(['shown']);
    const byDefault = capture({ format: 'json' });
    byDefault.logger.debug('hidden');
    byDefault.logger.info('shown');
    expect((await byDefault.records()).map((r) => r.message)).to.deep.equal(['shown']);
  });

  it('rejects an unknown LOG_LEVEL or LOG_FORMAT at start-up', () => {
    expect(() => createLogger({ service: 's', env: { LOG_LEVEL: 'loud' } })).to.throw(/LOG_LEVEL/);
    expect(() => createLogger({ service: 's', env: { LOG_FORMAT: 'xml' } })).to.throw(/LOG_FORMAT/);
  });

  it('writes readable single lines in the pretty format', async () => {
    const { logger, lines } = capture({ env: { LOG_FORMAT: 'pretty' } });
    logger
      .child({ operationId: 'op-1' })
      .warn('job slow', { table: 'sales.orders', note: 'two words', error: new Error('boom') });
    const [line] = await lines();
    expect(line).to.match(
      /^\d\d:\d\d:\d\d\.\d{3} WARNING {2}worker job slow operationId=op-1 table=sales\.orders note="two words" error="Error: boom"$/,
    );
  });

  it('chooses JSON when the stream is not a terminal and pretty when it is', async () => {
    const json = capture();
    json.logger.info('x');
    expect(JSON.parse((await json.lines())[0]!)).to.include({ message: 'x' });

    const chunks: string[] = [];
    const tty = Object.assign(
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          chunks.push(chunk.toString());
          done();
        },
      }),
      { isTTY: true },
    );
    createLogger({ service: 'worker', env: {}, stream: tty }).info('x');
    await tick();
    expect(chunks.join('')).to.match(/ INFO {5}worker x\n$/);
  });

  it('has a silent logger for tests', () => {
    const silent = createSilentLogger();
    expect(() => silent.child({ taskId: 't' }).error('nothing', { error: new Error('x') })).to.not.throw();
  });
});
