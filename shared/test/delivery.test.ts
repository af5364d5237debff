// The services' one ack rule and push edge: what a handler's failure does to its message, and how a
// push body is read (bounded) and turned into the message handlers take.
import { expect } from 'chai';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  BodyTooLarge,
  PermanentError,
  RetryableError,
  dispositionOf,
  toReceivedMessage,
  readHttpBody,
} from '../src/index.js';

describe('delivery', () => {
  describe('the ack rule', () => {
    it('acks what bqbr itself decided retrying cannot fix', () => {
      expect(dispositionOf(new PermanentError('invalid', 'bad'))).to.include({
        disposition: 'ack',
        reason: 'invalid',
      });
    });

    it('nacks a client error even when its kind is permanent, so the dead-letter path records it', () => {
      const apiError = Object.assign(new Error('Not found: Table p:d.t'), {
        code: 404,
        errors: [{ reason: 'notFound' }],
      });
      expect(dispositionOf(apiError)).to.include({
        disposition: 'nack',
        kind: 'permanent',
        reason: 'notFound',
      });
      // gRPC FAILED_PRECONDITION from Firestore: acking it would drop the message for good.
      const precondition = Object.assign(new Error('transaction expired'), { code: 9 });
      expect(dispositionOf(precondition)).to.include({ disposition: 'nack', kind: 'permanent' });
    });

    it('nacks what may pass later, and whatever it cannot classify', () => {
      expect(dispositionOf(new RetryableError('conflict', 'task is RUNNING')).disposition).to.equal('nack');
      const rateLimited = Object.assign(new Error('slow down'), {
        errors: [{ reason: 'rateLimitExceeded' }],
      });
      expect(dispositionOf(rateLimited)).to.include({ disposition: 'nack', reason: 'rateLimitExceeded' });
      expect(dispositionOf(new Error('something odd'))).to.include({
        disposition: 'nack',
        reason: 'unknown',
      });
    });
  });

  describe('push bodies', () => {
    async function post(body: Buffer, maxBytes: number): Promise<Buffer | Error> {
      let result: Buffer | Error | undefined;
      const server = createServer((req: IncomingMessage, res) => {
        readHttpBody(req, maxBytes).then(
          (read) => {
            result = read;
            res.writeHead(204).end();
          },
          (err: Error) => {
            result = err;
            res.writeHead(413).end();
          },
        );
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      try {
        await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body }).catch(() => undefined);
      } finally {
        server.closeAllConnections();
        server.close();
      }
      return result!;
    }

    it('reads a body up to its limit whole', async () => {
      const body = Buffer.alloc(64 * 1024, 7);
      const read = await post(body, body.length);
      expect(Buffer.isBuffer(read) && read.equals(body)).to.equal(true);
    });

    it('refuses a body over its limit with BodyTooLarge', async () => {
      const read = await post(Buffer.alloc(64 * 1024 + 1, 7), 64 * 1024);
      expect(read).to.be.instanceOf(BodyTooLarge);
      expect((read as Error).message).to.contain('65536 bytes');
    });

    it('lets a client sending a body over the limit read the 413 answer instead of a reset connection', async () => {
      const server = createServer((req: IncomingMessage, res) => {
        readHttpBody(req, 64 * 1024).then(
          () => res.writeHead(204).end(),
          (err: Error) => res.writeHead(413, { 'content-type': 'text/plain' }).end(err.message),
        );
      });
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as AddressInfo;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, {
          method: 'POST',
          body: Buffer.alloc(4 * 1024 * 1024, 7),
        });
        expect(res.status).to.equal(413);
        expect(await res.text()).to.contain('65536 bytes');
      } finally {
        server.closeAllConnections();
        server.close();
      }
    });

    it('maps a push delivery to a received message, counting the first attempt as 1', () => {
      const pushed = {
        data: Buffer.from('{}'),
        attributes: { kind: 'backup' },
        messageId: 'm-1',
        publishTime: '2026-12-03T10:00:00.000Z',
      };
      expect(toReceivedMessage(pushed)).to.deep.equal({ ...pushed, deliveryAttempt: 1 });
      expect(toReceivedMessage({ ...pushed, deliveryAttempt: 4 }).deliveryAttempt).to.equal(4);
    });
  });
});
