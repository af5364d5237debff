// Which backup an incremental builds on and where it stands in its chain (planChain), with a hand-written
// backup source; the request fields' checks; the base handed to each table's task.
import { PermanentError, decodeRequest, type BackupManifest, type OperationDoc } from '@bqbr/shared';
import { expect } from 'chai';
import { baseTables, droppedTables, planChain } from '../src/kinds/backup/incremental-chain.js';
import type { FoundBackup } from '../src/kinds/restore/backup-source.js';
import { backupManifest } from './backup-manifest.js';

const SNAPSHOT = Date.parse('2026-12-02T00:00:00Z');

function request(extra: object) {
  const decoded = decodeRequest(
    {
      bigQuery: { projectId: 'prod-project' },
      backupStorage: { gcsOptions: { uri: 'gs://bkt/root', exportOptions: { format: 'AVRO' } } },
      ...extra,
    },
    { kind: 'backup' },
  );
  if (decoded.kind !== 'backup') throw new Error(JSON.stringify(decoded));
  return decoded.request;
}

const operation = (incremental?: OperationDoc['incremental']): OperationDoc =>
  ({
    operationId: 'op-2',
    snapshotMillis: SNAPSHOT,
    ...(incremental ? { incremental } : {}),
  }) as OperationDoc;

function found(timestamp: string, manifest: Partial<BackupManifest>): FoundBackup {
  return {
    timestamp,
    snapshotMillis: manifest.snapshotMillis ?? 0,
    folder: `gs://bkt/root/backups/${timestamp}/prod-project`,
    folderPath: `backups/${timestamp}/prod-project`,
    layout: 'bqbr',
    manifest: {
      ...backupManifest([
        { datasetId: 'sales', tableId: 'orders', status: 'SUCCEEDED', manifest: 'm', manifestMd5: 'md5' },
        { datasetId: 'sales', tableId: 'gone', status: 'SUCCEEDED', manifest: 'm2' },
        { datasetId: 'sales', tableId: 'broken', status: 'FAILED' },
      ]),
      status: 'SUCCEEDED',
      ...manifest,
    },
  };
}

/** A source holding `backups` by folder name; `latest` is the first. */
const source = (...backups: FoundBackup[]) => ({
  find: (_where: unknown, _project: string, ts: string) =>
    Promise.resolve(ts === 'latest' ? backups[0] : backups.find((b) => b.timestamp === ts)),
});

async function refusal(promise: Promise<unknown>): Promise<PermanentError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof PermanentError) return err;
    throw err;
  }
  throw new Error('not refused');
}

describe('incremental chains', function () {
  it('accepts mode, base and maxChainLength only together, case-insensitive', function () {
    expect(request({ mode: 'incremental', base: 'latest', maxChainLength: 3 })).to.deep.include({
      mode: 'INCREMENTAL',
      base: 'latest',
      maxChainLength: 3,
    });
    expect(() => request({ base: 'latest' })).to.throw(/base is only for mode "incremental"/);
    expect(() => request({ mode: 'full', maxChainLength: 2 })).to.throw(/maxChainLength is only/);
    expect(() => request({ mode: 'incremental', maxChainLength: 0 })).to.throw(/maxChainLength/);
  });

  it('builds on the latest backup: one more in its chain, depending on it and on what it depends on', async function () {
    const base = found('20261201_000000_aaaaaaaaaaaa', {
      snapshotMillis: SNAPSHOT - 86_400_000,
      chainLength: 2,
      dependsOn: ['20261129_000000_cccccccccccc', '20261130_000000_bbbbbbbbbbbb'],
    });
    const plan = await planChain(request({ mode: 'incremental' }), operation(), source(base));
    expect(plan.chain).to.deep.equal({
      chainLength: 3,
      dependsOn: [
        '20261129_000000_cccccccccccc',
        '20261130_000000_bbbbbbbbbbbb',
        '20261201_000000_aaaaaaaaaaaa',
      ],
      base: '20261201_000000_aaaaaaaaaaaa',
      baseFolderPath: 'backups/20261201_000000_aaaaaaaaaaaa/prod-project',
      baseSnapshotMillis: SNAPSHOT - 86_400_000,
    });
    expect(plan.warnings).to.deep.equal([]);
    // Each table's task is told its base table's folder and manifest MD5; a table new since the base, nothing.
    const baseOf = baseTables(plan.base);
    expect(baseOf({ projectId: 'prod-project', datasetId: 'sales', tableId: 'orders' })).to.deep.equal({
      tablePath: 'backups/20261201_000000_aaaaaaaaaaaa/prod-project/sales/orders',
      snapshotMillis: SNAPSHOT - 86_400_000,
      manifestMd5: 'md5',
    });
    expect(baseOf({ projectId: 'prod-project', datasetId: 'sales', tableId: 'broken' })).to.equal(undefined);
    expect(droppedTables(plan.base, new Set(['sales.orders', 'sales.broken']))).to.deep.equal([
      { datasetId: 'sales', tableId: 'gone' },
    ]);
  });

  it('starts a new chain, saying why, when there is nothing to build on or the chain is at its length', async function () {
    const none = await planChain(request({ mode: 'incremental' }), operation(), source());
    expect(none.chain).to.deep.equal({ chainLength: 0, dependsOn: [] });
    expect(none.warnings[0]).to.match(/no earlier backup .* full backup, the start of a new chain/);

    const long = found('20261201_000000_aaaaaaaaaaaa', { snapshotMillis: SNAPSHOT - 1000, chainLength: 3 });
    const cut = await planChain(
      request({ mode: 'incremental', maxChainLength: 3 }),
      operation(),
      source(long),
    );
    expect(cut.chain).to.deep.equal({ chainLength: 0, dependsOn: [] });
    expect(cut.warnings[0]).to.match(/holds 3 incrementals \(maxChainLength 3\)/);

    const failed = found('20261201_000000_aaaaaaaaaaaa', {
      snapshotMillis: SNAPSHOT - 1000,
      status: 'FAILED',
    });
    expect(
      (await planChain(request({ mode: 'incremental' }), operation(), source(failed))).chain,
    ).to.deep.equal({
      chainLength: 0,
      dependsOn: [],
    });
  });

  it('refuses a named base that is missing, failed or not older than the snapshot', async function () {
    const missing = await refusal(
      planChain(request({ mode: 'incremental', base: '20261101_000000' }), operation(), source()),
    );
    expect(missing.reason).to.equal('notFound');
    const newer = found('20261203_000000_aaaaaaaaaaaa', { snapshotMillis: SNAPSHOT + 1000 });
    const notOlder = await refusal(
      planChain(request({ mode: 'incremental', base: newer.timestamp }), operation(), source(newer)),
    );
    expect(notOlder.message).to.match(/not older than this backup's snapshot/);
    const failed = found('20261201_000000_aaaaaaaaaaaa', {
      snapshotMillis: SNAPSHOT - 1000,
      status: 'FAILED',
    });
    const refused = await refusal(
      planChain(request({ mode: 'incremental', base: failed.timestamp }), operation(), source(failed)),
    );
    expect(refused.message).to.match(/FAILED: an incremental cannot build on it/);
  });

  it('keeps a resumed operation on the chain its first planning chose', async function () {
    const base = found('20261201_000000_aaaaaaaaaaaa', { snapshotMillis: SNAPSHOT - 1000 });
    const chain = { chainLength: 1, dependsOn: [base.timestamp], base: base.timestamp };
    // A newer backup appeared meanwhile: the resumed plan still builds on the first one's base.
    const newer = found('20261201_120000_bbbbbbbbbbbb', { snapshotMillis: SNAPSHOT - 500 });
    const plan = await planChain(request({ mode: 'incremental' }), operation(chain), source(newer, base));
    expect(plan.chain).to.deep.equal(chain);
    expect(plan.base?.timestamp).to.equal(base.timestamp);
  });
});
