// The command lines as a user runs them: the bqbr CLI, a process talking to the dispatcher's HTTP API, and
// `npm run demo`, the local runner's verified backup and restore. A failure is one line on stderr, the
// documented exit code, no stack trace and no warning of Node or a library.
import { freePort } from '@bqbr/emulators';
import { seedDemoData } from '@bqbr/local/demo-data';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEnvironment, unique, type Environment } from '../support/e2e.js';

const cliMain = fileURLToPath(new URL('../../services/cli/dist/main.js', import.meta.url));
const localMain = fileURLToPath(new URL('../../infra/local/dist/main.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runNode(
  main: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const runCli = (args: string[], env?: NodeJS.ProcessEnv): Promise<Run> => runNode(cliMain, args, env);

/** What a user sees of a failure: exactly one line on stderr, matching `line`; no stack, no warning. */
function expectOneLineFailure(run: Run, code: number, line: RegExp): void {
  const shown = `exit ${String(run.code)}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;
  expect(run.code, shown).to.equal(code);
  expect(run.stderr.endsWith('\n'), shown).to.equal(true);
  const lines = run.stderr.split('\n').slice(0, -1);
  expect(lines, shown).to.have.length(1);
  expect(lines[0], shown).to.match(/^bqbr: /);
  expect(lines[0], shown).to.match(line);
  expect(run.stderr, shown).not.to.match(/^\s+at /m);
  expect(`${run.stdout}${run.stderr}`, shown).not.to.match(/warn/i);
}

/** A port on 127.0.0.1 that nothing listens on. */
const closedPort = (): Promise<number> => freePort('127.0.0.1');

describe('bqbr CLI errors, without a dispatcher', function () {
  this.timeout(30_000);
  let work: string;

  before(async function () {
    work = await mkdtemp(join(tmpdir(), 'bqbr-cli-errors-'));
  });

  after(async function () {
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('names a missing request file, exit 1', async function () {
    const missing = join(work, 'no-such-request.json');
    const run = await runCli(['backup', missing]);
    expectOneLineFailure(run, 1, new RegExp(`cannot read the backup request ${missing}: no such file`));
    expect(run.stdout).to.equal('');
  });

  it('names a request file that is not JSON, exit 1', async function () {
    const file = join(work, 'hostname');
    await writeFile(file, 'build-host\n');
    const run = await runCli(['restore', file]);
    expectOneLineFailure(run, 1, new RegExp(`${file} is not JSON .*: a restore request is one JSON object`));
  });

  it('says which dispatcher it cannot reach and how to point at one, exit 1', async function () {
    const port = await closedPort();
    const run = await runCli(['list', '--api', `http://127.0.0.1:${port}`]);
    expectOneLineFailure(
      run,
      1,
      new RegExp(
        `cannot reach the dispatcher at http://127\\.0\\.0\\.1:${port} \\(connection refused\\): is it running\\? .*--api URL or BQBR_API_URL`,
      ),
    );
    const fromEnv = await runCli(['status', 'some-operation'], {
      ...process.env,
      BQBR_API_URL: `http://127.0.0.1:${port}`,
    });
    expectOneLineFailure(
      fromEnv,
      1,
      new RegExp(`cannot reach the dispatcher at http://127\\.0\\.0\\.1:${port}`),
    );
  });

  it('refuses a command line it cannot run, exit 1', async function () {
    expectOneLineFailure(await runCli(['frobnicate']), 1, /unknown command "frobnicate" \(bqbr --help/);
    expectOneLineFailure(await runCli(['list', '--colour']), 1, /unknown option --colour \(bqbr --help/);
    expectOneLineFailure(await runCli(['status']), 1, /status needs an operation id/);
    expectOneLineFailure(await runCli(['list', '--limit', 'ten']), 1, /--limit takes a whole number/);
    expectOneLineFailure(await runCli([]), 1, /no command given/);
  });

  it('prints its version', async function () {
    const { version } = JSON.parse(
      await readFile(new URL('../../services/cli/package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    const run = await runCli(['--version']);
    expect(run.code).to.equal(0);
    expect(run.stdout).to.equal(`bqbr ${version}\n`);
    expect(run.stderr).to.equal('');
  });

  it('shows the stack trace with --debug or BQBR_DEBUG=1, after the same line', async function () {
    const missing = join(work, 'no-such-request.json');
    const plain = await runCli(['backup', missing]);
    for (const run of [
      await runCli(['backup', missing, '--debug']),
      await runCli(['backup', missing], { ...process.env, BQBR_DEBUG: '1' }),
    ]) {
      expect(run.code).to.equal(1);
      expect(run.stderr.startsWith(plain.stderr), run.stderr).to.equal(true);
      expect(run.stderr).to.match(/^\s+at readRequestFile /m);
      expect(run.stderr).to.contain('ENOENT');
    }
  });
});

describe('the local runner (npm start) when it cannot start', function () {
  this.timeout(60_000);
  let holder: Server | undefined;

  after(async function () {
    await new Promise<void>((resolve) => (holder ? holder.close(() => resolve()) : resolve()));
  });

  it('says which port is taken, in one line, exit 1', async function () {
    // The Pub/Sub emulator's default port, held here unless something else already holds it.
    holder = await new Promise<Server | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(8085, '127.0.0.1', () => resolve(server));
    });
    const run = await runNode(localMain, ['up'], process.env, 50_000);
    expectOneLineFailure(run, 1, /cannot start the local stack: .*already in use/);
  });

  it("says the dispatcher's port is taken before it starts any emulator", async function () {
    const dispatcherPort = await new Promise<Server | undefined>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(undefined));
      server.listen(8080, '127.0.0.1', () => resolve(server));
    });
    try {
      const run = await runNode(localMain, ['up'], process.env, 50_000);
      expectOneLineFailure(
        run,
        1,
        /cannot start the local stack: dispatcher: 127\.0\.0\.1:8080 is already in use/,
      );
      expect(run.stdout, 'no emulator was started').not.to.match(/pubsub|firestore|emulator/i);
    } finally {
      await new Promise<void>((resolve) =>
        dispatcherPort ? dispatcherPort.close(() => resolve()) : resolve(),
      );
    }
  });
});

describe('bqbr CLI against a running dispatcher', function () {
  this.timeout(120_000);
  let environment: Environment;
  let work: string;
  let projectId: string;

  before(async function () {
    environment = await startEnvironment();
    work = await mkdtemp(join(tmpdir(), 'bqbr-cli-'));
    projectId = unique('cli').replaceAll('_', '-');
    await seedDemoData(environment.bigquery(projectId));
    await environment.storage.createBucket('cli-backups');
  });

  after(async function () {
    await environment?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('submits a backup, watches it to the end, and lists it', async function () {
    const file = join(work, 'backup.json');
    await writeFile(
      file,
      JSON.stringify({
        bigQuery: { projectId, tablesToBackup: [{ datasetName: 'analytics', tableFilter: 'daily_*' }] },
        backupStorage: {
          gcsOptions: { uri: 'gs://cli-backups/x', exportOptions: { format: 'PARQUET', overwrite: true } },
        },
      }),
    );
    const backup = await runCli([
      'backup',
      file,
      '--watch',
      '--interval',
      '200',
      '--api',
      environment.dispatcherUrl,
    ]);
    expect(backup.code, backup.stderr).to.equal(0);
    expect(backup.stdout).to.match(/SUCCEEDED\s+\[█+\] 3\/3 tables/);
    const operationId = /backup (\S+) accepted/.exec(backup.stdout)?.[1];
    expect(operationId).to.be.a('string');
    expect(backup.stdout).to.contain('3 succeeded, 0 failed, 0 skipped');

    const list = await runCli(['list', '--api', environment.dispatcherUrl]);
    expect(list.code).to.equal(0);
    expect(list.stdout).to.match(new RegExp(`${operationId!}\\s+backup\\s+SUCCEEDED\\s+${projectId}`));

    const status = await runCli(['status', operationId!, '--json'], {
      ...process.env,
      BQBR_API_URL: environment.dispatcherUrl,
    });
    expect(status.code).to.equal(0);
    const view = JSON.parse(status.stdout) as { operation: { status: string }; tasks: { SUCCEEDED: number } };
    expect(view.operation.status).to.equal('SUCCEEDED');
    expect(view.tasks.SUCCEEDED).to.equal(3);
  });

  it('names every bad field of a request file and sends nothing', async function () {
    const file = join(work, 'bad.json');
    await writeFile(
      file,
      JSON.stringify({
        bigQuery: { projectId, tabelsToBackup: [] },
        backupStorage: {
          gcsOptions: { uri: 's3://nope', exportOptions: { format: 'XML', overwrite: true } },
        },
      }),
    );
    const before = await environment.firestore.collection('operations').count().get();
    const run = await runCli(['backup', file, '--api', environment.dispatcherUrl]);
    expect(run.code).to.equal(1);
    // One line per bad field, each naming the file.
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines, run.stderr).to.have.length(3);
    for (const line of lines) expect(line).to.contain(`bqbr: ${file}: invalid backup request: `);
    expect(run.stderr).to.contain('bigQuery.tabelsToBackup: unknown field (did you mean tablesToBackup?)');
    expect(run.stderr).to.contain('backupStorage.gcsOptions.uri');
    expect(run.stderr).to.contain('backupStorage.gcsOptions.exportOptions.format');
    const after = await environment.firestore.collection('operations').count().get();
    expect(after.data().count).to.equal(before.data().count);
  });

  it('says that the dispatcher knows no such operation, exit 1', async function () {
    const run = await runCli(['status', 'no-such-operation', '--api', environment.dispatcherUrl]);
    expectOneLineFailure(
      run,
      1,
      new RegExp(
        `the dispatcher at ${environment.dispatcherUrl.replaceAll('.', '\\.')} has no operation no-such-operation: bqbr list shows`,
      ),
    );
  });
});

describe('npm run demo (the local runner)', function () {
  this.timeout(180_000);

  it('backs up the demo project, restores it, verifies the restore against the backup instant and exits 0', async function () {
    const run = await runNode(localMain, ['demo'], process.env, 170_000);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/sales\.orders: 500 rows in \d+ file\(s\), manifest ok/);
    expect(run.stdout).to.contain('backup verified');

    // The restore names the backup by its folder (the snapshot time, yyyyMMdd_HHmmss UTC) and succeeds.
    const restoreId = /restore (\S+) accepted: backup \d{8}_\d{6} of bqbr-local/.exec(run.stdout)?.[1];
    expect(restoreId, run.stdout).to.be.a('string');
    expect(run.stdout).to.contain(`operation ${restoreId!} (restore): SUCCEEDED`);

    // One verification line per table and view: source rows at the snapshot, restored rows, fingerprint.
    const verified = (source: string, target: string, rows: number, fingerprint = '[0-9a-f]{16}'): RegExp =>
      new RegExp(`${source}\\s+${target}\\s+${rows}\\s+${rows}\\s+${fingerprint}\\s+ok$`, 'm');
    expect(run.stdout).to.match(verified('sales\\.orders', 'restored_sales\\.orders', 500));
    expect(run.stdout).to.match(verified('sales\\.customers', 'restored_sales\\.customers', 50));
    expect(run.stdout).to.match(verified('sales\\.all_types', 'restored_sales\\.all_types', 20));
    expect(run.stdout).to.match(verified('sales\\.refunds', 'restored_sales\\.refunds', 0, '\\(no rows\\)'));
    expect(run.stdout).to.match(
      verified('sales\\.paid_orders \\(view\\)', 'restored_sales\\.paid_orders', 125),
    );
    for (const day of ['2026_11_20', '2026_11_21', '2026_11_22'])
      expect(run.stdout).to.match(
        verified(`analytics\\.daily_${day}`, `restored_analytics\\.daily_${day}`, 3),
      );
    // A row added to the source after the backup is neither restored nor expected.
    expect(run.stdout).to.contain('added a row to analytics.events after the backup');
    expect(run.stdout).to.match(verified('analytics\\.events', 'restored_analytics\\.events', 40));
    expect(run.stdout).not.to.contain('DIFFERS');
    expect(run.stdout).to.contain(
      'restore verified: 9 tables and views restored with the same schema, settings, row counts and content',
    );
  });
});
