// bqbr prune, verify, backups --reconcile and backups show against the services as processes (the local
// stack, a dispatcher and a worker; test/support/e2e.ts): two backups made with bqbr backup, the older one
// pruned away, the newer one verified, damaged and verified again, the catalogue rebuilt.
import type { StoredBackup } from '@bqbr/shared';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEnvironment, unique, type Environment } from '../../../test/support/e2e.js';
import type { ShownBackup } from '../src/backup-show.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe('bqbr prune, verify and backups against the services', function () {
  this.timeout(180_000);
  let environment: Environment;
  let work: string;
  let projectId: string;
  let uri: string;
  let bucket: string;
  /** The two backups' folders, older first. */
  let folders: string[];

  const cli = (args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', MAIN, ...args, '--api', environment.dispatcherUrl],
        { env: { ...process.env, ...environment.env, BQBR_ID_TOKEN: '' } },
        (err, stdout, stderr) =>
          resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
      );
    });
  const listed = async (): Promise<StoredBackup[]> => {
    const run = await cli(['backups', uri, '--project', projectId, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    return JSON.parse(run.stdout) as StoredBackup[];
  };

  before(async function () {
    environment = await startEnvironment();
    work = await mkdtemp(join(tmpdir(), 'bqbr-cli-lifecycle-'));
    projectId = unique('cli-life').replaceAll('_', '-');
    bucket = `cli-life-${randomUUID().slice(0, 8)}`;
    uri = `gs://${bucket}/nightly`;
    await environment.storage.createBucket(bucket);
    const [shop] = await environment.bigquery(projectId).createDataset('shop');
    const [orders] = await shop.createTable('orders', {
      schema: { fields: [{ name: 'id', type: 'INT64' }] },
    });
    await orders.insert([{ id: 1 }, { id: 2 }, { id: 3 }]);
    const request = join(work, 'backup.json');
    await writeFile(
      request,
      JSON.stringify({
        bigQuery: { projectId, tablesToBackup: [{ datasetName: 'shop' }] },
        backupStorage: { gcsOptions: { uri, exportOptions: { format: 'AVRO' } } },
      }),
    );
    for (let i = 0; i < 2; i++) {
      const run = await cli(['backup', request, '--watch', '--interval', '200']);
      expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    }
    folders = (await listed()).map((backup) => backup.timestamp).reverse();
    expect(folders).to.have.length(2);
  });

  after(async function () {
    await environment?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('prune --dry-run lists each backup KEEP or DELETE with its reasons and deletes nothing', async function () {
    const run = await cli(['prune', uri, '--project', projectId, '--keep-last', '1', '--dry-run']);
    expect(run.code, run.stderr).to.equal(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).to.match(
      new RegExp(`^dry run \\S+: prune of project ${projectId}'s backups at ${uri}: 1 to delete, 1 to keep$`),
    );
    expect(lines[1]).to.match(/^ACTION\s+BACKUP\s+SIZE\s+REASONS$/);
    expect(lines.slice(2).map((line) => line.split(/\s+/).slice(0, 2))).to.have.deep.members([
      ['KEEP', folders[1]],
      ['DELETE', folders[0]],
    ]);
    expect((await listed()).map((backup) => backup.timestamp)).to.have.members(folders);
  });

  it('prune --watch deletes what no rule keeps, counts it, and bqbr backups lists the rest', async function () {
    const run = await cli([
      'prune',
      uri,
      '--project',
      projectId,
      '--keep-last',
      '1',
      '--watch',
      '--interval',
      '200',
    ]);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/^prune \S+ accepted\n/);
    expect(run.stdout).to.contain('  backups   1 deleted, 0 failed, 1 kept, 0 to do, of 2\n');
    expect((await listed()).map((backup) => backup.timestamp)).to.deep.equal([folders[1]]);
  });

  it('backups show: the kept backup, its table, files and checksums', async function () {
    const run = await cli(['backups', 'show', uri, 'latest', '--project', projectId, '--json']);
    expect(run.code, run.stderr).to.equal(0);
    const shown = JSON.parse(run.stdout) as ShownBackup;
    expect(shown).to.include({ timestamp: folders[1], layout: 'bqbr', partiallyDeleted: false });
    expect(shown.tables.map((table) => [table.tableId, table.status, table.rows])).to.deep.equal([
      ['orders', 'SUCCEEDED', 3],
    ]);
    for (const file of shown.tables[0]!.files!) expect(file.md5).to.be.a('string');
  });

  it('verify --watch passes on the good backup, and ends FAILED (exit 2) once a file is damaged', async function () {
    const good = await cli(['verify', uri, 'latest', '--project', projectId, '--watch', '--interval', '200']);
    expect(good.code, `${good.stdout}\n${good.stderr}`).to.equal(0);
    expect(good.stdout).to.match(/backup verified: 1 tables passed\n$/);

    const [file] = (
      await environment.storage
        .bucket(bucket)
        .getFiles({ prefix: `nightly/backups/${folders[1]}/${projectId}/shop/orders/data-` })
    )[0];
    await file!.save(Buffer.from('not the exported bytes'));
    const damaged = await cli([
      'verify',
      uri,
      folders[1]!,
      '--project',
      projectId,
      '--watch',
      '--interval',
      '200',
    ]);
    expect(damaged.code, `${damaged.stdout}\n${damaged.stderr}`).to.equal(2);
    expect(damaged.stdout).to.contain(`operation `).and.contain('(verify): FAILED');
    expect(damaged.stdout).to.contain(
      'verification FAILED: 1 of 1 tables have damaged, missing or unexpected files or manifests',
    );
  });

  it('backups --reconcile rebuilds the catalogue from the store and shows the outcome', async function () {
    const run = await cli(['backups', uri, '--project', projectId, '--reconcile', '--interval', '200']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).to.equal(0);
    expect(run.stdout).to.match(/^prune \S+ accepted\n/);
    expect(run.stdout).to.match(/operation \S+ \(prune\): SUCCEEDED\n/);
    const entries = (
      await environment.firestore.collection('backups').where('projectId', '==', projectId).get()
    ).docs.map((doc) => doc.data() as { location: string; state?: string });
    const present = entries.filter((entry) => entry.state !== 'DELETED');
    expect(present.map((entry) => entry.location)).to.deep.equal([`${uri}/backups/${folders[1]}`]);
  });
});
