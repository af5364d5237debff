#!/usr/bin/env node
// The local runner: `npm start` runs `up`, `npm run demo` runs `demo` (run-local.ts says what each does).
// A failure is one line on stderr and exit code 1; --debug (or BQBR_DEBUG=1) adds the stack trace.
import { CliError, UsageError, oneLine, runCommandLine } from '@bqbr/cli';
import { StackSetupError } from '@bqbr/emulators';
import { parseArgs } from 'node:util';
import { PortTaken, runLocal } from './run-local.js';

const USAGE = `Usage: node infra/local/dist/main.js <command> [--debug]

Commands:
  up      the local stack, dispatcher and worker, with a demo dataset, until Ctrl-C (npm start)
  demo    the same on free ports: a full backup and its restore, both verified; exit 0 or 1 (npm run demo)

A failure to start is one line on stderr, exit code 1; --debug (or BQBR_DEBUG=1) adds its stack trace.
Against the running stack, the bqbr command line: npm run bqbr -- --help`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  if (command !== 'up' && command !== 'demo')
    throw new UsageError(
      `${command === undefined ? 'no command given' : `unknown command "${command}"`}: up (npm start) or demo (npm run demo)`,
    );
  if (rest.length > 0) throw new UsageError(`${command} takes no argument, not ${rest.join(' ')}`);
  try {
    return await runLocal({ mode: command });
  } catch (err) {
    throw asStartFailure(err);
  }
}

/**
 * What a user can act on: a missing piece or a taken port of the stack (StackSetupError says which
 * and what to do), or a service that exited while starting, told by the last line it printed.
 */
function asStartFailure(err: unknown): unknown {
  if (err instanceof StackSetupError || err instanceof PortTaken)
    return new CliError(`cannot start the local stack: ${err.message}`, { cause: err });
  if (!(err instanceof Error) || !err.message.includes('\n')) return err;
  const [summary = '', ...output] = err.message.split('\n');
  const last = lastWords(output.filter((line) => line.trim() !== '').at(-1) ?? '');
  const hint = /EADDRINUSE|already in use/.test(last)
    ? ': another program has that port; stop it (npm run demo runs on free ports)'
    : '';
  return new CliError(`${summary.replace(/:$/, '')}${last ? `: ${last}` : ''}${hint}`, { cause: err });
}

/** A service's last output line; for a JSON log line, its error or message. */
function lastWords(line: string): string {
  try {
    const entry = JSON.parse(line) as { error?: unknown; message?: unknown };
    if (typeof entry.error === 'string') return oneLine(entry.error);
    if (typeof entry.message === 'string') return oneLine(entry.message);
  } catch {
    // not a JSON log line: the line itself
  }
  return oneLine(line);
}

runCommandLine(main, { help: 'node infra/local/dist/main.js --help' });
