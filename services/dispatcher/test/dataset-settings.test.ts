import { expect } from 'chai';
import { creationSettings, restoredAccess } from '../src/kinds/restore/dataset-settings.js';

const ENTRY = {
  datasetId: 'sales',
  readAt: '2026-12-04T10:00:00.000Z',
  settings: { description: 'Sales', location: 'EU', labels: { team: 'a' }, maxTimeTravelHours: '48' },
  access: [
    { role: 'OWNER', specialGroup: 'projectOwners' },
    { role: 'READER', userByEmail: 'ana@example.com' },
    { role: 'READER', groupByEmail: 'old-analysts@example.com' },
    { role: 'WRITER', userByEmail: 'robot@prod.iam.gserviceaccount.com' },
    { view: { projectId: 'prod', datasetId: 'reports', tableId: 'by_day' } },
    { view: { projectId: 'prod', datasetId: 'elsewhere', tableId: 'v' } },
    { routine: { projectId: 'prod', datasetId: 'sales', routineId: 'mask' } },
    { dataset: { dataset: { projectId: 'prod', datasetId: 'reports' }, targetTypes: ['VIEWS'] } },
  ],
};

describe('dataset settings on restore', function () {
  it('creates a dataset with the backed-up settings but its own location', function () {
    expect(creationSettings(ENTRY)).to.deep.equal({
      description: 'Sales',
      labels: { team: 'a' },
      maxTimeTravelHours: '48',
    });
    expect(creationSettings(undefined)).to.deep.equal({});
  });

  it('rewrites authorizations to restored datasets, drops those outside the restore in another project, maps principals', function () {
    const { access, changes } = restoredAccess(ENTRY, {
      backupProject: 'prod',
      targetProject: 'dev',
      datasetMap: { sales: 'restored_sales', reports: 'restored_reports' },
      principalMap: {
        'group:old-analysts@example.com': 'group:dev-analysts@example.com',
        'user:robot@prod.iam.gserviceaccount.com': null,
      },
    });
    expect(access).to.deep.equal([
      { role: 'OWNER', specialGroup: 'projectOwners' },
      { role: 'READER', userByEmail: 'ana@example.com' },
      { role: 'READER', groupByEmail: 'dev-analysts@example.com' },
      { view: { projectId: 'dev', datasetId: 'restored_reports', tableId: 'by_day' } },
      { routine: { projectId: 'dev', datasetId: 'restored_sales', routineId: 'mask' } },
      { dataset: { dataset: { projectId: 'dev', datasetId: 'restored_reports' }, targetTypes: ['VIEWS'] } },
    ]);
    expect(changes).to.deep.equal([
      'group:old-analysts@example.com → group:dev-analysts@example.com',
      'dropped user:robot@prod.iam.gserviceaccount.com (accessPrincipalMap)',
      'dropped the authorization of view prod.elsewhere.v (not restored)',
    ]);
  });

  it('keeps an authorization outside the restore when restoring into the backup project, where it still exists', function () {
    const { access, changes } = restoredAccess(ENTRY, {
      backupProject: 'prod',
      targetProject: 'prod',
      datasetMap: { sales: 'restored_sales' },
      principalMap: {},
    });
    expect(access).to.have.length(ENTRY.access.length);
    expect(access[5]).to.deep.equal({ view: { projectId: 'prod', datasetId: 'elsewhere', tableId: 'v' } });
    expect(access[4]).to.deep.equal({ view: { projectId: 'prod', datasetId: 'reports', tableId: 'by_day' } });
    expect(changes).to.deep.equal([]);
  });
});
