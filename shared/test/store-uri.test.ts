import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import {
  createStore,
  destinationFromUri,
  PermanentError,
  ValidationError,
  type DestinationSpec,
} from '../src/index.js';

const problem = (uri: string, env: Record<string, string> = {}): PermanentError => {
  try {
    destinationFromUri(uri, env, '/srv/here');
  } catch (err) {
    expect(err).to.be.instanceOf(PermanentError);
    expect((err as PermanentError).reason).to.equal('invalid');
    return err as PermanentError;
  }
  throw new Error(`expected ${uri} to be refused`);
};

describe('destinations from URIs (destinationFromUri)', function () {
  it('reads gs:// URIs as Cloud Storage destinations, as they are', function () {
    expect(destinationFromUri('gs://my-bucket/nightly/bq', {})).to.deep.equal({
      kind: 'gcs',
      uri: 'gs://my-bucket/nightly/bq',
    });
    expect(destinationFromUri('gs://my-bucket', {})).to.deep.equal({ kind: 'gcs', uri: 'gs://my-bucket' });
    expect(problem('gs://Bad_Bucket/x')).to.be.instanceOf(ValidationError);
  });

  it('reads s3:// URIs, with the endpoint and region of the environment when set', function () {
    expect(destinationFromUri('s3://backups-eu/nightly/bq/', {})).to.deep.equal({
      kind: 's3',
      bucket: 'backups-eu',
      prefix: 'nightly/bq',
    });
    expect(destinationFromUri('s3://backups-eu', { AWS_REGION: 'eu-central-1' })).to.deep.equal({
      kind: 's3',
      bucket: 'backups-eu',
      region: 'eu-central-1',
    });
    // An S3-compatible server (s3rver, MinIO) is addressed path-style.
    expect(
      destinationFromUri('s3://local/x', { BQBR_S3_ENDPOINT: 'http://127.0.0.1:4568', AWS_REGION: '' }),
    ).to.deep.equal({
      kind: 's3',
      bucket: 'local',
      prefix: 'x',
      endpoint: 'http://127.0.0.1:4568',
      forcePathStyle: true,
    });
    expect(problem('s3://').message).to.include('s3://bucket[/prefix]');
    expect(problem('s3://Not_A_Bucket/x').message).to.match(/S3 bucket/);
    expect(problem('s3://bucket/a//b').message).to.match(/prefix/);
    expect(problem('s3://bucket/a/../b').message).to.match(/prefix/);
  });

  it('reads Azure Blob Storage URLs, with the account in the host or (Azurite) in the path', function () {
    expect(destinationFromUri('https://acct.blob.core.windows.net/backups/nightly/bq', {})).to.deep.equal({
      kind: 'azure',
      accountUrl: 'https://acct.blob.core.windows.net',
      container: 'backups',
      prefix: 'nightly/bq',
    });
    expect(destinationFromUri('https://acct.blob.core.windows.net/backups/', {})).to.deep.equal({
      kind: 'azure',
      accountUrl: 'https://acct.blob.core.windows.net',
      container: 'backups',
    });
    expect(destinationFromUri('http://127.0.0.1:10000/devstoreaccount1/backups/a%20b/c', {})).to.deep.equal({
      kind: 'azure',
      accountUrl: 'http://127.0.0.1:10000/devstoreaccount1',
      container: 'backups',
      prefix: 'a b/c',
    });
    expect(destinationFromUri('http://localhost:10000/devstoreaccount1/backups', {})).to.deep.include({
      accountUrl: 'http://localhost:10000/devstoreaccount1',
      container: 'backups',
    });
    // The account of AZURE_STORAGE_CONNECTION_STRING.
    expect(destinationFromUri('azure://backups/nightly', {})).to.deep.equal({
      kind: 'azure',
      container: 'backups',
      prefix: 'nightly',
    });
    expect(problem('https://acct.blob.core.windows.net/').message).to.include(
      'https://account.blob.core.windows.net/container[/prefix]',
    );
    expect(problem('http://127.0.0.1:10000/devstoreaccount1').message).to.include(
      'http://127.0.0.1:10000/account/container[/prefix]',
    );
    expect(problem('https://acct.blob.core.windows.net/Backups').message).to.match(/Azure container/);
    // Credentials belong in the environment, never on a command line that lands in shell history.
    const sas = problem('https://acct.blob.core.windows.net/backups?sv=2024&sig=secret');
    expect(sas.message).to.include('AZURE_STORAGE_CONNECTION_STRING').and.not.include('secret');
    expect(problem('https://user:pw@acct.blob.core.windows.net/backups').message).to.not.include('pw@');
  });

  it('reads file:// URIs and plain paths as directories, relative ones against the working directory', function () {
    expect(destinationFromUri('file:///var/backups/bq/', {})).to.deep.equal({
      kind: 'file',
      path: '/var/backups/bq',
    });
    expect(destinationFromUri('file:///var/my%20backups', {})).to.deep.equal({
      kind: 'file',
      path: '/var/my backups',
    });
    expect(destinationFromUri('/var/backups', {})).to.deep.equal({ kind: 'file', path: '/var/backups' });
    expect(destinationFromUri('backups/bq', {}, '/srv/here')).to.deep.equal({
      kind: 'file',
      path: '/srv/here/backups/bq',
    });
    expect(destinationFromUri('./a:b', {}, '/srv/here')).to.deep.equal({
      kind: 'file',
      path: '/srv/here/a:b',
    });
    expect(problem('file://server/share').message).to.match(/file URI/);
    expect(problem('').message).to.match(/no location/);
  });

  it('refuses other kinds of location, naming the ones it knows', function () {
    expect(problem('ftp://host/dir').message).to.equal(
      'unknown kind of location "ftp://": expected gs://, s3://, https:// (Azure), azure://, file:// or a directory path',
    );
  });

  it('names the same place as the store made from it', function () {
    const env = {
      BQBR_FILE_ROOTS: '/var',
      BQBR_AZURE_ACCOUNT_URLS: 'https://*.blob.core.windows.net,http://127.0.0.1:10000/devstoreaccount1',
    };
    const deps = { storage: new Storage({ projectId: 'uri-test' }), env };
    const cases: [string, string][] = [
      ['gs://my-bucket/nightly', 'gs://my-bucket/nightly/backups/x'],
      ['s3://backups-eu/nightly/', 's3://backups-eu/nightly/backups/x'],
      [
        'https://acct.blob.core.windows.net/backups/nightly',
        'https://acct.blob.core.windows.net/backups/nightly/backups/x',
      ],
      [
        'http://127.0.0.1:10000/devstoreaccount1/backups',
        'http://127.0.0.1:10000/devstoreaccount1/backups/backups/x',
      ],
      ['file:///var/backups', 'file:///var/backups/backups/x'],
    ];
    for (const [uri, expected] of cases) {
      const destination: DestinationSpec = destinationFromUri(uri, {});
      expect(createStore(destination, deps).uri('backups/x'), uri).to.equal(expected);
    }
  });
});
