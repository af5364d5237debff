// Verify planning from a backup's `_backup.json`, its dry run, its final status and its catalogue record,
// with a hand-written backup source and state store.
import {
  createSilentLogger,
  decode,
  drillDatasetId,
  endpointAllowlist,
  VerifyRequest,
  type PermanentError,
  type BackupCatalogEntry,
  type BackupManifest,
  type OperationDoc,
  type StateStore,
  type TaskDoc,
} from '@bqbr/shared';
import { expect } from 'chai';
import type { BackupSource, FoundBackup } from '../src/kinds/restore/backup-source.js';
import type { DrillDatasets } from '../src/kinds/verify/restore-drill.js';
import { createVerifyKind } from '../src/kinds/verify/verify-kind.js';
import { dryRunSummary, planVerify } from '../src/kinds/verify/verify-plan.js';
import { backupManifest } from './backup-manifest.js';

const FOLDER_PATH = 'backups/20261120_223000_0123456789ab/prod-project';
const FOLDER = `gs://bkt/root/${FOLDER_PATH}`;

/** A table of `sales` as `_backup.json` lists it. */
const table = (tableId: string, status: string, fields: object = {}): BackupManifest['tables'][number] => ({
  datasetId: 'sales',
  tableId,
  status,
  ...fields,
});
const manifestAt = (tableId: string): string => `${FOLDER}/sales/${tableId}/_table.json`;

// A data table, a view (skipped, with its manifest), a table created too late, one whose backup failed.
const TABLES: BackupManifest['tables'] = [
  table('orders', 'SUCCEEDED', {
    rows: 50,
    bytes: 4000,
    files: 4,
    manifest: manifestAt('orders'),
    manifestMd5: 'm1',
  }),
  table('paid', 'SKIPPED', { manifest: manifestAt('paid') }),
  table('late', 'SKIPPED', { note: 'created after the snapshot' }),
  table('broken', 'FAILED', { error: { reason: 'invalid', message: 'CSV cannot hold nested fields' } }),
];

const found = (overrides: Partial<FoundBackup> = {}): FoundBackup => ({
  timestamp: '20261120_223000_0123456789ab',
  snapshotMillis: 0,
  folder: FOLDER,
  folderPath: FOLDER_PATH,
  layout: 'bqbr',
  manifest: { ...backupManifest(TABLES), operationId: 'backup-op' },
  ...overrides,
});

/** A source holding `backup` (whatever is asked for); `asked` records the timestamps asked for. */
function source(
  backup: FoundBackup | undefined,
  timestamps: string[] = [],
): BackupSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    find: (_where, _project, timestamp) => {
      asked.push(timestamp);
      return Promise.resolve(backup);
    },
    timestamps: () => Promise.resolve(timestamps),
    originalTables: () => Promise.resolve([]),
    manifestLocation: () => Promise.resolve(undefined),
  };
}

/** What planning refused with (undefined when it did not). */
const rejection = (planning: Promise<unknown>): Promise<PermanentError | undefined> =>
  planning.then(
    () => undefined,
    (err: unknown) => err as PermanentError,
  );

const request = (fields: object = {}): VerifyRequest =>
  decode(
    VerifyRequest,
    {
      kind: 'verify',
      bigQuery: { projectId: 'prod-project' },
      backupStorage: { gcsOptions: { uri: 'gs://bkt/root' } },
      backupTimestamp: 'latest',
      ...fields,
    },
    'verify request',
  );

describe('verify planning', function () {
  it('verifies every table with a manifest (views too) and skips what the backup holds nothing of', async function () {
    const plan = await planVerify(request({ readDataSubset: '2/5' }), source(found()));
    const byTable = new Map(plan.entries.map((e) => [e.table.tableId, e]));
    expect(byTable.get('orders')).to.deep.include({
      action: 'VERIFY',
      spec: {
        kind: 'verify',
        home: { kind: 'gcs', uri: 'gs://bkt/root' },
        source: { projectId: 'prod-project', datasetId: 'sales', tableId: 'orders' },
        manifestPath: `${FOLDER_PATH}/sales/orders/_table.json`,
        manifestUri: `${FOLDER}/sales/orders/_table.json`,
        manifestMd5: 'm1',
        subset: { part: 2, of: 5 },
      },
    });
    expect(byTable.get('paid')?.action).to.equal('VERIFY');
    expect(byTable.get('late')).to.deep.include({
      action: 'SKIP',
      note: 'nothing to verify: its backup skipped it (created after the snapshot)',
    });
    expect(byTable.get('broken')).to.deep.include({
      action: 'SKIP',
      note: 'nothing to verify: its backup ended FAILED (CSV cannot hold nested fields)',
    });
    expect(plan.warnings).to.deep.equal([
      'the backup 20261120_223000_0123456789ab ended PARTIALLY_FAILED: 1 table(s) whose backup failed have nothing to verify',
    ]);
  });

  it('refuses an original-layout backup, an unfinished one, one being pruned, and one that is not there, naming the ones there are', async function () {
    const original = await rejection(
      planVerify(request(), source(found({ layout: 'original', manifest: undefined }))),
    );
    expect(original).to.include({ reason: 'failedPrecondition' });
    expect(original?.message).to.contain('no manifests to verify its files against');
    const running = await rejection(
      planVerify(
        request(),
        source(found({ layout: 'incomplete', manifest: undefined, problem: 'not JSON' })),
      ),
    );
    expect(running?.message).to.contain(
      'has no readable _backup.json: it is still running or was interrupted (not JSON)',
    );
    const pruning = await rejection(planVerify(request(), source(found({ layout: 'pruning' }))));
    expect(pruning?.message).to.contain('is partially deleted');
    const missing = await rejection(
      planVerify(request({ backupTimestamp: '20240101_000000' }), source(undefined, ['20250101_000000'])),
    );
    expect(missing).to.include({ reason: 'notFound' });
    expect(missing?.message).to.equal(
      'no backup of project prod-project is at 20240101_000000 under gs://bkt/root/backups (there: 20250101_000000)',
    );
  });

  it('answers a dry run with the tables and what they would read; a subset as an estimate', async function () {
    const all = dryRunSummary(await planVerify(request(), source(found())), request());
    expect(all).to.deep.include({ tables: 4, skipped: 2, bytes: 4000, rows: 50 });
    expect(all.sample[0]).to.deep.equal({
      table: 'sales.orders',
      action: 'VERIFY',
      note: 'reads 4 of 4 file(s), 4000 bytes, and _table.json',
      bytes: 4000,
    });
    const quarter = request({ readDataSubset: '25%' });
    const some = dryRunSummary(await planVerify(quarter, source(found())), quarter);
    expect(some.bytes).to.equal(1000);
    expect(some.sample[0]?.note).to.equal('reads about 1 of 4 file(s), about 1000 bytes, and _table.json');
  });
});

/** Scratch datasets as BigQuery would keep them: created (with their settings) and deleted. */
class FakeDrillDatasets implements DrillDatasets {
  readonly created = new Map<string, { location?: string; settings?: object }>();
  readonly deleted: string[] = [];
  find(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  create(
    ref: { projectId: string; datasetId: string },
    location: string | undefined,
    settings?: object,
  ): Promise<'created' | 'existed'> {
    const name = `${ref.projectId}:${ref.datasetId}`;
    if (this.created.has(name)) return Promise.resolve('existed');
    this.created.set(name, { ...(location ? { location } : {}), ...(settings ? { settings } : {}) });
    return Promise.resolve('created');
  }
  delete(ref: { projectId: string; datasetId: string }): Promise<void> {
    this.deleted.push(`${ref.projectId}:${ref.datasetId}`);
    return Promise.resolve();
  }
}

/** The catalogue half of the state store, and the tasks of one finished verify. */
class FakeCatalog implements Pick<StateStore, 'putBackup' | 'updateBackup' | 'listTasks'> {
  readonly entries = new Map<string, BackupCatalogEntry>();
  constructor(private readonly tasks: TaskDoc[]) {}
  putBackup(entry: BackupCatalogEntry): Promise<void> {
    this.entries.set(entry.backupId, entry);
    return Promise.resolve();
  }
  updateBackup(backupId: string, patch: Partial<BackupCatalogEntry>): Promise<boolean> {
    const entry = this.entries.get(backupId);
    if (entry) this.entries.set(backupId, { ...entry, ...patch });
    return Promise.resolve(entry !== undefined);
  }
  listTasks(): Promise<TaskDoc[]> {
    return Promise.resolve(this.tasks);
  }
}

const task = (tableId: string, status: TaskDoc['status'], fileCount?: number, bytes?: number): TaskDoc =>
  ({
    taskId: `sales.${tableId}`,
    spec: { kind: 'verify' },
    status,
    ...(fileCount !== undefined ? { fileCount, bytes } : {}),
  }) as TaskDoc;

describe('verify: final status and the catalogue', function () {
  const TASKS = [task('orders', 'FAILED', 3, 3000), task('paid', 'SUCCEEDED', 0, 0), task('late', 'SKIPPED')];
  const operation = {
    operationId: 'verify-op',
    kind: 'verify',
    request: request({ readDataSubset: '1/2' }),
    backupFolder: FOLDER,
  } as unknown as OperationDoc;
  const outcome = {
    status: 'FAILED' as const,
    summary: { tables: 3, succeeded: 1, failed: 1, skipped: 1, rows: 0, bytes: 0, files: 0 },
    finishedAt: '2026-11-21T00:00:00.000Z',
  };
  const VERIFICATION = {
    operationId: 'verify-op',
    status: 'FAILED',
    verifiedAt: '2026-11-21T00:00:00.000Z',
    tables: 3,
    failedTables: 1,
    filesRead: 3,
    bytesRead: 3000,
    subset: '1/2',
  };

  it('fails when any table failed, even when others passed', function () {
    const kind = createVerifyKind({
      store: new FakeCatalog([]),
      backups: source(found()),
      datasets: new FakeDrillDatasets(),
      endpoints: endpointAllowlist({}),
    });
    expect(kind.finalStatus!({ SUCCEEDED: 5, FAILED: 1 })).to.equal('FAILED');
    expect(kind.finalStatus!({ SUCCEEDED: 5, FAILED: 0 })).to.equal('SUCCEEDED');
  });

  it("records the verification on the backup's entry, reading the folder planning found", async function () {
    const store = new FakeCatalog(TASKS);
    const backups = source(found());
    await store.putBackup({ backupId: 'backup-op', status: 'SUCCEEDED' } as BackupCatalogEntry);
    const kind = createVerifyKind({
      store,
      backups,
      datasets: new FakeDrillDatasets(),
      endpoints: endpointAllowlist({}),
    });
    expect(await kind.finalize!(operation, outcome, createSilentLogger())).to.equal(undefined);
    expect(backups.asked).to.deep.equal(['20261120_223000_0123456789ab']);
    expect(store.entries.get('backup-op')).to.deep.equal({
      backupId: 'backup-op',
      status: 'SUCCEEDED',
      verification: VERIFICATION,
    });
  });

  it('adds a backup the catalogue does not know from its _backup.json, then records the verification', async function () {
    const store = new FakeCatalog(TASKS);
    const kind = createVerifyKind({
      store,
      backups: source(found()),
      datasets: new FakeDrillDatasets(),
      endpoints: endpointAllowlist({}),
    });
    await kind.finalize!(operation, outcome, createSilentLogger());
    expect(store.entries.get('backup-op')).to.deep.include({
      backupId: 'backup-op',
      operationId: 'backup-op',
      projectId: 'prod-project',
      status: 'PARTIALLY_FAILED',
      format: 'AVRO',
      tables: 4,
      verification: VERIFICATION,
    });
  });
});

describe('verify: the restore drill', function () {
  const drillRequest = (fields: object = {}): VerifyRequest =>
    request({ restoreDrill: true, restoreDrillProjectId: 'scratch-project', ...fields });
  const drillSource = (): BackupSource & { asked: string[] } => ({
    ...source(found()),
    manifestLocation: () => Promise.resolve('EU'),
  });

  it('says in a dry run that each table would be loaded, and creates nothing', async function () {
    const datasets = new FakeDrillDatasets();
    const kind = createVerifyKind({
      store: new FakeCatalog([]),
      backups: drillSource(),
      datasets,
      endpoints: endpointAllowlist({}),
    });
    const dry = await kind.dryRun(
      drillRequest(),
      { operationId: 'verify-op' } as OperationDoc,
      createSilentLogger(),
    );
    expect(dry.plan.sample[0]?.note).to.equal(
      'reads 4 of 4 file(s), 4000 bytes, and _table.json; restore drill: loads it into a scratch table',
    );
    expect(datasets.created.size).to.equal(0);
  });

  it('refuses restoreDrillProjectId without restoreDrill', function () {
    expect(() => request({ restoreDrillProjectId: 'scratch-project' })).to.throw(
      /restoreDrillProjectId: only with restoreDrill: true/,
    );
  });

  it('creates one expiring scratch dataset per source dataset where its tables are, and gives every verified table its drill', async function () {
    const datasets = new FakeDrillDatasets();
    const kind = createVerifyKind({
      store: new FakeCatalog([]),
      backups: drillSource(),
      datasets,
      endpoints: endpointAllowlist({}),
    });
    const operation = { operationId: 'verify-op' } as OperationDoc;
    const plan = await kind.plan(drillRequest(), operation, createSilentLogger());
    const scratch = drillDatasetId('verify-op', 'sales');
    expect([...datasets.created]).to.deep.equal([
      [
        `scratch-project:${scratch}`,
        {
          location: 'EU',
          settings: {
            labels: { bqbr: 'restore-drill' },
            description: 'bqbr restore drill of operation verify-op: dropped when it ends',
            defaultTableExpirationMs: '86400000',
          },
        },
      ],
    ]);
    const tasks = [];
    for await (const t of plan.tasks) tasks.push(t);
    const orders = tasks.find((t) => t.table.tableId === 'orders')!;
    expect(orders.spec).to.deep.include({
      drill: {
        target: { projectId: 'scratch-project', datasetId: scratch, tableId: 'orders' },
        landingFolder: `${FOLDER}/sales/orders`,
        location: 'EU',
      },
    });
    // A table the backup holds nothing of is skipped: no drill either.
    const broken = tasks.find((t) => t.table.tableId === 'broken')!;
    expect(broken.status).to.equal('SKIPPED');
    expect(broken.spec).to.not.have.property('drill');
  });

  it('needs staging for a drill of a backup outside Cloud Storage, and drops the scratch datasets when it ends', async function () {
    const datasets = new FakeDrillDatasets();
    const deps = {
      store: new FakeCatalog([
        {
          ...task('orders', 'SUCCEEDED'),
          spec: {
            kind: 'verify',
            drill: { target: { projectId: 'p', datasetId: 'scratch_ds', tableId: 'orders' } },
          },
        } as unknown as TaskDoc,
      ]),
      backups: drillSource(),
      datasets,
      endpoints: endpointAllowlist({}),
    };
    const onS3 = drillRequest({
      backupStorage: { s3Options: { bucket: 'vault', region: 'eu-central-1' } },
    });
    expect(() => createVerifyKind(deps).preflight(onS3, undefined, new Date())).to.throw(/BQBR_STAGING_URI/);
    const operation = {
      operationId: 'verify-op',
      kind: 'verify',
      request: drillRequest(),
      backupFolder: FOLDER,
    } as unknown as OperationDoc;
    const outcome = {
      status: 'SUCCEEDED' as const,
      summary: { tables: 1, succeeded: 1, failed: 0, skipped: 0, rows: 0, bytes: 0, files: 0 },
      finishedAt: '2026-11-21T00:00:00.000Z',
    };
    expect(await createVerifyKind(deps).finalize!(operation, outcome, createSilentLogger())).to.equal(
      undefined,
    );
    expect(datasets.deleted).to.deep.equal(['p:scratch_ds']);
  });
});
