// Decoding a service's environment: the same codecs and ValidationError as requests, with codecs for
// the strings environment variables hold.
import * as t from 'io-ts';
import { decode, show } from './decode.js';

export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Decodes `env` (default `process.env`) with an object codec, keeping only the variables it names, or
 * throws a ValidationError naming each bad variable.
 */
export function decodeEnv<C extends t.HasProps>(codec: C, env: Env = process.env): t.TypeOf<C> {
  return decode<t.ExactC<C>>(t.exact(codec), env, 'configuration');
}

/** An integer such as `8080`, at least `min`. */
export function integerFromString(min = Number.MIN_SAFE_INTEGER): t.Type<number, string, unknown> {
  const expected = min === Number.MIN_SAFE_INTEGER ? 'an integer' : `an integer >= ${min}`;
  return new t.Type<number, string, unknown>(
    'IntegerFromString',
    (u): u is number => Number.isSafeInteger(u) && (u as number) >= min,
    (u, c) => {
      const value = typeof u === 'string' && /^\s*[+-]?\d+\s*$/.test(u) ? Number(u) : NaN;
      return Number.isSafeInteger(value) && value >= min
        ? t.success(value)
        : t.failure(u, c, `expected ${expected}, got ${show(u)}`);
    },
    String,
  );
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** `true`/`false` (also 1/0, yes/no, on/off, any case). */
export const BooleanFromString = new t.Type<boolean, string, unknown>(
  'BooleanFromString',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) => {
    const text = typeof u === 'string' ? u.trim().toLowerCase() : undefined;
    if (text !== undefined && TRUE.includes(text)) return t.success(true);
    if (text !== undefined && FALSE.includes(text)) return t.success(false);
    return t.failure(u, c, `expected true or false, got ${show(u)}`);
  },
  String,
);

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** `host:port`, as the emulator variables (`PUBSUB_EMULATOR_HOST=127.0.0.1:8085`) hold; IPv6 in brackets. */
export const HostPortFromString = new t.Type<HostPort, string, unknown>(
  'HostPortFromString',
  (u): u is HostPort =>
    typeof u === 'object' &&
    u !== null &&
    typeof (u as HostPort).host === 'string' &&
    typeof (u as HostPort).port === 'number',
  (u, c) => {
    const match =
      typeof u === 'string' ? /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(u.trim()) : null;
    const port = Number(match?.[2]);
    return match && port >= 1 && port <= 65535
      ? t.success({ host: match[1]!, port })
      : t.failure(u, c, `expected host:port, got ${show(u)}`);
  },
  ({ host, port }) => `${host}:${port}`,
);

/** Makes a variable optional: absent or empty means `fallback`. */
export function withDefault<C extends t.Mixed>(
  codec: C,
  fallback: t.TypeOf<C>,
): t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown> {
  return new t.Type<t.TypeOf<C>, t.OutputOf<C>, unknown>(
    codec.name,
    codec.is,
    (u, c) => (u === undefined || u === '' ? t.success(fallback) : codec.validate(u, c)),
    codec.encode,
  );
}
