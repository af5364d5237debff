// What a user reads when a command fails: one line per error on stderr (what went wrong, where, what to
// do), never a stack trace unless asked for, and the exit code that goes with it.
import { PermanentError, RetryableError, ValidationError } from '@bqbr/shared';
import { inspect } from 'node:util';
import { ApiError } from './api-client.js';

/** The exit codes of every path, as the help text and the README list them. */
export const EXIT = {
  /** Done; for an operation: it SUCCEEDED. */
  ok: 0,
  /** An error: bad usage or input, the dispatcher unreachable or refusing, a store unreadable. */
  error: 1,
  /** The operation ended FAILED or PARTIALLY_FAILED. */
  operationFailed: 2,
} as const;

/** A failure bqbr explains itself: each line already says what, where and what to do. */
export class CliError extends Error {
  override readonly name: string = 'CliError';
  // Private, so that --debug's dump of the error does not print the lines a second time.
  readonly #lines: readonly string[];

  constructor(lines: string | readonly string[], options?: ErrorOptions) {
    const all = typeof lines === 'string' ? [lines] : lines;
    super(all.join('; '), options);
    this.#lines = all;
  }

  get lines(): readonly string[] {
    return this.#lines;
  }
}

/** A command line that cannot run: a missing argument, an unknown command, a bad option value. */
export class UsageError extends CliError {
  override readonly name: string = 'UsageError';
}

/** `--debug` or BQBR_DEBUG=1 (anything but empty, 0 or false): stack traces and warnings on stderr. */
export function debugWanted(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const fromEnv = env['BQBR_DEBUG'];
  return argv.includes('--debug') || (fromEnv !== undefined && !/^(|0|false|no)$/i.test(fromEnv));
}

/**
 * Node prints every process warning (deprecations, a library's notice about the Node version) on
 * stderr; the CLI's output is its own, so warnings are shown only when debugging.
 */
export function routeWarnings(debug: boolean, stderr: NodeJS.WritableStream = process.stderr): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (debug) stderr.write(`bqbr: (debug) ${warning.name}: ${oneLine(warning.message)}\n`);
  });
}

export interface ReportOptions {
  /** The stack trace and causes after the lines. */
  readonly debug: boolean;
  /** The command that lists the commands and options (`bqbr --help`), named after a usage error. */
  readonly help: string;
  /** Each line's prefix. */
  readonly prefix?: string;
}

/** The lines to print for a failure; with debug, the error's stack and causes after them. */
export function failureReport(err: unknown, { debug, help, prefix = 'bqbr: ' }: ReportOptions): string[] {
  const lines = explain(err, help).map((line) => `${prefix}${oneLine(line)}`);
  return debug ? [...lines, inspect(err, { depth: 6 })] : lines;
}

function explain(err: unknown, help: string): string[] {
  if (err instanceof UsageError)
    return err.lines.map((line, i, all) =>
      i === all.length - 1 ? `${line} (${help} lists the commands and options)` : line,
    );
  if (err instanceof CliError) return [...err.lines];
  if (err instanceof ApiError)
    return err.issues.length === 0
      ? [err.message]
      : err.issues.map((issue) => `${err.message}: ${issue.path || '(request)'}: ${issue.message}`);
  if (err instanceof ValidationError)
    return err.issues.map((issue) => `invalid ${err.what}: ${issue.path || '(request)'}: ${issue.message}`);
  const parseArgs = parseArgsProblem(err);
  if (parseArgs) return [`${parseArgs} (${help} lists the commands and options)`];
  if (err instanceof PermanentError) return [err.message];
  // The services retry these (a network error, a 5xx, a rate limit); a user can too.
  if (err instanceof RetryableError) return [`${err.message} (it may pass: try again)`];
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return [`unexpected error: ${message} (--debug or BQBR_DEBUG=1 shows where it happened)`];
}

/** node:util parseArgs rejects unknown options and missing values with ERR_PARSE_ARGS_* codes. */
function parseArgsProblem(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !code.startsWith('ERR_PARSE_ARGS_')) return undefined;
  const unknown = /^Unknown option '([^']+)'/.exec(err.message);
  return unknown ? `unknown option ${unknown[1]}` : err.message.replace(/\.$/, '');
}

/**
 * Runs a command line's `main` on the process's arguments: exits with its code, or reports its failure
 * (one line per problem; --debug adds the stack) and exits 1. Warnings go only to --debug.
 */
export function runCommandLine(main: (argv: string[]) => Promise<number>, options: { help: string }): void {
  const argv = process.argv.slice(2);
  const debug = debugWanted(argv, process.env);
  routeWarnings(debug);
  main(argv).then(
    (code) => process.exit(code),
    (err: unknown) => {
      for (const line of failureReport(err, { debug, help: options.help })) console.error(line);
      process.exit(EXIT.error);
    },
  );
}

/** Whitespace, newlines included (a JSON parser's excerpt of the file, say), folded to single spaces. */
export const oneLine = (text: string): string => text.replace(/\s+/g, ' ').trim();
