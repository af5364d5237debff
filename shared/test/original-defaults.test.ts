// The original service's defaults: a request that leaves out what bigquery-backup-restore-service fills
// in decodes to what that service would have done, and the decoded (stored) request shows it.
import { expect } from 'chai';
import type { BackupRequest, RestoreRequest, ValidationError } from '../src/index.js';
import { backupDestination, decodeRequest, restoreSource } from '../src/index.js';

const schedulerBackup = (exportOptions: object) => ({
  bigQuery: { projectId: 'demo-project' },
  backupStorage: { gcsOptions: { uri: 'gs://demo-backups', exportOptions } },
});

const schedulerRestore = (gcsOptions: object = { importOptions: {} }) => ({
  bigQuery: { projectId: 'demo-project', datasetsToRestore: ['sales'] },
  restoreStorage: {
    gcsOptions: {
      uri: 'gs://demo-backups',
      backupTimestamp: '20261120_223000',
      projectIdOfBackup: 'demo-project',
      ...gcsOptions,
    },
  },
});

const backupOf = (body: object): BackupRequest => decodeRequest(body).request as BackupRequest;
const restoreOf = (body: object): RestoreRequest => decodeRequest(body).request as RestoreRequest;

describe("the original service's defaults", () => {
  it('back up with empty exportOptions as Avro, overwriting, as a Cloud Scheduler job of that service does', () => {
    const request = backupOf(schedulerBackup({}));
    expect(request.backupStorage.gcsOptions!.exportOptions).to.deep.equal({
      format: 'AVRO',
      overwrite: true,
    });
    expect(backupDestination(request).exportOptions.format).to.equal('AVRO');
  });

  it('fill in only what is left out or null, and keep what a backup request gives', () => {
    expect(
      backupOf(schedulerBackup({ overwrite: null })).backupStorage.gcsOptions!.exportOptions,
    ).to.deep.equal({
      format: 'AVRO',
      overwrite: true,
    });
    const csv = { format: 'CSV', overwrite: false, header: false, compression: 'GZIP' };
    expect(backupOf(schedulerBackup(csv)).backupStorage.gcsOptions!.exportOptions).to.deep.equal(csv);
    // Also outside Cloud Storage: the same exportOptions.
    const s3 = backupOf({
      bigQuery: { projectId: 'demo-project' },
      backupStorage: { s3Options: { bucket: 'vault', exportOptions: {} } },
    });
    expect(backupDestination(s3).exportOptions).to.deep.equal({ format: 'AVRO', overwrite: true });
  });

  it('restore with empty importOptions as that service would: header, unknown values ignored, no bad records, truncate', () => {
    const request = restoreOf(schedulerRestore());
    expect(request.restoreStorage.gcsOptions!.importOptions).to.deep.equal({
      header: true,
      ignoreUnknownValues: true,
      maxBadRecords: 0,
      writeDisposition: 'WRITE_TRUNCATE',
    });
    // format and restoreRegion stay absent: they mean the backup's own (resolved at restore planning).
    expect(restoreSource(request).importOptions).not.to.have.any.keys('format', 'restoreRegion');
  });

  it('never default to replacing tables in a target the request names itself: WRITE_TRUNCATE must be sent', () => {
    for (const named of [{ targetDataset: 'sales_copy' }, { targetDatasetPrefix: 'dev_' }]) {
      const body = schedulerRestore();
      const request = restoreOf({ ...body, bigQuery: { ...body.bigQuery, ...named } });
      expect(restoreSource(request).importOptions.writeDisposition, JSON.stringify(named)).to.equal(
        'WRITE_EMPTY',
      );
      const sent = schedulerRestore({ importOptions: { writeDisposition: 'WRITE_TRUNCATE' } });
      const truncating = restoreOf({ ...sent, bigQuery: { ...sent.bigQuery, ...named } });
      expect(restoreSource(truncating).importOptions.writeDisposition).to.equal('WRITE_TRUNCATE');
    }
  });

  it('keep every importOption a restore request gives', () => {
    const given = {
      restoreRegion: 'EU',
      format: 'CSV',
      header: false,
      fieldDelimiter: ';',
      ignoreUnknownValues: false,
      maxBadRecords: 3,
      writeDisposition: 'WRITE_APPEND',
    };
    expect(
      restoreOf(schedulerRestore({ importOptions: given })).restoreStorage.gcsOptions!.importOptions,
    ).to.deep.equal(given);
  });

  it("restore with bqbr's own defaults when importOptions is left out (which that service refused)", () => {
    const request = restoreOf(schedulerRestore({}));
    expect(restoreSource(request).importOptions).to.deep.equal({
      header: true,
      ignoreUnknownValues: false,
      maxBadRecords: 0,
      writeDisposition: 'WRITE_EMPTY',
    });
  });

  it('still refuse a bad value in a field that has a default, by its path', () => {
    let caught: unknown;
    try {
      decodeRequest(schedulerRestore({ importOptions: { header: 'yes', writeDisposition: 'OVERWRITE' } }));
    } catch (err) {
      caught = err;
    }
    expect((caught as ValidationError).issues).to.deep.equal([
      {
        path: 'restoreStorage.gcsOptions.importOptions.header',
        message: 'expected true or false, got "yes"',
      },
      {
        path: 'restoreStorage.gcsOptions.importOptions.writeDisposition',
        message: 'expected one of WRITE_TRUNCATE, WRITE_APPEND, WRITE_EMPTY, got "OVERWRITE"',
      },
    ]);
  });
});
