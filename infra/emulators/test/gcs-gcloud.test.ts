// `gcloud storage`, another official client (Python, apitools), against the emulator: uploads in
// both of its forms (multipart for small files, resumable under /resumable/upload/ for large ones).
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startGcsEmulator, type RunningGcsEmulator } from '../src/gcs/server.js';

const run = promisify(execFile);

describe('GCS emulator through gcloud storage', function () {
  this.timeout(120_000);
  let gcs: RunningGcsEmulator;
  let dir: string;
  let env: NodeJS.ProcessEnv;

  before(async function () {
    try {
      await run('gcloud', ['--version']);
    } catch {
      // The Google Cloud CLI is a documented requirement; without it there is nothing to drive here.
      this.skip();
    }
    gcs = await startGcsEmulator({ port: 0 });
    dir = await mkdtemp(join(tmpdir(), 'gcs-gcloud-'));
    env = {
      ...process.env,
      CLOUDSDK_API_ENDPOINT_OVERRIDES_STORAGE: `${gcs.url}/storage/v1/`,
      CLOUDSDK_AUTH_ACCESS_TOKEN: 'local-emulator',
      CLOUDSDK_CORE_PROJECT: 'gcloud-test',
      CLOUDSDK_CONFIG: join(dir, 'gcloud-config'),
      CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    };
  });
  after(async () => {
    await gcs?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const gcloud = async (...args: string[]): Promise<string> =>
    (await run('gcloud', ['storage', ...args], { env, maxBuffer: 16 * 1024 * 1024 })).stdout;

  it('creates a bucket, copies small and large files up and down, lists and removes them', async () => {
    const bucket = `gs://g-${randomUUID().slice(0, 13)}`;
    const small = join(dir, 'small.txt');
    const large = join(dir, 'large.bin');
    await writeFile(small, 'hello from gcloud\n');
    // Above gcloud's resumable threshold (8 MiB), so it uses a resumable session.
    const largeBytes = randomBytes(12 * 1024 * 1024);
    await writeFile(large, largeBytes);

    await gcloud('buckets', 'create', bucket);
    await gcloud('cp', small, `${bucket}/in/small.txt`);
    await gcloud('cp', large, `${bucket}/in/large.bin`);

    const listing = await gcloud('ls', '-l', `${bucket}/in/`);
    expect(listing).to.include(`${bucket}/in/small.txt`).and.include(`${bucket}/in/large.bin`);
    expect(listing).to.match(/12582912\s+\S+\s+gs:\/\/\S+\/in\/large\.bin/);
    expect(await gcloud('cat', `${bucket}/in/small.txt`)).to.equal('hello from gcloud\n');

    const back = join(dir, 'large.back');
    await gcloud('cp', `${bucket}/in/large.bin`, back);
    const md5 = (b: Buffer): string => createHash('md5').update(b).digest('hex');
    expect(md5(await readFile(back))).to.equal(md5(largeBytes));

    await gcloud('rm', `${bucket}/in/small.txt`);
    expect(await gcloud('ls', `${bucket}/in/`)).to.equal(`${bucket}/in/large.bin\n`);
  });
});
