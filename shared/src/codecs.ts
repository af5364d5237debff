// Building blocks for codecs whose failures read well: every failure carries its own message, objects
// reject unknown fields, and cross-field rules report on the field they are about.
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { show } from './decode.js';

type Simplify<T> = { [K in keyof T]: T[K] } & {};

export type StrictObjectOf<R extends t.Props, O extends t.Props> = Simplify<
  { readonly [K in keyof R]: t.TypeOf<R[K]> } & { readonly [K in keyof O]?: t.TypeOf<O[K]> }
>;

/** A problem found by a cross-field check, at a path relative to the object being checked. */
export interface FieldProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

export interface StrictObjectOptions<A> {
  /** Rules that span fields, run only once every field decoded. */
  readonly check?: (value: A) => readonly FieldProblem[];
  /** Unknown fields refused with their own message (e.g. credentials, which belong in the environment). */
  readonly refused?: Readonly<Record<string, string>>;
}

/**
 * An object with required and optional fields that rejects fields it does not know, so a typo such as
 * `tabelsToBackup` fails instead of silently meaning "everything". `null` counts as absent, as it did
 * for the Java service's Jackson binding.
 */
export function strictObject<R extends t.Props, O extends t.Props = Record<never, never>>(
  name: string,
  required: R,
  optional: O = {} as O,
  options: StrictObjectOptions<StrictObjectOf<R, O>> = {},
): t.Type<StrictObjectOf<R, O>, StrictObjectOf<R, O>, unknown> {
  const known = [...Object.keys(required), ...Object.keys(optional)];
  return new t.Type<StrictObjectOf<R, O>, StrictObjectOf<R, O>, unknown>(
    name,
    (u): u is StrictObjectOf<R, O> => typeof u === 'object' && u !== null && !Array.isArray(u),
    (u, c) => {
      if (typeof u !== 'object' || u === null || Array.isArray(u)) {
        return t.failure(u, c, `expected an object, got ${show(u)}`);
      }
      const input = u as Record<string, unknown>;
      const errors: t.ValidationError[] = [];
      const output: Record<string, unknown> = {};
      for (const key of Object.keys(input)) {
        if (!known.includes(key)) {
          const message = options.refused?.[key] ?? unknownFieldMessage(key, known);
          // A refused value (a secret) is never echoed back in the error.
          errors.push(issueAt(c, [key], options.refused?.[key] ? '(hidden)' : input[key], message));
        }
      }
      const fields = [
        ...Object.entries(required).map(([key, codec]) => ({ key, codec, isRequired: true })),
        ...Object.entries(optional).map(([key, codec]) => ({ key, codec, isRequired: false })),
      ];
      for (const { key, codec, isRequired } of fields) {
        const value = input[key];
        if (value === undefined || value === null) {
          if (isRequired) errors.push(issueAt(c, [key], value, 'required'));
          continue;
        }
        const result = codec.validate(value, t.appendContext(c, key, codec, value));
        if (E.isLeft(result)) errors.push(...result.left);
        else output[key] = result.right;
      }
      if (errors.length > 0) return t.failures(errors);
      const value = output as StrictObjectOf<R, O>;
      const problems = options.check?.(value) ?? [];
      if (problems.length > 0) {
        return t.failures(problems.map((p) => issueAt(c, p.path, valueAt(input, p.path), p.message)));
      }
      return t.success(value);
    },
    t.identity,
  );
}

function issueAt(c: t.Context, path: readonly (string | number)[], value: unknown, message: string) {
  const context = path.reduce<t.Context>((ctx, key) => t.appendContext(ctx, String(key), t.unknown), c);
  return { value, context, message };
}

function valueAt(input: unknown, path: readonly (string | number)[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined,
    input,
  );
}

function unknownFieldMessage(key: string, known: readonly string[]): string {
  const near = known.find((k) => k.toLowerCase() === key.toLowerCase() || editDistance(k, key) <= 2);
  return near ? `unknown field (did you mean ${near}?)` : 'unknown field';
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** A string codec whose failure message comes from `problem` (undefined when the string is fine). */
export function stringWith(
  name: string,
  problem: (value: string) => string | undefined,
): t.Type<string, string, unknown> {
  return new t.Type<string, string, unknown>(
    name,
    (u): u is string => typeof u === 'string' && problem(u) === undefined,
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c, `expected a string, got ${show(u)}`);
      const message = problem(u);
      return message === undefined ? t.success(u) : t.failure(u, c, message);
    },
    t.identity,
  );
}

/**
 * One of a fixed set of upper-case names, matched case-insensitively, with optional aliases
 * (`NEWLINE_DELIMITED_JSON` → `JSON`).
 */
export function oneOf<V extends string>(
  name: string,
  values: readonly V[],
  aliases: Readonly<Record<string, V>> = {},
): t.Type<V, V, unknown> {
  const expected = `expected one of ${values.join(', ')}`;
  return new t.Type<V, V, unknown>(
    name,
    (u): u is V => typeof u === 'string' && (values as readonly string[]).includes(u),
    (u, c) => {
      if (typeof u !== 'string') return t.failure(u, c, `${expected}, got ${show(u)}`);
      const upper = u.toUpperCase();
      const value = (values as readonly string[]).includes(upper) ? (upper as V) : aliases[upper];
      return value === undefined ? t.failure(u, c, `${expected}, got ${show(u)}`) : t.success(value);
    },
    t.identity,
  );
}

/** Exactly one of a fixed set of values, as bqbr wrote it (no case folding, no aliases): for state read back. */
export function literalOf<const V extends string>(name: string, values: readonly V[]): t.Type<V, V, unknown> {
  const is = (u: unknown): u is V => typeof u === 'string' && (values as readonly string[]).includes(u);
  return new t.Type<V, V, unknown>(
    name,
    is,
    (u, c) =>
      is(u) ? t.success(u) : t.failure(u, c, `expected one of ${values.join(', ')}, got ${show(u)}`),
    t.identity,
  );
}

/** A codec of one literal value, e.g. the top-level `kind` of a backup request. */
export function exactly<V extends string>(value: V): t.Type<V, V, unknown> {
  return new t.Type<V, V, unknown>(
    JSON.stringify(value),
    (u): u is V => u === value,
    (u, c) => (u === value ? t.success(value) : t.failure(u, c, `expected ${show(value)}, got ${show(u)}`)),
    t.identity,
  );
}

export const bool = new t.Type<boolean, boolean, unknown>(
  'boolean',
  (u): u is boolean => typeof u === 'boolean',
  (u, c) =>
    typeof u === 'boolean' ? t.success(u) : t.failure(u, c, `expected true or false, got ${show(u)}`),
  t.identity,
);

/** An integer of at least `min`. */
export function integerFrom(min: number): t.Type<number, number, unknown> {
  const expected = min === 1 ? 'a positive integer' : `an integer >= ${min}`;
  return new t.Type<number, number, unknown>(
    `Integer>=${min}`,
    (u): u is number => Number.isSafeInteger(u) && (u as number) >= min,
    (u, c) =>
      Number.isSafeInteger(u) && (u as number) >= min
        ? t.success(u as number)
        : t.failure(u, c, `expected ${expected}, got ${show(u)}`),
    t.identity,
  );
}

/** A non-empty list whose items are decoded by `item`; failures are reported per index. */
export function listOf<C extends t.Mixed>(
  item: C,
  what: string,
): t.Type<t.TypeOf<C>[], t.TypeOf<C>[], unknown> {
  const list = t.array(item);
  return new t.Type<t.TypeOf<C>[], t.TypeOf<C>[], unknown>(
    list.name,
    (u): u is t.TypeOf<C>[] => list.is(u) && u.length > 0,
    (u, c) => {
      if (!Array.isArray(u) || u.length === 0) {
        return t.failure(u, c, `expected a non-empty list of ${what}, got ${show(u)}`);
      }
      return list.validate(u, c);
    },
    t.identity,
  );
}
