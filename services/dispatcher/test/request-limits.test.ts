// The edge of a request before it is parsed: its nesting counted without recursion, and the fingerprint
// that tells a redelivery from another request under the same operation id.
import { expect } from 'chai';
import { conflicts, requestFingerprint } from '../src/engine/request-fingerprint.js';
import { nestsDeeperThan, parseRequestJson } from '../src/request-limits.js';

describe('request limits', () => {
  it('counts nesting by brackets outside strings, escaped quotes included', () => {
    const text = (s: string) => Buffer.from(s);
    expect(nestsDeeperThan(text('{"a":[{"b":[]}]}'), 4)).to.equal(false);
    expect(nestsDeeperThan(text('{"a":[{"b":[[]]}]}'), 4)).to.equal(true);
    expect(nestsDeeperThan(text('{"a":"[[[[[[[[[["}'), 1)).to.equal(false);
    expect(nestsDeeperThan(text('{"a":"\\"[[[[[[","b":"\\\\"}'), 1)).to.equal(false);
    expect(nestsDeeperThan(text('{"é":"ü[[[[","b":{}}'), 1)).to.equal(true);
  });

  it('refuses a body 20,000 levels deep before parsing it, and says which refusal it is', () => {
    const deep = parseRequestJson(Buffer.from(`${'['.repeat(20_000)}${']'.repeat(20_000)}`));
    expect(deep).to.deep.include({ ok: false, why: 'tooDeep' });
    expect(parseRequestJson(Buffer.from('{nope'))).to.deep.include({ ok: false, why: 'notJson' });
    expect(parseRequestJson(Buffer.from('{"a":[1]}'))).to.deep.equal({ ok: true, value: { a: [1] } });
  });
});

describe('request fingerprints', () => {
  const body = {
    operationId: 'op-1',
    bigQuery: { projectId: 'p', tablesToBackup: [{ datasetName: 'd', tables: ['a', 'b'] }] },
    backupStorage: { gcsOptions: { uri: 'gs://b', exportOptions: { format: 'AVRO', overwrite: true } } },
  };

  it('is the same for the same request, whatever its key order, id field or undefined fields', () => {
    const reordered = {
      backupStorage: { gcsOptions: { exportOptions: { overwrite: true, format: 'AVRO' }, uri: 'gs://b' } },
      bigQuery: { tablesToBackup: [{ tables: ['a', 'b'], datasetName: 'd' }], projectId: 'p' },
      dryRun: undefined,
    };
    expect(requestFingerprint('backup', reordered)).to.equal(requestFingerprint('backup', body));
    expect(requestFingerprint('backup', { ...body, kind: 'backup' })).to.equal(
      requestFingerprint('backup', body),
    );
  });

  it('differs for another table order, another field, or another kind', () => {
    const fingerprint = requestFingerprint('backup', body);
    const swapped = {
      ...body,
      bigQuery: { projectId: 'p', tablesToBackup: [{ datasetName: 'd', tables: ['b', 'a'] }] },
    };
    expect(requestFingerprint('backup', swapped)).to.not.equal(fingerprint);
    expect(requestFingerprint('backup', { ...body, dryRun: true })).to.not.equal(fingerprint);
    expect(requestFingerprint('restore', body)).to.not.equal(fingerprint);
  });

  it('takes an operation without a fingerprint as the same request when its kind matches', () => {
    const fingerprint = requestFingerprint('backup', body);
    expect(conflicts({ kind: 'backup' }, { kind: 'backup', requestFingerprint: fingerprint })).to.equal(
      false,
    );
    expect(conflicts({ kind: 'restore' }, { kind: 'backup', requestFingerprint: fingerprint })).to.equal(
      true,
    );
    expect(
      conflicts(
        { kind: 'backup', requestFingerprint: 'x' },
        { kind: 'backup', requestFingerprint: fingerprint },
      ),
    ).to.equal(true);
  });
});
