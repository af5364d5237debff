import { PermanentError, RetryableError, ValidationError } from '@bqbr/shared';
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ApiError } from '../src/api-client.js';
import { CliError, UsageError, debugWanted, failureReport } from '../src/failure.js';

const report = (err: unknown, debug = false): string[] => failureReport(err, { debug, help: 'bqbr --help' });

describe('bqbr failure report', function () {
  it('gives one line per bad field of a refused request, naming the dispatcher', function () {
    const err = new ApiError(400, 'the dispatcher at http://127.0.0.1:8080 refused the request', [
      { path: 'bigQuery.projectId', message: 'required' },
      { path: '', message: 'not an object' },
    ]);
    expect(report(err)).to.deep.equal([
      'bqbr: the dispatcher at http://127.0.0.1:8080 refused the request: bigQuery.projectId: required',
      'bqbr: the dispatcher at http://127.0.0.1:8080 refused the request: (request): not an object',
    ]);
  });

  it('folds a message that spans lines into one', function () {
    expect(report(new CliError('x.json is not JSON ("vm\n  \n")'))).to.deep.equal([
      'bqbr: x.json is not JSON ("vm ")',
    ]);
    expect(report(new ValidationError('answer', [{ path: 'a', message: 'one\ntwo' }]))).to.deep.equal([
      'bqbr: invalid answer: a: one two',
    ]);
  });

  it('points a usage error and a bad option at the help', function () {
    expect(report(new UsageError('unknown command "x"'))).to.deep.equal([
      'bqbr: unknown command "x" (bqbr --help lists the commands and options)',
    ]);
    let parseError: unknown;
    try {
      parseArgs({ args: ['--nope'], options: {} });
    } catch (err) {
      parseError = err;
    }
    expect(report(parseError)).to.deep.equal([
      'bqbr: unknown option --nope (bqbr --help lists the commands and options)',
    ]);
  });

  it('says what kind of failure the others are, and how to see more', function () {
    expect(report(new PermanentError('notFound', 'bucket gs://b does not exist'))).to.deep.equal([
      'bqbr: bucket gs://b does not exist',
    ]);
    expect(report(new RetryableError('backendError', 'listing gs://b: 503'))).to.deep.equal([
      'bqbr: listing gs://b: 503 (it may pass: try again)',
    ]);
    expect(report(new TypeError('x is undefined'))).to.deep.equal([
      'bqbr: unexpected error: TypeError: x is undefined (--debug or BQBR_DEBUG=1 shows where it happened)',
    ]);
  });

  it('adds the stack trace and the cause only when debugging', function () {
    const err = new CliError('cannot read the backup request r.json: no such file', {
      cause: new Error('ENOENT: no such file or directory'),
    });
    expect(report(err)).to.have.length(1);
    const [line, trace] = report(err, true);
    expect(line).to.equal('bqbr: cannot read the backup request r.json: no such file');
    expect(trace).to.match(/^\s+at /m);
    expect(trace).to.contain('[cause]: Error: ENOENT');
  });

  it('takes --debug or a BQBR_DEBUG that is set to something other than 0 or false', function () {
    expect(debugWanted(['status', 'x', '--debug'], {})).to.equal(true);
    expect(debugWanted([], { BQBR_DEBUG: '1' })).to.equal(true);
    expect(debugWanted([], { BQBR_DEBUG: 'true' })).to.equal(true);
    for (const off of ['', '0', 'false', 'no']) expect(debugWanted([], { BQBR_DEBUG: off })).to.equal(false);
    expect(debugWanted(['status', 'x'], {})).to.equal(false);
  });

  // In a process of its own: routeWarnings replaces the process's warning listeners.
  it('keeps process warnings (a library about the Node version, a deprecation) off stderr unless debugging', function () {
    const failure = fileURLToPath(new URL('../src/failure.ts', import.meta.url));
    const run = (debug: boolean): { stdout: string; stderr: string } =>
      spawnSync(
        process.execPath,
        [
          '--import',
          'tsx',
          '--input-type=module',
          '-e',
          `const { routeWarnings } = await import(${JSON.stringify(failure)});
           routeWarnings(${String(debug)});
           process.emitWarning('NodeVersionSupportWarning: upgrade to node >=22');
           process.emitWarning('old API', 'DeprecationWarning');`,
        ],
        { encoding: 'utf8' },
      );
    const quiet = run(false);
    expect(quiet.stderr).to.equal('');
    expect(quiet.stdout).to.equal('');
    expect(run(true).stderr.split('\n')).to.deep.equal([
      'bqbr: (debug) Warning: NodeVersionSupportWarning: upgrade to node >=22',
      'bqbr: (debug) DeprecationWarning: old API',
      '',
    ]);
  });
});
