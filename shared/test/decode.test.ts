import { expect } from 'chai';
import * as t from 'io-ts';
import {
  classifyError,
  decode,
  integerFrom,
  oneOf,
  PermanentError,
  strictObject,
  ValidationError,
} from '../src/index.js';

function issuesOf(codec: t.Any, input: unknown): unknown {
  try {
    decode(codec, input, 'thing');
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return (err as ValidationError).issues;
  }
  expect.fail('expected a ValidationError');
}

describe('decode', () => {
  it('returns the decoded value', () => {
    expect(decode(t.type({ n: t.number }), { n: 1 }, 'thing')).to.deep.equal({ n: 1 });
  });

  it('throws a permanent, invalid ValidationError that classifies as permanent', () => {
    let caught: unknown;
    try {
      decode(t.string, 1, 'name');
    } catch (err) {
      caught = err;
    }
    expect(caught).to.be.instanceOf(PermanentError);
    expect((caught as ValidationError).reason).to.equal('invalid');
    expect((caught as ValidationError).message).to.equal('invalid name: expected a string, got 1');
    expect(classifyError(caught)).to.deep.include({ kind: 'permanent', reason: 'invalid' });
  });

  it('renders object keys with dots and array indexes in brackets', () => {
    const codec = t.type({ items: t.array(t.type({ id: t.number })) });
    expect(issuesOf(codec, { items: [{ id: 1 }, { id: 'x' }, {}] })).to.deep.equal([
      { path: 'items[1].id', message: 'expected a number, got "x"' },
      { path: 'items[2].id', message: 'required' },
    ]);
  });

  it('collapses a union into one message at the union path', () => {
    const codec = t.type({ mode: t.union([t.literal('a'), t.literal('b')]) });
    expect(issuesOf(codec, { mode: 'c' })).to.deep.equal([
      { path: 'mode', message: 'expected ("a" | "b"), got "c"' },
    ]);
  });

  it('reports the fields of the one member a tagged union input names, through intersections', () => {
    const Home = t.union([
      t.type({ kind: t.literal('gcs'), uri: t.string }),
      t.intersection([t.type({ kind: t.literal('s3'), bucket: t.string }), t.partial({ region: t.string })]),
    ]);
    const codec = t.type({
      spec: t.union([t.type({ layout: t.literal('a'), home: Home }), t.type({ layout: t.literal('b') })]),
    });
    expect(issuesOf(codec, { spec: { layout: 'a', home: { kind: 's3', region: 7 } } })).to.deep.equal([
      { path: 'spec.home.bucket', message: 'required' },
      { path: 'spec.home.region', message: 'expected a string, got 7' },
    ]);
  });

  it('states a tagged union failed when the input names none of its members', () => {
    const codec = t.type({
      home: t.union(
        [t.type({ kind: t.literal('gcs'), uri: t.string }), t.type({ kind: t.literal('s3') })],
        'Home',
      ),
    });
    expect(issuesOf(codec, { home: { kind: 'ftp', uri: 1 } })).to.deep.equal([
      { path: 'home', message: 'expected Home, got {"kind":"ftp","uri":1}' },
    ]);
  });

  it('looks through intersections without adding their member indexes to paths', () => {
    const codec = t.intersection([t.type({ a: t.string }), t.partial({ b: t.boolean })]);
    expect(issuesOf(codec, { a: 1, b: 'no' })).to.deep.equal([
      { path: 'a', message: 'expected a string, got 1' },
      { path: 'b', message: 'expected true or false, got "no"' },
    ]);
  });

  describe('strictObject', () => {
    const Shape = strictObject(
      'Shape',
      { kind: oneOf('Kind', ['SQUARE', 'CIRCLE'] as const), size: integerFrom(1) },
      { label: t.string },
      {
        check: (s) =>
          s.kind === 'CIRCLE' && s.label === 'square' ? [{ path: ['label'], message: 'misleading' }] : [],
      },
    );

    it('reports unknown fields with the missing and bad ones', () => {
      expect(issuesOf(Shape, { kind: 'TRIANGLE', lable: 'x', colour: 'red' })).to.deep.equal([
        { path: 'lable', message: 'unknown field (did you mean label?)' },
        { path: 'colour', message: 'unknown field' },
        { path: 'kind', message: 'expected one of SQUARE, CIRCLE, got "TRIANGLE"' },
        { path: 'size', message: 'required' },
      ]);
    });

    it('returns only known fields, normalized', () => {
      expect(decode(Shape, { kind: 'circle', size: 2, label: null }, 'shape')).to.deep.equal({
        kind: 'CIRCLE',
        size: 2,
      });
    });

    it('runs cross-field checks on decoded values and reports them at their path', () => {
      expect(issuesOf(Shape, { kind: 'circle', size: 2, label: 'square' })).to.deep.equal([
        { path: 'label', message: 'misleading' },
      ]);
    });

    it('rejects non-objects with what it got', () => {
      expect(issuesOf(Shape, [1])).to.deep.equal([{ path: '', message: 'expected an object, got [1]' }]);
      expect(() => decode(Shape, 'x', 'shape')).to.throw('invalid shape: expected an object, got "x"');
    });
  });
});
