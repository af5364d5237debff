import { expect } from 'chai';
import { Writable } from 'node:stream';
import {
  CREDENTIAL_FIELDS,
  REDACTED,
  createLogger,
  isCredentialName,
  redact,
  redactText,
  show,
} from '../src/index.js';

describe('redact', function () {
  it('replaces every credential field at any depth and keeps the rest', function () {
    const request = {
      bigQuery: { projectId: 'p' },
      backupStorage: {
        s3Options: {
          bucket: 'b',
          kmsKeyId: 'arn:aws:kms:eu-central-1:1:key/k',
          prefix: 'nightly',
          secretAccessKey: 's3-secret',
          exportOptions: { format: 'AVRO', nested: { private_key: 'pk', password: 'pw' } },
        },
      },
      list: [{ apiKey: 'ak', pageToken: 'page-2' }],
    };
    const copy = redact(request);
    expect(copy.backupStorage.s3Options).to.include({
      bucket: 'b',
      kmsKeyId: 'arn:aws:kms:eu-central-1:1:key/k',
      prefix: 'nightly',
      secretAccessKey: REDACTED,
    });
    expect(copy.backupStorage.s3Options.exportOptions.nested).to.deep.equal({
      private_key: REDACTED,
      password: REDACTED,
    });
    expect(copy.list).to.deep.equal([{ apiKey: REDACTED, pageToken: 'page-2' }]);
    // A copy: the request itself is untouched.
    expect(request.backupStorage.s3Options.secretAccessKey).to.equal('s3-secret');
  });

  it('treats every refused credential field as a credential name, and key names of the contracts as none', function () {
    for (const name of Object.keys(CREDENTIAL_FIELDS)) expect(isCredentialName(name), name).to.equal(true);
    for (const name of ['kmsKeyId', 'kmsKeyName', 'keyPrefix', 'pageToken', 'nextPageToken', 'bucket', 'uri'])
      expect(isCredentialName(name), name).to.equal(false);
    for (const name of ['SECRET_ACCESS_KEY', 'client-secret', 'credentials', 'awsSessionToken', 'sas'])
      expect(isCredentialName(name), name).to.equal(true);
  });

  it('redacts credentials inside strings whatever the field', function () {
    const text = [
      'https://user:hunter2@example.com/x',
      'https://acct.blob.core.windows.net/c?sv=2022&sig=abc%2Bdef&se=1',
      'https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA1&X-Amz-Signature=f00d',
      'DefaultEndpointsProtocol=https;AccountName=a;AccountKey=bWFnaWM=;EndpointSuffix=core.windows.net',
      '-----BEGIN RSA PRIVATE KEY-----\nMIIEabc\n-----END RSA PRIVATE KEY-----',
      '{"clientSecret":"cs-value","name":"kept"}',
    ].join(' ');
    const out = redactText(text);
    for (const secret of ['hunter2', 'abc%2Bdef', 'AKIA1', 'f00d', 'bWFnaWM=', 'MIIEabc', 'cs-value'])
      expect(out).not.to.include(secret);
    expect(out).to.include('example.com/x').and.include('AccountName=a').and.include('"name":"kept"');
    expect(redact({ note: 'see https://u:p4ss@h/' }).note).to.equal(`see https://${REDACTED}@h/`);
  });

  it('keeps credentials out of show() and of every log line', function () {
    expect(show({ connectionString: 'x', url: 'https://h/?token=t0k' })).not.to.match(/t0k/);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const logger = createLogger({ service: 'test', format: 'json', stream, env: {} });
    logger.info('connecting with AccountKey=l0gsecret', { request: { s3Options: { sessionToken: 'st-1' } } });
    logger.child({ credentials: 'child-secret' }).warn('failed', { error: new Error('https://a:pw9@h') });
    expect(lines).to.have.length(2);
    const all = lines.join('\n');
    for (const secret of ['l0gsecret', 'st-1', 'child-secret', 'pw9']) expect(all).not.to.include(secret);
    expect(JSON.parse(lines[0]!)).to.nested.include({ 'request.s3Options.sessionToken': REDACTED });
  });
});
