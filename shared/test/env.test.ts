import { expect } from 'chai';
import * as t from 'io-ts';
import {
  BooleanFromString,
  decodeEnv,
  HostPortFromString,
  integerFromString,
  ValidationError,
  withDefault,
} from '../src/index.js';

const Config = t.type({
  PORT: withDefault(integerFromString(1), 8080),
  DRY_RUN: withDefault(BooleanFromString, false),
  PUBSUB_EMULATOR_HOST: t.union([HostPortFromString, t.undefined]),
  GOOGLE_CLOUD_PROJECT: t.string,
});

describe('decodeEnv', () => {
  it('decodes strings into typed values and ignores unrelated variables', () => {
    const config = decodeEnv(Config, {
      PORT: '9000',
      DRY_RUN: 'yes',
      PUBSUB_EMULATOR_HOST: '127.0.0.1:8085',
      GOOGLE_CLOUD_PROJECT: 'demo-project',
      HOME: '/root',
    });
    expect(config).to.deep.equal({
      PORT: 9000,
      DRY_RUN: true,
      PUBSUB_EMULATOR_HOST: { host: '127.0.0.1', port: 8085 },
      GOOGLE_CLOUD_PROJECT: 'demo-project',
    });
  });

  it('applies defaults for absent or empty variables', () => {
    const config = decodeEnv(Config, { PORT: '', GOOGLE_CLOUD_PROJECT: 'p' });
    expect(config).to.deep.include({ PORT: 8080, DRY_RUN: false, PUBSUB_EMULATOR_HOST: undefined });
  });

  it('names every bad variable', () => {
    expect(() =>
      decodeEnv(Config, { PORT: '0', DRY_RUN: 'maybe', PUBSUB_EMULATOR_HOST: 'localhost' }),
    ).to.throw(
      ValidationError,
      'invalid configuration: PORT: expected an integer >= 1, got "0"; DRY_RUN: expected true or false, got "maybe"; ' +
        'PUBSUB_EMULATOR_HOST: expected host:port, got "localhost"; GOOGLE_CLOUD_PROJECT: required',
    );
  });

  it('parses integers strictly', () => {
    const Int = integerFromString();
    expect(Int.decode('-12')).to.deep.equal({ _tag: 'Right', right: -12 });
    for (const bad of ['1.5', '12abc', '', '1e3', '99999999999999999999']) {
      expect(Int.is(Int.decode(bad)), bad).to.equal(false);
      expect(Int.decode(bad)._tag, bad).to.equal('Left');
    }
  });

  it('parses booleans in the usual spellings', () => {
    for (const yes of ['true', 'TRUE', '1', 'yes', 'on'])
      expect(BooleanFromString.decode(yes)).to.deep.equal({ _tag: 'Right', right: true });
    for (const no of ['false', '0', 'No', 'off'])
      expect(BooleanFromString.decode(no)).to.deep.equal({ _tag: 'Right', right: false });
  });

  it('parses host:port, with IPv6 in brackets, and encodes it back', () => {
    expect(HostPortFromString.decode('[::1]:9050')).to.deep.equal({
      _tag: 'Right',
      right: { host: '[::1]', port: 9050 },
    });
    expect(HostPortFromString.decode('firestore:8086')).to.deep.equal({
      _tag: 'Right',
      right: { host: 'firestore', port: 8086 },
    });
    for (const bad of ['host', 'host:0', 'host:70000', 'http://host:80', ':80']) {
      expect(HostPortFromString.decode(bad)._tag, bad).to.equal('Left');
    }
    expect(HostPortFromString.encode({ host: '127.0.0.1', port: 4443 })).to.equal('127.0.0.1:4443');
  });
});
