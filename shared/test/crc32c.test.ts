// The CRC32C the services' Storage client validates downloads with: known values, chunking, and the
// generator interface the client calls.
import { expect } from 'chai';
import { randomBytes } from 'node:crypto';
import { Crc32c, crc32cGenerator, crc32cToBase64 } from '../src/crc32c.js';

describe('crc32c', function () {
  it('gives the standard check value and Cloud Storage’s base64 form', function () {
    expect(new Crc32c().update(Buffer.from('123456789')).digest()).to.equal(0xe3069283);
    expect(new Crc32c().digest()).to.equal(0);
    expect(crc32cToBase64(0xe3069283)).to.equal(Buffer.from([0xe3, 0x06, 0x92, 0x83]).toString('base64'));
  });

  it('is the same however the bytes are cut', function () {
    const data = randomBytes(100_003);
    const whole = new Crc32c().update(data).digest();
    const pieces = new Crc32c();
    for (let at = 0; at < data.length; at += 7_777) pieces.update(data.subarray(at, at + 7_777));
    expect(pieces.digest()).to.equal(whole);
  });

  it('validates as the Storage client asks it to', function () {
    const data = Buffer.from('123456789');
    const generator = crc32cGenerator();
    generator.update(data);
    const expected = crc32cToBase64(0xe3069283);
    expect(generator.toString()).to.equal(expected);
    expect(generator.validate(expected)).to.equal(true);
    expect(generator.validate(crc32cToBase64(0))).to.equal(false);
    expect(generator.validate(Buffer.from(expected, 'base64'))).to.equal(true);
    expect(generator.validate(0xe3069283)).to.equal(true);
  });
});
