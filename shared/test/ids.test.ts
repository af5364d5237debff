import { expect } from 'chai';
import { extractJobId, restoreJobId, taskIdFor } from '../src/index.js';

const table = (datasetId: string, tableId: string) => ({ projectId: 'p', datasetId, tableId });

describe('ids', function () {
  it('names a task after its table when that is a safe Firestore id', function () {
    expect(taskIdFor(table('sales', 'orders_2024'))).to.equal('sales.orders_2024');
    expect(taskIdFor(table('sales', 'orders-eu'))).to.equal('sales.orders-eu');
  });

  it('hashes table names that are not safe document ids, deterministically and per table', function () {
    for (const [d, t] of [
      ['sales', 'a/b'],
      ['__sales', 'x__'],
      ['sales', 'commandes_été'],
      ['sales', 'x'.repeat(1100)],
    ] as const) {
      const id = taskIdFor(table(d, t));
      expect(id, t).to.match(/^t_[0-9a-f]{40}$/);
      expect(taskIdFor(table(d, t))).to.equal(id);
    }
    expect(taskIdFor(table('sales', 'a/b'))).not.to.equal(taskIdFor(table('sales', 'a/c')));
  });

  it('gives each job attempt of a task one valid, stable BigQuery job id', function () {
    const id = extractJobId('2f1c7a3e-op:1', 'sales.orders', 0);
    expect(id).to.match(/^bqbr_backup_2f1c7a3e-op_1_[0-9a-f]{16}_0$/);
    expect(extractJobId('2f1c7a3e-op:1', 'sales.orders', 0)).to.equal(id);
    expect(extractJobId('2f1c7a3e-op:1', 'sales.orders', 1)).not.to.equal(id);
    expect(extractJobId('2f1c7a3e-op:1', 'sales.customers', 0)).not.to.equal(id);
    expect(extractJobId('o'.repeat(2000), 't', 3)).to.match(/^[A-Za-z0-9_-]{1,1024}$/);
  });

  it('gives operations whose ids read alike (a.b and a_b) different job ids, in the job-id alphabet', function () {
    const valid = /^[A-Za-z0-9_-]{1,1024}$/;
    const backups = ['a.b', 'a_b', 'a:b', 'a b'].map((op) => extractJobId(op, 'sales.orders', 0));
    expect(new Set(backups).size).to.equal(4);
    const restores = ['a.b', 'a_b'].map((op) => restoreJobId(op, 'sales.orders', 0, 'load'));
    expect(restores[0]).not.to.equal(restores[1]);
    // Ids longer than the readable part differ only after it: the hash still tells them apart.
    const long = 'o'.repeat(300);
    expect(extractJobId(`${long}1`, 't', 0)).not.to.equal(extractJobId(`${long}2`, 't', 0));
    for (const id of [...backups, ...restores, extractJobId(`${long}é`, 'x'.repeat(1100), 12)])
      expect(id).to.match(valid);
  });
});
