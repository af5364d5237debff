// The edge of every service: decode untrusted input with an io-ts codec, or throw one error that names
// each bad field by its path.
import * as E from 'fp-ts/lib/Either.js';
import * as t from 'io-ts';
import { PermanentError } from './errors.js';
import { redactText } from './redact.js';

export interface ValidationIssue {
  /** Dotted path with array indexes, e.g. `bigQuery.tablesToBackup[1].datasetName`; empty for the whole input. */
  readonly path: string;
  readonly message: string;
}

/** A request or configuration that can never succeed as written; the reason is BigQuery's `invalid`. */
export class ValidationError extends PermanentError {
  override readonly name: string = 'ValidationError';

  constructor(
    readonly what: string,
    readonly issues: readonly ValidationIssue[],
  ) {
    super('invalid', `invalid ${what}: ${formatIssues(issues)}`);
  }
}

const formatIssue = ({ path, message }: ValidationIssue): string => (path ? `${path}: ${message}` : message);

/** `path: message; path: message`, as every decode error reads. */
export const formatIssues = (issues: readonly ValidationIssue[]): string =>
  issues.map(formatIssue).join('; ');

/** Returns the decoded value, or throws a ValidationError naming `what` (e.g. `backup request`). */
export function decode<C extends t.Any>(codec: C, input: unknown, what: string): t.TypeOf<C> {
  const result = decodeIssues(codec, input);
  if (E.isRight(result)) return result.right;
  throw new ValidationError(what, result.left);
}

/** The decoded value, or its issues: for an edge whose failure is not a ValidationError (a stored document). */
export function decodeIssues<C extends t.Any>(
  codec: C,
  input: unknown,
): E.Either<ValidationIssue[], t.TypeOf<C>> {
  const result = codec.decode(input);
  return E.isRight(result) ? E.right(result.right as t.TypeOf<C>) : E.left(toIssues(result.left));
}

/**
 * One issue per path, in the order io-ts found them; a codec's own message beats a generic one. A union
 * whose members are told apart by a literal field (`kind`, `layout`) reports the fields of the member the
 * input names; any other failed union is one statement at its path.
 */
export function toIssues(errors: t.Errors): ValidationIssue[] {
  const byPath = new Map<string, { message: string; isOwn: boolean }>();
  for (const error of errors) {
    const issue = toIssue(error);
    const isOwn = error.message !== undefined;
    const seen = byPath.get(issue.path);
    if (!seen || (isOwn && !seen.isOwn)) byPath.set(issue.path, { message: issue.message, isOwn });
  }
  return [...byPath].map(([path, { message }]) => ({ path, message }));
}

function toIssue(error: t.ValidationError): ValidationIssue {
  const { context } = error;
  const union = unresolvedUnion(context);
  if (union >= 0 && error.message === undefined) {
    const entry = context[union]!;
    return {
      path: renderPath(context.slice(0, union + 1)),
      message: describeFailure(entry.type, entry.actual),
    };
  }
  const last = context[context.length - 1];
  return {
    path: renderPath(context),
    message: error.message ?? describeFailure(last?.type, error.value),
  };
}

/**
 * The index in `context` of the first union the error passed through that is not tagged, or -1. io-ts
 * builds a tagged union when every member has a literal field in common (`kind`, `layout`) and tries only
 * the member the input's tag names, so an error below one is that member's own and stands for itself.
 */
function unresolvedUnion(context: t.Context): number {
  for (let i = 0; i < context.length - 1; i++) {
    const type = context[i]!.type;
    if (isTagged(type, 'UnionType') && !(type instanceof t.TaggedUnionType)) return i;
  }
  return -1;
}

function renderPath(context: t.Context): string {
  let path = '';
  context.forEach((entry, i) => {
    const parent = context[i - 1];
    // The root has no key; union and intersection members are indexed but are not part of the data.
    if (!parent || isTagged(parent.type, 'UnionType') || isTagged(parent.type, 'IntersectionType')) return;
    if (/^\d+$/.test(entry.key)) path += `[${entry.key}]`;
    else path += path ? `.${entry.key}` : entry.key;
  });
  return path;
}

function isTagged(type: t.Decoder<unknown, unknown>, tag: string): boolean {
  return (type as { _tag?: unknown })._tag === tag;
}

const FRIENDLY_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  Int: 'an integer',
  UnknownArray: 'a list',
  UnknownRecord: 'an object',
};

function describeFailure(type: t.Decoder<unknown, unknown> | undefined, actual: unknown): string {
  if (actual === undefined) return 'required';
  const name = type ? (FRIENDLY_NAMES[type.name] ?? type.name) : 'a valid value';
  return `expected ${name}, got ${show(actual)}`;
}

/** A short rendering of a bad value for error messages, with any credential inside it redacted. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string;
  try {
    text = JSON.stringify(value) ?? typeof value;
  } catch {
    // Cycles and bigints: the type is still worth saying.
    text = typeof value;
  }
  text = redactText(text);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
