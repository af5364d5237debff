import { expect } from 'chai';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { BackupRequest, RestoreRequest, ValidationIssue } from '../src/index.js';
import { backupDestination, decodeRequest, ValidationError } from '../src/index.js';

const examplesDir = fileURLToPath(new URL('../examples/', import.meta.url));
type Json = Record<string, unknown>;
const example = (name: string): Json => JSON.parse(readFileSync(`${examplesDir}${name}`, 'utf8')) as Json;

/** The issues a body is rejected with; fails the test if it decodes. */
function issuesOf(body: unknown, attributes?: Record<string, string>): ValidationIssue[] {
  try {
    decodeRequest(body, attributes);
  } catch (err) {
    expect(err).to.be.instanceOf(ValidationError);
    return [...(err as ValidationError).issues];
  }
  expect.fail('expected the request to be rejected');
}

const minimalBackup = (): Json => example('backup-minimal.json');

/** The ValidationError a body gets. */
function decodeFailure(body: unknown): ValidationError {
  try {
    decodeRequest(body);
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected the request to be refused');
}
const minimalRestore = (): Json => example('restore-minimal.json');

/** Sets the field at a dotted path of a request body, in place. */
function set(body: Json, path: string, value: unknown): void {
  const keys = path.split('.');
  const last = keys.pop()!;
  const parent = keys.reduce<Json>((node, key) => node[key] as Json, body);
  parent[last] = value;
}

describe('requests', () => {
  describe('the original service examples', () => {
    const files = readdirSync(examplesDir).filter((f) => f.endsWith('.json'));

    it('are all present', () => {
      expect(files).to.have.length.greaterThanOrEqual(4);
    });

    for (const file of files) {
      it(`decodes ${file} as a ${file.split('-')[0]}`, () => {
        expect(decodeRequest(example(file)).kind).to.equal(file.split('-')[0]);
      });
    }

    it('keeps every value of a filtered CSV backup', () => {
      const decoded = decodeRequest(example('backup-filtered-csv.json'));
      expect(decoded.kind).to.equal('backup');
      const request = decoded.request as BackupRequest;
      expect(request).to.deep.equal({
        bigQuery: {
          projectId: 'demo-project',
          tablesToBackup: [
            { datasetName: 'sales', tables: ['orders', 'customers'] },
            { datasetName: 'analytics', tableFilter: 'daily_*' },
          ],
        },
        backupStorage: {
          gcsOptions: {
            uri: 'gs://demo-backups/nightly',
            exportOptions: {
              format: 'CSV',
              overwrite: true,
              header: true,
              compression: 'GZIP',
              fieldDelimiter: ',',
              threadPoolSize: 4,
              threadQueueCapacity: 10,
            },
          },
        },
        backupTime: { localDateTime: '2026-11-20T23:30:00', timezone: 'Europe/Berlin' },
      });
    });

    it('keeps every value of a cross-project CSV restore', () => {
      const decoded = decodeRequest(example('restore-cross-project-csv.json'));
      expect(decoded.kind).to.equal('restore');
      const request = decoded.request as RestoreRequest;
      expect(request.bigQuery).to.deep.equal({
        projectId: 'staging-project',
        datasetsToRestore: ['sales', 'analytics'],
      });
      expect(request.restoreStorage.gcsOptions).to.deep.include({
        uri: 'gs://demo-backups/nightly',
        backupTimestamp: '20261120_223000',
        projectIdOfBackup: 'demo-project',
      });
      expect(request.restoreStorage.gcsOptions!.importOptions).to.deep.equal({
        restoreRegion: 'EU',
        format: 'CSV',
        header: true,
        fieldDelimiter: ',',
        ignoreUnknownValues: false,
        maxBadRecords: 0,
        writeDisposition: 'WRITE_EMPTY',
        threadPoolSize: 5,
        threadQueueCapacity: 15,
      });
    });
  });

  describe('kind', () => {
    it('comes from the kind attribute first', () => {
      const body = { ...minimalBackup(), kind: 'backup' };
      expect(decodeRequest(body, { kind: 'backup' }).kind).to.equal('backup');
      expect(issuesOf(minimalBackup(), { kind: 'restore' }).map((i) => i.path)).to.include.members([
        'backupStorage',
        'restoreStorage',
      ]);
    });

    it('comes from the top-level kind without an attribute', () => {
      expect(decodeRequest({ ...minimalRestore(), kind: 'restore' }).kind).to.equal('restore');
      expect(issuesOf({ ...minimalBackup(), kind: 'restore' })).to.deep.include({
        path: 'backupStorage',
        message: 'unknown field',
      });
    });

    it('comes from the shape without either', () => {
      expect(decodeRequest(minimalBackup()).kind).to.equal('backup');
      expect(decodeRequest(minimalRestore()).kind).to.equal('restore');
    });

    it('rejects a body that is neither or both, with one error', () => {
      const neither = issuesOf({ bigQuery: { projectId: 'demo-project' } });
      expect(neither).to.have.length(1);
      expect(neither[0]!.message).to.match(/backupStorage.*restoreStorage/);
      const both = issuesOf({ ...minimalBackup(), restoreStorage: minimalRestore().restoreStorage as Json });
      expect(both).to.have.length(1);
      expect(both[0]!.message).to.contain('both');
    });

    it('rejects an unknown kind attribute or field by its path', () => {
      expect(issuesOf(minimalBackup(), { kind: 'copy' })).to.deep.equal([
        { path: 'attributes.kind', message: 'expected one of backup, restore, prune, verify, got "copy"' },
      ]);
      expect(issuesOf({ ...minimalBackup(), kind: 'copy' })[0]!.path).to.equal('kind');
    });

    it('rejects an attribute that contradicts the top-level kind', () => {
      expect(issuesOf({ ...minimalBackup(), kind: 'restore' }, { kind: 'backup' })).to.deep.equal([
        { path: 'kind', message: 'expected "backup", got "restore"' },
      ]);
    });

    it('rejects a body that is not an object', () => {
      expect(issuesOf('{"bigQuery":{}}')[0]!.message).to.match(/^expected a JSON object/);
      expect(issuesOf(null)[0]!.message).to.match(/^expected a JSON object/);
    });
  });

  describe('backup validation', () => {
    it('names every bad field in one error, with paths and reasons', () => {
      const body = minimalBackup();
      set(body, 'bigQuery.projectId', undefined);
      set(body, 'bigQuery.tablesToBackup', [
        { datasetName: 'sales' },
        { datasetName: 'bad-name', tables: ['orders'] },
      ]);
      set(body, 'backupStorage.gcsOptions.exportOptions.format', 'XML');
      let caught: unknown;
      try {
        decodeRequest(body);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(ValidationError);
      const error = caught as ValidationError;
      expect(error.reason).to.equal('invalid');
      expect(error.issues).to.deep.equal([
        { path: 'bigQuery.projectId', message: 'required' },
        {
          path: 'bigQuery.tablesToBackup[1].datasetName',
          message: 'expected a dataset name (at most 1024 letters, digits or underscores), got "bad-name"',
        },
        {
          path: 'backupStorage.gcsOptions.exportOptions.format',
          message: 'expected one of AVRO, PARQUET, CSV, JSON, got "XML"',
        },
      ]);
      expect(error.message).to.equal(
        'invalid backup request: bigQuery.projectId: required; ' +
          'bigQuery.tablesToBackup[1].datasetName: expected a dataset name (at most 1024 letters, digits or underscores), got "bad-name"; ' +
          'backupStorage.gcsOptions.exportOptions.format: expected one of AVRO, PARQUET, CSV, JSON, got "XML"',
      );
    });

    it('rejects unknown fields at any depth, suggesting the near miss', () => {
      const body = minimalBackup();
      set(body, 'bigQuery.tabelsToBackup', [{ datasetName: 'sales' }]);
      set(body, 'backupStorage.gcsOptions.exportOptions.compresion', 'GZIP');
      set(body, 'extra', 1);
      expect(issuesOf(body)).to.deep.equal([
        { path: 'extra', message: 'unknown field' },
        { path: 'bigQuery.tabelsToBackup', message: 'unknown field (did you mean tablesToBackup?)' },
        {
          path: 'backupStorage.gcsOptions.exportOptions.compresion',
          message: 'unknown field (did you mean compression?)',
        },
      ]);
    });

    it('treats null as absent for optional fields and as missing for required ones', () => {
      const body = minimalBackup();
      set(body, 'backupTime', null);
      set(body, 'bigQuery.tablesToBackup', [{ datasetName: 'sales', tables: null, tableFilter: 'a*' }]);
      const decoded = decodeRequest(body).request as BackupRequest;
      expect(decoded.backupTime).to.equal(undefined);
      expect(decoded.bigQuery.tablesToBackup).to.deep.equal([{ datasetName: 'sales', tableFilter: 'a*' }]);
      set(body, 'backupStorage.gcsOptions.exportOptions', null);
      expect(issuesOf(body)).to.deep.equal([
        { path: 'backupStorage.gcsOptions.exportOptions', message: 'required' },
      ]);
    });

    it('validates project ids by GCP rules, including domain-scoped ones', () => {
      const accepts = (projectId: string): boolean => {
        const body = minimalBackup();
        set(body, 'bigQuery.projectId', projectId);
        try {
          decodeRequest(body);
          return true;
        } catch {
          return false;
        }
      };
      for (const ok of ['demo-project', 'abcdef', 'a'.repeat(30), 'example.com:my-project', 'p12345']) {
        expect(accepts(ok), ok).to.equal(true);
      }
      for (const bad of ['abcde', 'a'.repeat(31), 'Demo-project', '1project', 'project-', 'my_project', '']) {
        expect(accepts(bad), bad).to.equal(false);
      }
    });

    it('validates gs:// URIs by bucket naming rules', () => {
      const messageFor = (uri: unknown): string | undefined => {
        const body = minimalBackup();
        set(body, 'backupStorage.gcsOptions.uri', uri);
        try {
          decodeRequest(body);
          return undefined;
        } catch (err) {
          return (err as ValidationError).issues[0]!.message;
        }
      };
      for (const ok of ['gs://demo-backups', 'gs://my_bucket.example.com/a/b/', 'gs://abc/nightly/2026']) {
        expect(messageFor(ok), ok).to.equal(undefined);
      }
      expect(messageFor('s3://bucket')).to.match(/gs:\/\/bucket\[\/path\]/);
      expect(messageFor('gs://Bucket')).to.match(/bucket name/);
      expect(messageFor('gs://ab')).to.match(/bucket name/);
      expect(messageFor('gs://-bucket')).to.match(/bucket name/);
      expect(messageFor('gs://192.168.1.1')).to.match(/IP address/);
      expect(messageFor('gs://my-google-bucket')).to.match(/google/);
      expect(messageFor('gs://bucket/a//b')).to.match(/empty segments/);
      expect(messageFor('gs://bucket/data-*')).to.match(/wildcards/);
      expect(messageFor(42)).to.equal('expected a string, got 42');
    });

    describe('compression against format', () => {
      const matrix: Record<string, { accepted: string[]; rejected: string[] }> = {
        CSV: { accepted: ['NONE', 'GZIP'], rejected: ['DEFLATE', 'SNAPPY', 'ZSTD'] },
        JSON: { accepted: ['NONE', 'GZIP'], rejected: ['DEFLATE', 'SNAPPY', 'ZSTD'] },
        AVRO: { accepted: ['NONE', 'DEFLATE', 'SNAPPY'], rejected: ['GZIP', 'ZSTD'] },
        PARQUET: { accepted: ['NONE', 'SNAPPY', 'GZIP', 'ZSTD'], rejected: ['DEFLATE'] },
      };
      const withCompression = (format: string, compression: string): Json => {
        const body = minimalBackup();
        set(body, 'backupStorage.gcsOptions.exportOptions', { format, overwrite: true, compression });
        return body;
      };

      for (const [format, { accepted, rejected }] of Object.entries(matrix)) {
        it(`${format} accepts ${accepted.join(', ')} and rejects ${rejected.join(', ')} on the compression path`, () => {
          for (const compression of accepted) {
            const request = decodeRequest(withCompression(format, compression)).request as BackupRequest;
            expect(request.backupStorage.gcsOptions!.exportOptions.compression).to.equal(compression);
          }
          for (const compression of rejected) {
            expect(issuesOf(withCompression(format, compression))).to.deep.equal([
              {
                path: 'backupStorage.gcsOptions.exportOptions.compression',
                message: `${compression} is not available for ${format} (use one of ${accepted.join(', ')})`,
              },
            ]);
          }
        });
      }

      it('rejects an unknown compression by name', () => {
        expect(issuesOf(withCompression('CSV', 'LZ4'))[0]!.message).to.equal(
          'expected one of NONE, GZIP, DEFLATE, SNAPPY, ZSTD, got "LZ4"',
        );
      });
    });

    it('normalizes format spellings: any case, and NEWLINE_DELIMITED_JSON as JSON', () => {
      const body = minimalBackup();
      set(body, 'backupStorage.gcsOptions.exportOptions.format', 'NEWLINE_DELIMITED_JSON');
      let request = decodeRequest(body).request as BackupRequest;
      expect(request.backupStorage.gcsOptions!.exportOptions.format).to.equal('JSON');
      set(body, 'backupStorage.gcsOptions.exportOptions.format', 'parquet');
      request = decodeRequest(body).request as BackupRequest;
      expect(request.backupStorage.gcsOptions!.exportOptions.format).to.equal('PARQUET');
    });

    it('accepts the field delimiters BigQuery accepts, and only those', () => {
      const delimiterIssues = (fieldDelimiter: unknown): ValidationIssue[] => {
        const body = minimalBackup();
        set(body, 'backupStorage.gcsOptions.exportOptions', {
          format: 'CSV',
          overwrite: true,
          fieldDelimiter,
        });
        try {
          decodeRequest(body);
          return [];
        } catch (err) {
          return [...(err as ValidationError).issues];
        }
      };
      for (const ok of [',', '|', ';', '\t', '\\t', 'tab', 'þ'])
        expect(delimiterIssues(ok), ok).to.deep.equal([]);
      for (const bad of ['', ';;', '\n', '"', '€']) {
        expect(delimiterIssues(bad), bad).to.have.length(1);
        expect(delimiterIssues(bad)[0]!.path).to.equal(
          'backupStorage.gcsOptions.exportOptions.fieldDelimiter',
        );
      }
    });

    it('requires positive integers for the advisory thread settings', () => {
      const body = minimalBackup();
      set(body, 'backupStorage.gcsOptions.exportOptions.threadPoolSize', 0);
      set(body, 'backupStorage.gcsOptions.exportOptions.threadQueueCapacity', 2.5);
      expect(issuesOf(body)).to.deep.equal([
        {
          path: 'backupStorage.gcsOptions.exportOptions.threadPoolSize',
          message: 'expected a positive integer, got 0',
        },
        {
          path: 'backupStorage.gcsOptions.exportOptions.threadQueueCapacity',
          message: 'expected a positive integer, got 2.5',
        },
      ]);
    });

    it('validates backupTime as an ISO local date-time in an IANA zone', () => {
      const body = minimalBackup();
      set(body, 'backupTime', { localDateTime: '2026-11-20T23:30' });
      expect((decodeRequest(body).request as BackupRequest).backupTime).to.deep.equal({
        localDateTime: '2026-11-20T23:30',
      });
      set(body, 'backupTime', { localDateTime: '2026-11-20T23:30:00Z', timezone: 'Europe/Atlantis' });
      expect(issuesOf(body).map((i) => i.path)).to.deep.equal([
        'backupTime.localDateTime',
        'backupTime.timezone',
      ]);
      set(body, 'backupTime', { localDateTime: '2026-02-29T10:00:00', timezone: 'UTC' });
      expect(issuesOf(body).map((i) => i.path)).to.deep.equal(['backupTime.localDateTime']);
    });

    it('rejects empty lists instead of reading them as "everything"', () => {
      const body = minimalBackup();
      set(body, 'bigQuery.tablesToBackup', []);
      expect(issuesOf(body)).to.deep.equal([
        {
          path: 'bigQuery.tablesToBackup',
          message: 'expected a non-empty list of dataset selections, got []',
        },
      ]);
    });

    it('accepts the extensions: operationId, dryRun and exclusions', () => {
      const body = {
        ...minimalBackup(),
        kind: 'backup',
        operationId: 'nightly-2026-11-20.v1',
        dryRun: true,
      };
      set(body, 'bigQuery', {
        projectId: 'demo-project',
        excludeTables: ['tmp_*', 'scratch.*'],
        tablesToBackup: [{ datasetName: 'sales', tableFilter: '*', excludeTables: ['*_staging'] }],
      });
      const request = decodeRequest(body).request as BackupRequest;
      expect(request).to.deep.include({ kind: 'backup', operationId: 'nightly-2026-11-20.v1', dryRun: true });
      expect(request.bigQuery.excludeTables).to.deep.equal(['tmp_*', 'scratch.*']);
      expect(request.bigQuery.tablesToBackup![0]!.excludeTables).to.deep.equal(['*_staging']);
    });

    it('validates operation ids as Firestore-safe idempotency keys', () => {
      for (const bad of ['', 'a/b', 'x'.repeat(129), '..', '__id__', 'with space']) {
        expect(issuesOf({ ...minimalBackup(), operationId: bad })[0]!.path, bad).to.equal('operationId');
      }
    });
  });

  describe('destinations outside Cloud Storage', () => {
    const exportOptions = { format: 'PARQUET', overwrite: true };

    it('decodes s3Options, azureOptions and fileOptions into a destination spec', () => {
      const body = minimalBackup();
      set(body, 'backupStorage', {
        s3Options: {
          bucket: 'acme-bq',
          prefix: 'nightly',
          region: 'eu-central-1',
          serverSideEncryption: 'aws:kms',
          exportOptions,
        },
      });
      expect(backupDestination(decodeRequest(body).request as BackupRequest).spec).to.deep.equal({
        kind: 's3',
        bucket: 'acme-bq',
        prefix: 'nightly',
        region: 'eu-central-1',
        serverSideEncryption: 'aws:kms',
      });
      set(body, 'backupStorage', {
        azureOptions: { container: 'bq-backups', accessTier: 'cool', exportOptions },
      });
      expect(backupDestination(decodeRequest(body).request as BackupRequest).spec).to.deep.equal({
        kind: 'azure',
        container: 'bq-backups',
        accessTier: 'Cool',
      });
      set(body, 'backupStorage', { fileOptions: { path: '/mnt/backups/bq', exportOptions } });
      expect(backupDestination(decodeRequest(body).request as BackupRequest).spec).to.deep.equal({
        kind: 'file',
        path: '/mnt/backups/bq',
      });
    });

    it('refuses credentials in a request without echoing them, and more or fewer than one destination', () => {
      const body = minimalBackup();
      set(body, 'backupStorage', {
        s3Options: { bucket: 'acme-bq', secretAccessKey: 'sEcReT', exportOptions },
      });
      const err = decodeFailure(body);
      expect(err.message).to.contain('credentials are never taken from a request');
      expect(err.message).to.contain('AWS_ACCESS_KEY_ID');
      expect(err.message).not.to.contain('sEcReT');
      set(body, 'backupStorage', {
        s3Options: { bucket: 'acme-bq', exportOptions },
        fileOptions: { path: '/mnt/b', exportOptions },
      });
      expect(decodeFailure(body).message).to.match(/give one of .*not s3Options and fileOptions/);
      set(body, 'backupStorage', {});
      expect(decodeFailure(body).message).to.match(/required: one of gcsOptions, s3Options/);
      set(body, 'backupStorage', { fileOptions: { path: '/mnt/../etc', exportOptions } });
      expect(decodeFailure(body).message).to.contain('without .. segments');
    });
  });

  describe('value verification (verify: "fingerprint")', () => {
    it('is accepted on backups and restores, case-insensitive, and absent by default', () => {
      const backup = { ...minimalBackup(), verify: 'fingerprint' };
      expect(decodeRequest(backup).request).to.deep.include({ verify: 'FINGERPRINT' });
      expect(decodeRequest(minimalBackup()).request).not.to.have.property('verify');
      const restore = { ...minimalRestore(), verify: 'FINGERPRINT' };
      expect(decodeRequest(restore).request).to.deep.include({ verify: 'FINGERPRINT' });
    });

    it('refuses other values, and a restore that appends to existing tables', () => {
      expect(issuesOf({ ...minimalBackup(), verify: 'rows' })).to.deep.equal([
        { path: 'verify', message: 'expected one of FINGERPRINT, got "rows"' },
      ]);
      const appending = { ...minimalRestore(), verify: 'fingerprint' };
      set(appending, 'restoreStorage.gcsOptions.importOptions.writeDisposition', 'WRITE_APPEND');
      expect(issuesOf(appending)).to.deep.equal([
        {
          path: 'verify',
          message:
            'verify "fingerprint" compares whole restored tables with their backups: it cannot be combined with writeDisposition WRITE_APPEND',
        },
      ]);
    });
  });

  describe('restore validation', () => {
    it('names every bad field in one error', () => {
      const body = minimalRestore();
      set(body, 'bigQuery.datasetsToRestore', ['sales', 'no-dashes']);
      set(body, 'restoreStorage.gcsOptions.backupTimestamp', '2026-11-20');
      set(body, 'restoreStorage.gcsOptions.importOptions.writeDisposition', 'WRITE_OVER');
      set(body, 'restoreStorage.gcsOptions.importOptions.maxBadRecords', -1);
      expect(issuesOf(body)).to.deep.equal([
        {
          path: 'bigQuery.datasetsToRestore[1]',
          message: 'expected a dataset name (at most 1024 letters, digits or underscores), got "no-dashes"',
        },
        {
          path: 'restoreStorage.gcsOptions.backupTimestamp',
          message:
            'expected a backup timestamp yyyyMMdd_HHmmss (or a backup folder name yyyyMMdd_HHmmss_<12 hex digits>) or "latest", got "2026-11-20"',
        },
        {
          path: 'restoreStorage.gcsOptions.importOptions.maxBadRecords',
          message: 'expected an integer >= 0, got -1',
        },
        {
          path: 'restoreStorage.gcsOptions.importOptions.writeDisposition',
          message: 'expected one of WRITE_TRUNCATE, WRITE_APPEND, WRITE_EMPTY, got "WRITE_OVER"',
        },
      ]);
    });

    it('accepts latest as the backup timestamp', () => {
      const body = minimalRestore();
      set(body, 'restoreStorage.gcsOptions.backupTimestamp', 'latest');
      const request = decodeRequest(body).request as RestoreRequest;
      expect(request.restoreStorage.gcsOptions!.backupTimestamp).to.equal('latest');
    });

    it('accepts the restore extensions: tablesToRestore and target naming', () => {
      const body = minimalRestore();
      set(body, 'bigQuery', {
        projectId: 'demo-project',
        datasetsToRestore: ['sales'],
        tablesToRestore: ['sales.orders'],
        targetDataset: 'sales_copy',
      });
      const request = decodeRequest(body).request as RestoreRequest;
      expect(request.bigQuery).to.deep.include({
        tablesToRestore: ['sales.orders'],
        targetDataset: 'sales_copy',
      });
      set(body, 'bigQuery', {
        projectId: 'demo-project',
        datasetsToRestore: ['sales'],
        targetDatasetPrefix: '',
      });
      expect((decodeRequest(body).request as RestoreRequest).bigQuery.targetDatasetPrefix).to.equal('');
    });

    it('restores everything when datasetsToRestore is empty or absent; importOptions may be left out', () => {
      const body = minimalRestore();
      set(body, 'bigQuery', { projectId: 'demo-project', datasetsToRestore: [] });
      expect((decodeRequest(body).request as RestoreRequest).bigQuery.datasetsToRestore).to.deep.equal([]);
      set(body, 'bigQuery', { projectId: 'demo-project' });
      const gcs = (body as { restoreStorage: { gcsOptions: Record<string, unknown> } }).restoreStorage
        .gcsOptions;
      delete gcs['importOptions'];
      const request = decodeRequest(body).request as RestoreRequest;
      expect(request.bigQuery.datasetsToRestore).to.equal(undefined);
      expect(request.restoreStorage.gcsOptions!.importOptions).to.equal(undefined);
    });

    it('checks restore targets against datasetsToRestore', () => {
      const body = minimalRestore();
      set(body, 'bigQuery', {
        projectId: 'demo-project',
        datasetsToRestore: ['sales', 'analytics'],
        tablesToRestore: ['sales.orders', 'hr.people', 'not-qualified'],
        targetDataset: 'copy',
      });
      expect(issuesOf(body)).to.deep.equal([
        { path: 'bigQuery.tablesToRestore[2]', message: 'expected dataset.table, got "not-qualified"' },
      ]);
      set(body, 'bigQuery.tablesToRestore', ['sales.orders', 'hr.people']);
      expect(issuesOf(body)).to.deep.equal([
        { path: 'bigQuery.tablesToRestore[1]', message: 'dataset hr is not in datasetsToRestore' },
        { path: 'bigQuery.targetDataset', message: 'names one dataset, but datasetsToRestore has 2' },
      ]);
      set(body, 'bigQuery', {
        projectId: 'demo-project',
        datasetsToRestore: ['sales'],
        targetDataset: 'a',
        targetDatasetPrefix: 'b_',
      });
      expect(issuesOf(body)).to.deep.equal([
        { path: 'bigQuery.targetDataset', message: 'give targetDataset or targetDatasetPrefix, not both' },
      ]);
    });
  });
});
