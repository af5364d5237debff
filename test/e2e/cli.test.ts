// The bqbr CLI as a user runs it: a process talking to the dispatcher's HTTP API.
import { seedDemoData } from '@bqbr/cli/demo-data';
import { expect } from 'chai';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEnvironment, unique, type Environment } from '../support/e2e.js';

const cliMain = fileURLToPath(new URL('../../services/cli/dist/main.js', import.meta.url));

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliMain, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
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
    expect(run.stderr).to.contain('bigQuery.tabelsToBackup: unknown field (did you mean tablesToBackup?)');
    expect(run.stderr).to.contain('backupStorage.gcsOptions.uri');
    expect(run.stderr).to.contain('backupStorage.gcsOptions.exportOptions.format');
    const after = await environment.firestore.collection('operations').count().get();
    expect(after.data().count).to.equal(before.data().count);
  });

  it('says how to reach the dispatcher when it is not there', async function () {
    const run = await runCli(['list', '--api', 'http://127.0.0.1:9']);
    expect(run.code).to.equal(1);
    expect(run.stderr).to.match(/cannot reach the dispatcher at http:\/\/127\.0\.0\.1:9/);
  });
});

describe('npm run demo (bqbr demo)', function () {
  this.timeout(180_000);

  it('backs up the demo project, restores it, verifies the restore against the backup instant and exits 0', async function () {
    const run = await runCli(['demo'], process.env, 170_000);
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
