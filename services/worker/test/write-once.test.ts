// A write-once backup's table step against the stand-ins (the Cloud Storage emulator, the stack's
// s3rver): every object it leaves at home is locked until the spec's instant, and a later backup into
// that folder fails with `retentionLocked` before starting a job, touching nothing. BigQuery is a fake
// that writes one file where the extract points.
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { startGcsEmulator, type RunningGcsEmulator } from '@bqbr/emulators';
import {
  createSilentLogger,
  destinationUri,
  gcsStore,
  s3Store,
  tablePath,
  type BackupStore,
  type BackupTaskSpec,
  type DestinationSpec,
} from '@bqbr/shared';
import { Storage } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { runBackupStep } from '../src/backup-step.js';
import type { JobRunner, JobSnapshot } from '../src/job-runner.js';
import { fixture, SNAPSHOT, taskFor } from './fakes.js';
import {
  startS3rver,
  withProcessEnv,
  type RunningS3rver,
} from '../../../shared/test/support/emulated-stores.js';

const SOURCE = { projectId: 'src-project', datasetId: 'sales', tableId: 'orders' };
const TABLE = { type: 'TABLE', location: 'EU', schema: { fields: [{ name: 'id', type: 'INTEGER' }] } };
const unique = (prefix: string): string => `${prefix}-${randomUUID().slice(0, 8)}`;
const LOCK = { mode: 'GOVERNANCE', retainUntil: new Date(Date.now() + 3_600_000).toISOString() } as const;

/** Extract jobs that write one file where they point, through the Cloud Storage client. */
class WritingJobs implements JobRunner {
  readonly started: string[] = [];
  constructor(private readonly storage: Storage) {}
  async startOrFind(
    jobId: string,
    _location: string | undefined,
    configuration: object,
  ): Promise<JobSnapshot> {
    if (!this.started.includes(jobId)) {
      this.started.push(jobId);
      const [uri] = (configuration as { extract: { destinationUris: string[] } }).extract.destinationUris;
      const [, bucket, name] = /^gs:\/\/([^/]+)\/(.*)$/.exec(uri!.replace('*', '000000000000'))!;
      await this.storage.bucket(bucket!).file(name!).save(`rows of ${jobId}`, { resumable: false });
    }
    return this.get(jobId);
  }
  get(jobId: string): Promise<JobSnapshot> {
    return Promise.resolve({ jobId, state: 'DONE', destinationUriFileCounts: [1] });
  }
  queryRows(): Promise<readonly Record<string, unknown>[]> {
    return Promise.reject(new Error('these tests run no queries'));
  }
}

describe('write-once backups (worker, stand-ins)', function () {
  this.timeout(60_000);
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let s3rver: RunningS3rver;
  let restoreEnv: () => void;

  before(async () => {
    [emulator, s3rver] = await Promise.all([startGcsEmulator({ port: 0 }), startS3rver()]);
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'write-once' });
    restoreEnv = withProcessEnv(s3rver.env);
  });
  after(async () => {
    restoreEnv();
    await Promise.all([emulator.close(), s3rver.stop()]);
  });

  const storeOf = (where: DestinationSpec): BackupStore => {
    if (where.kind === 'gcs') return gcsStore(storage, where.uri);
    if (where.kind === 's3') return s3Store({ ...where });
    throw new Error(`store ${where.kind} not expected here`);
  };

  /** One table step of `operationId` with a real store factory and extract; its task and jobs. */
  async function backUp(
    operationId: string,
    spec: Partial<BackupTaskSpec>,
    earlier?: { readonly jobIds: readonly string[]; readonly jobs: WritingJobs },
  ) {
    const f = fixture();
    const jobs = earlier?.jobs ?? new WritingJobs(storage);
    const jobIds = earlier?.jobIds ?? [];
    const { message, doc } = taskFor(operationId, SOURCE, spec);
    f.store.put({ ...doc, jobIds: [...jobIds] });
    f.tables.set(SOURCE, TABLE);
    const deps = { ...f.deps, stores: storeOf, jobs, now: () => new Date() };
    const outcome = await runBackupStep(message, deps, {
      logger: createSilentLogger(),
      signal: f.ctx.signal,
    });
    return { outcome, task: f.store.task(operationId, doc.taskId), jobs };
  }

  it('Cloud Storage: the extract files and _table.json are locked; a later overwrite fails before its job', async () => {
    const bucket = unique('retained');
    await storage.createBucket(bucket, { enableObjectRetention: true });
    const home: DestinationSpec = { kind: 'gcs', uri: `gs://${bucket}/root` };
    const folder = destinationUri(
      home,
      tablePath(SNAPSHOT, SOURCE.projectId, SOURCE.datasetId, SOURCE.tableId),
    );
    const spec = { home, landingFolder: folder, tableFolder: folder };

    const first = await backUp('op-locked', { ...spec, writeOnce: LOCK });
    expect(first.task.status, JSON.stringify(first.task.error)).to.equal('SUCCEEDED');
    const store = storeOf(home);
    const objects = await store.list('backups/');
    expect(objects.map((o) => o.path.split('/').pop())).to.deep.equal([
      '_table.json',
      'data-000000000000.avro',
    ]);
    for (const object of objects) expect((await store.stat(object.path))?.retention).to.deep.equal(LOCK);

    const second = await backUp('op-overwrite', { ...spec, overwrite: true });
    expect(second.task.status).to.equal('FAILED');
    expect(second.task.error?.reason).to.equal('retentionLocked');
    expect(second.task.error?.message).to.include(LOCK.retainUntil);
    expect(second.jobs.started, 'jobs started by the refused backup').to.deep.equal([]);
    const after = await store.list('backups/');
    expect(after.map((o) => [o.path, o.md5])).to.deep.equal(objects.map((o) => [o.path, o.md5]));
  });

  it('Cloud Storage: a redelivery after the locked manifest was written succeeds with it', async () => {
    const bucket = unique('retained');
    await storage.createBucket(bucket, { enableObjectRetention: true });
    const home: DestinationSpec = { kind: 'gcs', uri: `gs://${bucket}` };
    const folder = destinationUri(
      home,
      tablePath(SNAPSHOT, SOURCE.projectId, SOURCE.datasetId, SOURCE.tableId),
    );
    const spec = { home, landingFolder: folder, tableFolder: folder, writeOnce: LOCK };
    const first = await backUp('op-again', spec);
    // The same task again, as if the worker died before it marked the task (its job is the same one).
    const again = await backUp('op-again', spec, { jobIds: first.task.jobIds, jobs: first.jobs });
    expect(again.task.status, JSON.stringify(again.task.error)).to.equal('SUCCEEDED');
    expect(again.task.manifestMd5).to.equal(first.task.manifestMd5);
  });

  it('S3: files carried from the landing folder and _table.json are put with the lock', async () => {
    const staging = unique('staging');
    await storage.createBucket(staging);
    const Bucket = unique('locked');
    const s3 = new S3Client({ endpoint: s3rver.endpoint, region: 'us-east-1', forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket, ObjectLockEnabledForBucket: true }));
    s3.destroy();
    const home: DestinationSpec = {
      kind: 's3',
      bucket: Bucket,
      endpoint: s3rver.endpoint,
      forcePathStyle: true,
    };
    const path = tablePath(SNAPSHOT, SOURCE.projectId, SOURCE.datasetId, SOURCE.tableId);
    const result = await backUp('op-s3', {
      home,
      tablePath: path,
      landingFolder: `gs://${staging}/op-s3/orders`,
      tableFolder: destinationUri(home, path),
      writeOnce: LOCK,
    });
    expect(result.task.status, JSON.stringify(result.task.error)).to.equal('SUCCEEDED');
    const store = storeOf(home);
    const objects = await store.list('backups/');
    expect(objects).to.have.length(2);
    for (const object of objects) expect((await store.stat(object.path))?.retention).to.deep.equal(LOCK);
    // The landing folder is cleared: nothing there was locked.
    expect(await storeOf({ kind: 'gcs', uri: `gs://${staging}` }).list('')).to.deep.equal([]);
  });
});
