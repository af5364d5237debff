// Object Retention Lock in the Cloud Storage emulator, through @google-cloud/storage: what GCS refuses
// while an object's retention holds (every way of deleting or replacing it), what it lets through, and
// that the configuration survives a restart.
import { Storage, type Bucket } from '@google-cloud/storage';
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGcsEmulator, type RunningGcsEmulator } from '../src/gcs/server.js';

process.env['METADATA_SERVER_DETECTION'] = 'none';

const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();

/** What a rejected call failed with; `code` is the HTTP status (a GaxiosError, from uploads, says `status`). */
async function failure(promise: Promise<unknown>): Promise<{ code?: number; message: string }> {
  try {
    await promise;
  } catch (err) {
    const e = err as { code?: unknown; status?: number; message: string };
    return { code: typeof e.code === 'number' ? e.code : e.status, message: e.message };
  }
  throw new Error('expected the call to fail');
}

describe('GCS emulator: object retention', function () {
  let dataDir: string;
  let emulator: RunningGcsEmulator;
  let storage: Storage;
  let bucket: Bucket;

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gcs-retention-test-'));
    emulator = await startGcsEmulator({ port: 0, dataDir });
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'retention' });
    [bucket] = await storage.createBucket(`ret-${randomUUID().slice(0, 12)}`, {
      enableObjectRetention: true,
    });
  });
  afterEach(async () => {
    await emulator.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('refuses every replacement of a retained object (upload, resumable upload, copy, compose) with 403', async () => {
    const retention = { mode: 'Unlocked', retainUntilTime: inAnHour() };
    await bucket.file('kept').save('kept bytes', { resumable: false, metadata: { retention } });
    await bucket.file('other').save('other bytes', { resumable: false });
    const attempts = [
      bucket.file('kept').save('new bytes', { resumable: false }),
      bucket.file('kept').save('new bytes', { resumable: true }),
      bucket.file('other').copy(bucket.file('kept')),
      bucket.combine([bucket.file('other')], bucket.file('kept')),
      bucket.file('kept').delete(),
    ];
    for (const attempt of attempts) {
      const err = await failure(attempt);
      expect(err.code, err.message).to.equal(403);
    }
    const [content] = await bucket.file('kept').download();
    expect(content.toString()).to.equal('kept bytes');
    // Metadata that does not touch the retention may still change.
    await bucket.file('kept').setMetadata({ metadata: { note: 'still here' } });
    const [metadata] = await bucket.file('kept').getMetadata();
    expect(metadata.retention).to.deep.equal(retention);
  });

  it('extends a retention freely; keeps it through an update that leaves it out unless overridden', async () => {
    const file = bucket.file('extended');
    await file.save('x', { resumable: false });
    await file.setMetadata({ retention: { mode: 'Unlocked', retainUntilTime: inAnHour() } });
    const later = new Date(Date.now() + 7_200_000).toISOString();
    await file.setMetadata({ retention: { mode: 'Unlocked', retainUntilTime: later } });
    expect((await file.getMetadata())[0].retention?.retainUntilTime).to.equal(later);
    const locked = await failure(file.setMetadata({ retention: { mode: 'Locked', retainUntilTime: later } }));
    expect(locked.code).to.equal(403);
    await file.setMetadata(
      { retention: { mode: 'Locked', retainUntilTime: later } },
      { overrideUnlockedRetention: true },
    );
    const removed = await failure(file.setMetadata({ retention: null }, { overrideUnlockedRetention: true }));
    expect(removed.message).to.include('only be extended');
  });

  it('keeps buckets, retentions and their refusals across a restart', async () => {
    await bucket.file('durable').save('x', {
      resumable: false,
      metadata: { retention: { mode: 'Locked', retainUntilTime: inAnHour() } },
    });
    await emulator.close();
    emulator = await startGcsEmulator({ port: 0, dataDir });
    storage = new Storage({ apiEndpoint: emulator.url, projectId: 'retention' });
    const again = storage.bucket(bucket.name);
    expect((await again.getMetadata())[0].objectRetention).to.deep.equal({ mode: 'Enabled' });
    // Changing other bucket settings leaves the feature on.
    await again.setMetadata({ labels: { team: 'backups' } });
    expect((await again.getMetadata())[0].objectRetention).to.deep.equal({ mode: 'Enabled' });
    expect((await failure(again.file('durable').delete())).code).to.equal(403);
  });
});
