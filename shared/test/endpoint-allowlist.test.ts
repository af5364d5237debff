import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { connect, createServer, type Server } from 'node:net';
import {
  AZURE_ACCOUNT_URLS_VARIABLE,
  PermanentError,
  S3_ENDPOINTS_VARIABLE,
  checkEndpoint,
  createStore,
  endpointAllowlist,
  type DestinationSpec,
} from '../src/index.js';

const refusal = (destination: DestinationSpec, env: Record<string, string>): PermanentError => {
  try {
    checkEndpoint(destination, endpointAllowlist(env));
  } catch (err) {
    expect(err).to.be.instanceOf(PermanentError);
    return err as PermanentError;
  }
  throw new Error(`expected ${JSON.stringify(destination)} to be refused`);
};
const allowed = (destination: DestinationSpec, env: Record<string, string> = {}): void =>
  checkEndpoint(destination, endpointAllowlist(env));

describe('endpoint allowlist', function () {
  it("allows AWS's and Azure's public endpoints by default, and nothing else", function () {
    allowed({ kind: 's3', bucket: 'b' });
    allowed({ kind: 's3', bucket: 'b', endpoint: 'https://s3.eu-central-1.amazonaws.com' });
    allowed({ kind: 's3', bucket: 'b', endpoint: 'https://s3.amazonaws.com/' });
    allowed({ kind: 'azure', container: 'ccc', accountUrl: 'https://acct.blob.core.windows.net' });
    expect(refusal({ kind: 's3', bucket: 'b', endpoint: 'https://evil.example' }, {}).message).to.include(
      S3_ENDPOINTS_VARIABLE,
    );
    refusal({ kind: 's3', bucket: 'b', endpoint: 'http://s3.amazonaws.com' }, {});
    refusal({ kind: 's3', bucket: 'b', endpoint: 'https://s3.amazonaws.com.evil.example' }, {});
    refusal({ kind: 's3', bucket: 'b', endpoint: 'https://s3.amazonaws.com:8443' }, {});
    expect(
      refusal({ kind: 'azure', container: 'ccc', accountUrl: 'https://a.b.blob.core.windows.net.evil' }, {})
        .message,
    ).to.include(AZURE_ACCOUNT_URLS_VARIABLE);
  });

  it("matches the operator's entries on scheme, host, port and path prefix", function () {
    const env = { [AZURE_ACCOUNT_URLS_VARIABLE]: 'http://127.0.0.1:10000/devstoreaccount1' };
    allowed({ kind: 'azure', container: 'ccc', accountUrl: 'http://127.0.0.1:10000/devstoreaccount1' }, env);
    refusal({ kind: 'azure', container: 'ccc', accountUrl: 'http://127.0.0.1:10000/other' }, env);
    refusal({ kind: 'azure', container: 'ccc', accountUrl: 'http://127.0.0.1:10001/devstoreaccount1' }, env);
    // Setting the list replaces the default.
    refusal({ kind: 'azure', container: 'ccc', accountUrl: 'https://acct.blob.core.windows.net' }, env);
    // The CLI's own endpoint is the operator's too.
    allowed(
      { kind: 's3', bucket: 'b', endpoint: 'http://127.0.0.1:4568' },
      { BQBR_S3_ENDPOINT: 'http://127.0.0.1:4568' },
    );
  });

  describe('against a listener that counts connections', function () {
    let server: Server;
    let connections = 0;
    let url = '';

    before(async function () {
      server = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('no port');
      url = `http://127.0.0.1:${address.port}`;
    });
    after(async function () {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('refuses an S3 endpoint or an Azure account URL outside the allowlist without connecting', async function () {
      const storage = new Storage({ projectId: 'allowlist-test', apiEndpoint: url });
      const env = { AZURE_STORAGE_ACCOUNT_KEY: Buffer.from('k').toString('base64') };
      const places: DestinationSpec[] = [
        { kind: 's3', bucket: 'bucket', endpoint: url, forcePathStyle: true },
        { kind: 'azure', container: 'ccc', accountUrl: `${url}/devstoreaccount1` },
      ];
      for (const where of places) {
        let refused: unknown;
        try {
          // As the worker and the dispatcher make their stores; a store made would connect on first use.
          const store = createStore(where, { storage, env });
          await store.list('');
        } catch (err) {
          refused = err;
        }
        expect(refused).to.be.instanceOf(PermanentError);
        expect((refused as PermanentError).reason).to.equal('accessDenied');
        expect((refused as Error).message).to.match(/BQBR_S3_ENDPOINTS|BQBR_AZURE_ACCOUNT_URLS/);
      }
      // A positive control: the listener does count a connection made to it.
      await new Promise<void>((resolve) => {
        connect(Number(new URL(url).port), '127.0.0.1')
          .on('close', () => resolve())
          .on('error', () => resolve());
      });
      expect(connections).to.equal(1);
    });
  });
});
