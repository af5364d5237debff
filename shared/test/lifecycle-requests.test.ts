import { expect } from 'chai';
import type { ValidationIssue } from '../src/index.js';
import {
  backupDestination,
  decodeRequest,
  lifecycleLocation,
  parseReadDataSubset,
  ValidationError,
} from '../src/index.js';

type Json = Record<string, unknown>;

function issuesOf(body: unknown, attributes?: Record<string, string>): ValidationIssue[] {
  try {
    decodeRequest(body, attributes);
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return [...(err as ValidationError).issues];
  }
  expect.fail('expected the request to be rejected');
}

const prune = (extra: Json = {}): Json => ({
  kind: 'prune',
  bigQuery: { projectId: 'prod-project' },
  backupStorage: { gcsOptions: { uri: 'gs://backups/bqbr' } },
  retention: { keepDaily: 7, keepWeekly: 4 },
  ...extra,
});

const verify = (extra: Json = {}): Json => ({
  kind: 'verify',
  bigQuery: { projectId: 'prod-project' },
  backupStorage: { s3Options: { bucket: 'offsite-backups', region: 'eu-west-1' } },
  backupTimestamp: 'latest',
  ...extra,
});

describe('lifecycle requests', () => {
  describe('prune', () => {
    it('decodes a retention policy and its location', () => {
      const decoded = decodeRequest(prune({ dryRun: true }));
      expect(decoded.kind).to.equal('prune');
      if (decoded.kind !== 'prune') return;
      expect(decoded.request.retention).to.deep.equal({ keepDaily: 7, keepWeekly: 4 });
      expect(decoded.request.dryRun).to.equal(true);
      expect(lifecycleLocation(decoded.request)).to.deep.equal({ kind: 'gcs', uri: 'gs://backups/bqbr' });
    });

    it('takes its kind from the attribute alone', () => {
      const { kind: _kind, ...body } = prune();
      expect(decodeRequest(body, { kind: 'prune' }).kind).to.equal('prune');
    });

    it('refuses a policy without any rule, naming the rules', () => {
      const issues = issuesOf(prune({ retention: { timeZone: 'Europe/Berlin' } }));
      expect(issues).to.have.length(1);
      expect(issues[0]!.path).to.equal('retention');
      expect(issues[0]!.message).to.contain('keepLast').and.to.contain('keepWithin');
    });

    it('refuses counts below 1, bad durations and unknown time zones by their paths', () => {
      const issues = issuesOf(
        prune({ retention: { keepDaily: 0, keepWithin: '7 days', timeZone: 'Mars/Olympus' } }),
      );
      expect(issues.map((i) => i.path)).to.include.members([
        'retention.keepDaily',
        'retention.keepWithin',
        'retention.timeZone',
      ]);
    });

    it('needs retention unless it only reconciles, and not both', () => {
      const { retention: _retention, ...bare } = prune();
      expect(issuesOf(bare).map((i) => i.path)).to.deep.equal(['retention']);
      expect(decodeRequest({ ...bare, reconcileOnly: true }).kind).to.equal('prune');
      expect(issuesOf(prune({ reconcileOnly: true }))[0]!.message).to.contain('not both');
    });

    it('refuses credentials in the location, as backups do', () => {
      const issues = issuesOf(
        prune({ backupStorage: { s3Options: { bucket: 'offsite-backups', secretAccessKey: 'x' } } }),
      );
      expect(issues[0]!.path).to.equal('backupStorage.s3Options.secretAccessKey');
      expect(issues[0]!.message).to.contain('AWS_SECRET_ACCESS_KEY');
      expect(JSON.stringify(issues)).not.to.contain('"x"');
    });

    it('refuses export options: a prune writes nothing', () => {
      const issues = issuesOf(
        prune({ backupStorage: { gcsOptions: { uri: 'gs://backups/bqbr', exportOptions: {} } } }),
      );
      expect(issues[0]!.path).to.equal('backupStorage.gcsOptions.exportOptions');
    });
  });

  describe('verify', () => {
    it('decodes a backup by timestamp or latest, with a subset', () => {
      const decoded = decodeRequest(verify({ readDataSubset: '10%' }));
      expect(decoded.kind).to.equal('verify');
      if (decoded.kind !== 'verify') return;
      expect(decoded.request.backupTimestamp).to.equal('latest');
      expect(lifecycleLocation(decoded.request)).to.deep.equal({
        kind: 's3',
        bucket: 'offsite-backups',
        region: 'eu-west-1',
      });
      expect(decodeRequest(verify({ backupTimestamp: '20261130_020000_0123456789ab' })).kind).to.equal(
        'verify',
      );
    });

    it("reads restic's subsets: n/t and percentages", () => {
      expect(parseReadDataSubset('2/5')).to.deep.equal({ part: 2, of: 5 });
      expect(parseReadDataSubset('12.5%')).to.deep.equal({ percent: 12.5 });
      for (const bad of ['0/5', '6/5', '0%', '101%', 'half'])
        expect(issuesOf(verify({ readDataSubset: bad }))[0]!.path).to.equal('readDataSubset');
    });

    it('needs a backup timestamp', () => {
      const { backupTimestamp: _timestamp, ...bare } = verify();
      expect(issuesOf(bare).map((i) => i.path)).to.deep.equal(['backupTimestamp']);
      expect(issuesOf(verify({ backupTimestamp: 'yesterday' }))[0]!.path).to.equal('backupTimestamp');
    });
  });

  describe('write-once backups', () => {
    const backup = (storage: Json): Json => ({
      bigQuery: { projectId: 'prod-project' },
      backupStorage: storage,
    });
    const exportOptions = { format: 'AVRO' };

    it('takes a retention lock on Cloud Storage, S3 and Azure', () => {
      const decoded = decodeRequest(
        backup({
          gcsOptions: { uri: 'gs://backups-bucket/p', exportOptions, writeOnce: { retainFor: '1y' } },
        }),
      );
      if (decoded.kind !== 'backup') expect.fail('expected a backup');
      expect(backupDestination(decoded.request).writeOnce).to.deep.equal({ retainFor: '1y' });
      for (const storage of [
        {
          s3Options: {
            bucket: 'offsite-backups',
            exportOptions,
            writeOnce: { retainFor: '30d', mode: 'COMPLIANCE' },
          },
        },
        { azureOptions: { container: 'backups', exportOptions, writeOnce: { retainFor: '90d' } } },
      ])
        expect(decodeRequest(backup(storage)).kind).to.equal('backup');
    });

    it('refuses one on a directory, and a bad mode or duration', () => {
      expect(
        issuesOf(
          backup({ fileOptions: { path: '/backups', exportOptions, writeOnce: { retainFor: '1y' } } }),
        )[0]!.message,
      ).to.contain('retention lock');
      const issues = issuesOf(
        backup({
          gcsOptions: {
            uri: 'gs://backups-bucket/p',
            exportOptions,
            writeOnce: { retainFor: '0d', mode: 'FOREVER' },
          },
        }),
      );
      expect(issues.map((i) => i.path)).to.have.members([
        'backupStorage.gcsOptions.writeOnce.retainFor',
        'backupStorage.gcsOptions.writeOnce.mode',
      ]);
    });
  });
});
