// bqbr prune, verify and backups --reconcile as a user runs them (the command line, spawned): the request
// each builds for every kind of location, decoded by the dispatcher's own codec; the usage errors; and what
// each prints of the dispatcher's answers, here those of a local server that records what it is sent.
import {
  decodeRequest,
  destinationFromUri,
  lifecycleLocation,
  type PruneRequest,
  type VerifyRequest,
} from '@bqbr/shared';
import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { closeServer, listenLocally } from '../../../test/support/oidc-issuer.js';
import { pruneRequest, reconcileRequest, verifyRequest, type Where } from '../src/lifecycle.js';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, BQBR_ID_TOKEN: '', ...env } },
      (err, stdout, stderr) => {
        const code = err ? Number((err as { code?: unknown }).code ?? 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

/** Where the S3 and Azure URIs below point, as `bqbr backups` reads them from the environment. */
const ENV = { BQBR_S3_ENDPOINT: 'http://127.0.0.1:4569', AWS_REGION: 'eu-central-1' };

const LOCATIONS: readonly [string, Record<string, unknown>][] = [
  ['gs://cli-lifecycle/nightly', { gcsOptions: { uri: 'gs://cli-lifecycle/nightly' } }],
  [
    's3://cli-lifecycle/nightly/bq',
    {
      s3Options: {
        bucket: 'cli-lifecycle',
        prefix: 'nightly/bq',
        region: 'eu-central-1',
        endpoint: 'http://127.0.0.1:4569',
        forcePathStyle: true,
      },
    },
  ],
  [
    'https://acct.blob.core.windows.net/backups/nightly',
    {
      azureOptions: {
        accountUrl: 'https://acct.blob.core.windows.net',
        container: 'backups',
        prefix: 'nightly',
      },
    },
  ],
  ['azure://backups/nightly', { azureOptions: { container: 'backups', prefix: 'nightly' } }],
  ['/srv/bqbr/backups', { fileOptions: { path: '/srv/bqbr/backups' } }],
];

const where = (uri: string): Where => ({ uri, projectId: 'proj-alpha', env: ENV });

describe('the lifecycle requests bqbr builds', function () {
  it('names each kind of location as the dispatcher decodes it, the same place bqbr backups reads', function () {
    for (const [uri, backupStorage] of LOCATIONS) {
      const body = pruneRequest(
        where(uri),
        { keepDaily: 3, keepWeekly: 2, timeZone: 'Europe/Berlin' },
        false,
      );
      const decoded = decodeRequest(body, { kind: 'prune' });
      expect(decoded.request, uri).to.deep.equal({
        kind: 'prune',
        bigQuery: { projectId: 'proj-alpha' },
        backupStorage,
        retention: { keepDaily: 3, keepWeekly: 2, timeZone: 'Europe/Berlin' },
      });
      expect(lifecycleLocation(decoded.request as PruneRequest), uri).to.deep.equal(
        destinationFromUri(uri, ENV),
      );
    }
  });

  it('builds a verify request with its backup and subset, and a reconcile that deletes nothing', function () {
    const verify = decodeRequest(
      verifyRequest(where('gs://cli-lifecycle/nightly'), 'latest', { readDataSubset: '2/5', dryRun: true }),
      { kind: 'verify' },
    ).request as VerifyRequest;
    expect(verify).to.deep.equal({
      kind: 'verify',
      bigQuery: { projectId: 'proj-alpha' },
      backupStorage: { gcsOptions: { uri: 'gs://cli-lifecycle/nightly' } },
      backupTimestamp: 'latest',
      readDataSubset: '2/5',
      dryRun: true,
    });
    const drill = decodeRequest(
      verifyRequest(where('gs://cli-lifecycle/nightly'), '20261120_223000', {
        restoreDrill: true,
        drillProjectId: 'scratch-proj',
        dryRun: false,
      }),
      { kind: 'verify' },
    ).request as VerifyRequest;
    expect(drill).to.deep.include({ restoreDrill: true, restoreDrillProjectId: 'scratch-proj' });
    expect(() =>
      verifyRequest(where('gs://cli-lifecycle/nightly'), 'latest', {
        restoreDrill: true,
        drillProjectId: 'Not A Project',
        dryRun: false,
      }),
    ).to.throw(/--drill-project/);
    const reconcile = decodeRequest(reconcileRequest(where('azure://backups/nightly')), { kind: 'prune' })
      .request as PruneRequest;
    expect(reconcile).to.deep.equal({
      kind: 'prune',
      bigQuery: { projectId: 'proj-alpha' },
      backupStorage: { azureOptions: { container: 'backups', prefix: 'nightly' } },
      reconcileOnly: true,
    });
    expect(reconcile.retention).to.equal(undefined);
  });
});

describe('bqbr prune, verify and backups --reconcile on the command line', function () {
  this.timeout(60_000);
  let server: Server;
  let api: string;
  /** Each request the stand-in dispatcher received. */
  const received: { method: string; path: string; body: unknown }[] = [];
  /** Its answer to each method and path. */
  const answers = new Map<string, { status: number; body: unknown }[]>();
  const answer = (route: string, ...bodies: { status: number; body: unknown }[]): void => {
    answers.set(route, bodies);
  };

  before(async function () {
    server = createServer((req, res) => {
      let text = '';
      req.on('data', (chunk: Buffer) => (text += chunk.toString()));
      req.on('end', () => {
        const path = req.url ?? '';
        received.push({ method: req.method ?? '', path, body: text === '' ? undefined : JSON.parse(text) });
        // Each answer once, the last one again and again (a watched operation that ended).
        const queue = answers.get(`${req.method} ${path}`) ?? [];
        const next = queue.length > 1 ? queue.shift()! : queue[0];
        const { status, body } = next ?? { status: 404, body: { error: { message: `no route ${path}` } } };
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    api = await listenLocally(server);
  });
  beforeEach(function () {
    received.length = 0;
    answers.clear();
  });
  after(() => closeServer(server));

  const sent = (kind: 'prune' | 'verify'): unknown => {
    const posts = received.filter((r) => r.method === 'POST' && r.path === `/api/v1/${kind}`);
    expect(posts).to.have.length(1);
    return decodeRequest(posts[0]!.body, { kind }).request;
  };

  /** The dispatcher's answer to GET /api/v1/operations/{id}. */
  const view = (
    operation: Record<string, unknown>,
    tasks: { SUCCEEDED: number; FAILED: number; SKIPPED: number },
    totals = { rows: 0, bytes: 0, files: 0 },
  ) => ({
    status: 200,
    body: {
      operation: {
        projectId: 'proj-alpha',
        fanOutComplete: true,
        createdAt: '2026-12-03T10:00:00.000Z',
        startedAt: '2026-12-03T10:00:00.000Z',
        finishedAt: '2026-12-03T10:00:05.000Z',
        dryRun: false,
        ...operation,
      },
      tasks: { PENDING: 0, RUNNING: 0, ...tasks, total: tasks.SUCCEEDED + tasks.FAILED + tasks.SKIPPED },
      totals,
    },
  });

  const usageCases: readonly [string[], RegExp[]][] = [
    [
      ['prune', 'gs://cli-lifecycle/nightly', '--project', 'proj-alpha'],
      [
        /^bqbr: prune needs at least one rule of what to keep: --keep-last N, --keep-hourly N, --keep-daily N, --keep-weekly N, --keep-monthly N, --keep-yearly N, --keep-within DURATION \(bqbr --help lists/,
      ],
    ],
    [
      ['prune', 'gs://cli-lifecycle/nightly', '--keep-daily', '3'],
      [/^bqbr: prune needs --project P: the project whose backups it takes/],
    ],
    [
      ['prune', 'gs://cli-lifecycle/nightly', '--project', 'proj-alpha', '--keep-daily', '0'],
      [/^bqbr: --keep-daily takes a whole number above 0, not "0"/],
    ],
    [
      [
        'prune',
        'gs://cli-lifecycle/nightly',
        '--project',
        'proj-alpha',
        '--keep-within',
        '3x',
        '--time-zone',
        'Mars/Olympus',
      ],
      [
        /^bqbr: --keep-within: expected a duration such as 7d, 1y6m or 36h, got "3x"$/,
        /^bqbr: --time-zone: expected an IANA time zone .*, got "Mars\/Olympus" \(bqbr --help lists/,
      ],
    ],
    [
      ['prune', 'ftp://host/x', '--project', 'proj-alpha', '--keep-last', '1'],
      [/^bqbr: not a backup location: /],
    ],
    [
      ['verify', 'gs://cli-lifecycle/nightly', '--project', 'proj-alpha'],
      [/^bqbr: verify needs a location and a backup: bqbr verify gs:\/\/bucket\/path latest --project P/],
    ],
    [
      [
        'verify',
        'gs://cli-lifecycle/nightly',
        'yesterday',
        '--project',
        'proj-alpha',
        '--read-data-subset',
        '0%',
      ],
      [
        /^bqbr: the backup timestamp: expected a backup timestamp yyyyMMdd_HHmmss .* got "yesterday"$/,
        /^bqbr: --read-data-subset: expected n\/t \(such as 1\/5\) or a percentage .* got "0%"/,
      ],
    ],
    [['backups', 'gs://cli-lifecycle/nightly', '--reconcile'], [/^bqbr: --reconcile needs --project P/]],
    [
      ['backups', 'show', 'gs://cli-lifecycle/nightly', 'last-week'],
      [/^bqbr: backups show takes a backup timestamp \(yyyyMMdd_HHmmss, .*\), not "last-week"/],
    ],
  ];

  it('refuses a command line it cannot run, one line per problem naming the option, exit 1, nothing sent', async function () {
    for (const [args, lines] of usageCases) {
      const run = await runCli([...args, '--api', api]);
      const shown = `${args.join(' ')}\n${run.stderr}`;
      expect(run.code, shown).to.equal(1);
      const printed = run.stderr.trimEnd().split('\n');
      expect(printed, shown).to.have.length(lines.length);
      lines.forEach((line, i) => expect(printed[i], shown).to.match(line));
      expect(run.stdout, shown).to.equal('');
    }
    expect(received).to.deep.equal([]);
  });

  it('prune --dry-run sends the request and lists each backup KEEP or DELETE with the reasons', async function () {
    answer('POST /api/v1/prune', {
      status: 200,
      body: {
        operationId: 'prune-dry',
        status: 'SUCCEEDED',
        dryRun: true,
        plan: {
          tables: 3,
          skipped: 2,
          bytes: 2_500_000,
          rows: 0,
          sample: [
            {
              table: 'backups.20241210_000000_0123456789ab',
              action: 'KEEP',
              note: 'newest successful; daily #1',
            },
            { table: 'backups.20241203_000000_0123456789ab', action: 'KEEP', note: 'weekly #2' },
            {
              table: 'backups.20241201_000000',
              action: 'DELETE',
              note: 'no rule keeps it',
              bytes: 2_500_000,
            },
          ],
        },
      },
    });
    const run = await runCli(
      [
        'prune',
        's3://cli-lifecycle/nightly',
        '--project',
        'proj-alpha',
        '--keep-daily',
        '1',
        '--keep-weekly',
        '2',
      ],
      { ...ENV, BQBR_API_URL: api },
    );
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.equal('');
    expect(sent('prune')).to.deep.equal({
      kind: 'prune',
      bigQuery: { projectId: 'proj-alpha' },
      backupStorage: {
        s3Options: {
          bucket: 'cli-lifecycle',
          prefix: 'nightly',
          region: 'eu-central-1',
          endpoint: 'http://127.0.0.1:4569',
          forcePathStyle: true,
        },
      },
      retention: { keepDaily: 1, keepWeekly: 2 },
    });
    // Without --dry-run in the command: the dispatcher answered a plan anyway, so it is printed.
    expect(run.stdout.split('\n')).to.deep.equal([
      "dry run prune-dry: prune of project proj-alpha's backups at s3://cli-lifecycle/nightly: 1 to delete, 2 to keep",
      'ACTION  BACKUP                        SIZE     REASONS',
      'KEEP    20241210_000000_0123456789ab           newest successful; daily #1',
      'KEEP    20241203_000000_0123456789ab           weekly #2',
      'DELETE  20241201_000000               2.50 MB  no rule keeps it',
      '',
    ]);
  });

  it('prune --dry-run --json prints the dispatcher answer as it came', async function () {
    const plan = {
      tables: 1,
      skipped: 1,
      bytes: 0,
      rows: 0,
      sample: [{ table: 'backups.20241210_000000', action: 'KEEP' }],
    };
    answer('POST /api/v1/prune', { status: 200, body: { operationId: 'prune-json', dryRun: true, plan } });
    const run = await runCli([
      'prune',
      'gs://cli-lifecycle/nightly',
      '--project',
      'proj-alpha',
      '--keep-last',
      '1',
      '--dry-run',
      '--json',
      '--api',
      api,
    ]);
    expect(run.code, run.stderr).to.equal(0);
    expect(JSON.parse(run.stdout)).to.deep.equal({ operationId: 'prune-json', dryRun: true, plan });
    expect((sent('prune') as PruneRequest).dryRun).to.equal(true);
  });

  it('prune --watch follows the operation to its end and counts backups deleted and kept', async function () {
    answer('POST /api/v1/prune', { status: 202, body: { operationId: 'prune-1', status: 'ACCEPTED' } });
    answer(
      'GET /api/v1/operations/prune-1',
      view(
        { operationId: 'prune-1', kind: 'prune', status: 'SUCCEEDED', taskTotal: 5 },
        { SUCCEEDED: 2, FAILED: 0, SKIPPED: 3 },
        { rows: 0, bytes: 4_000_000, files: 12 },
      ),
    );
    const run = await runCli([
      'prune',
      '/srv/bqbr/backups',
      '--project',
      'proj-alpha',
      '--keep-within',
      '30d',
      '--watch',
      '--interval',
      '50',
      '--api',
      api,
    ]);
    expect(run.code, run.stderr).to.equal(0);
    expect((sent('prune') as PruneRequest).retention).to.deep.equal({ keepWithin: '30d' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).to.equal('prune prune-1 accepted');
    expect(lines[1]).to.match(/^SUCCEEDED\s+\[█+\] 5\/5 backups · 3 kept · 4.00 MB · 00:05$/);
    expect(lines.slice(2)).to.deep.equal([
      'operation prune-1 (prune): SUCCEEDED',
      '  project   proj-alpha',
      '  backups   2 deleted, 0 failed, 3 kept, 0 to do, of 5',
      '  deleted   12 files, 4.00 MB',
      '',
    ]);
  });

  it('verify --watch that ends FAILED says what failed, exit 2', async function () {
    answer('POST /api/v1/verify', { status: 202, body: { operationId: 'verify-1', status: 'ACCEPTED' } });
    answer(
      'GET /api/v1/operations/verify-1',
      view(
        {
          operationId: 'verify-1',
          kind: 'verify',
          status: 'FAILED',
          taskTotal: 3,
          backupFolder: 'gs://cli-lifecycle/nightly/backups/20241210_000000_0123456789ab/proj-alpha',
        },
        { SUCCEEDED: 1, FAILED: 2, SKIPPED: 0 },
        { rows: 0, bytes: 1_500, files: 3 },
      ),
    );
    const run = await runCli([
      'verify',
      'gs://cli-lifecycle/nightly',
      '20241210_000000_0123456789ab',
      '--project',
      'proj-alpha',
      '--read-data-subset',
      '10%',
      '--watch',
      '--interval',
      '50',
      '--api',
      api,
    ]);
    expect(run.code, run.stderr).to.equal(2);
    expect(sent('verify')).to.deep.equal({
      kind: 'verify',
      bigQuery: { projectId: 'proj-alpha' },
      backupStorage: { gcsOptions: { uri: 'gs://cli-lifecycle/nightly' } },
      backupTimestamp: '20241210_000000_0123456789ab',
      readDataSubset: '10%',
    });
    expect(run.stdout.split('\n').slice(2)).to.deep.equal([
      'operation verify-1 (verify): FAILED',
      '  project   proj-alpha',
      '  backup    gs://cli-lifecycle/nightly/backups/20241210_000000_0123456789ab/proj-alpha',
      '  tables    1 passed, 2 failed, 0 skipped, 0 to do, of 3',
      '  read      3 files, 1.50 KB',
      'verification FAILED: 2 of 3 tables have damaged, missing or unexpected files or manifests',
      "  the problems of each table are in its task's error (Firestore operations/verify-1/tasks); the dispatcher's API does not return them",
      '',
    ]);
  });

  it("verify --watch prints the problems the operation's error names, one line each", async function () {
    answer('POST /api/v1/verify', { status: 202, body: { operationId: 'verify-2' } });
    answer(
      'GET /api/v1/operations/verify-2',
      view(
        {
          operationId: 'verify-2',
          kind: 'verify',
          status: 'FAILED',
          taskTotal: 1,
          error: {
            reason: 'verifyFailed',
            message: '1 table failed verification',
            issues: [
              { path: 'sales.orders/data-000000000000.avro', message: 'damaged: MD5 expected X, got Y' },
              { path: 'sales.orders/data-000000000001.avro', message: 'missing' },
            ],
          },
        },
        { SUCCEEDED: 0, FAILED: 1, SKIPPED: 0 },
      ),
    );
    const run = await runCli([
      'verify',
      'gs://cli-lifecycle/nightly',
      'latest',
      '--project',
      'proj-alpha',
      '--watch',
      '--interval',
      '50',
      '--api',
      api,
    ]);
    expect(run.code, run.stderr).to.equal(2);
    // The issues are the problems: no pointer to the tasks.
    expect(run.stdout.split('\n').slice(-5)).to.deep.equal([
      '  error     verifyFailed: 1 table failed verification',
      '            sales.orders/data-000000000000.avro: damaged: MD5 expected X, got Y',
      '            sales.orders/data-000000000001.avro: missing',
      'verification FAILED: 1 of 1 tables have damaged, missing or unexpected files or manifests',
      '',
    ]);
  });

  it('verify without --watch says how to follow it; a passing verify --watch exits 0', async function () {
    answer('POST /api/v1/verify', { status: 202, body: { operationId: 'verify-3', status: 'ACCEPTED' } });
    const accepted = await runCli([
      'verify',
      '/srv/bqbr/backups',
      'latest',
      '--project',
      'proj-alpha',
      '--api',
      api,
    ]);
    expect(accepted.code, accepted.stderr).to.equal(0);
    expect(accepted.stdout).to.equal(
      'verify verify-3 accepted\nfollow it with: bqbr status verify-3 --watch\n',
    );
    answer(
      'GET /api/v1/operations/verify-3',
      view(
        { operationId: 'verify-3', kind: 'verify', status: 'SUCCEEDED', taskTotal: 2 },
        { SUCCEEDED: 2, FAILED: 0, SKIPPED: 0 },
      ),
    );
    const watched = await runCli([
      'verify',
      '/srv/bqbr/backups',
      'latest',
      '--project',
      'proj-alpha',
      '--watch',
      '--api',
      api,
    ]);
    expect(watched.code, watched.stderr).to.equal(0);
    expect(watched.stdout).to.match(/backup verified: 2 tables passed\n$/);
  });

  it('backups --reconcile submits a prune that deletes nothing and shows its outcome without --watch', async function () {
    answer('POST /api/v1/prune', { status: 202, body: { operationId: 'reconcile-1', status: 'ACCEPTED' } });
    answer(
      'GET /api/v1/operations/reconcile-1',
      view(
        { operationId: 'reconcile-1', kind: 'prune', status: 'SUCCEEDED', taskTotal: 0 },
        { SUCCEEDED: 0, FAILED: 0, SKIPPED: 0 },
      ),
    );
    const run = await runCli([
      'backups',
      'gs://cli-lifecycle/nightly',
      '--project',
      'proj-alpha',
      '--reconcile',
      '--interval',
      '50',
      '--api',
      api,
    ]);
    expect(run.code, run.stderr).to.equal(0);
    expect(sent('prune')).to.deep.equal({
      kind: 'prune',
      bigQuery: { projectId: 'proj-alpha' },
      backupStorage: { gcsOptions: { uri: 'gs://cli-lifecycle/nightly' } },
      reconcileOnly: true,
    });
    expect(run.stdout).to.match(/^prune reconcile-1 accepted\n/);
    expect(run.stdout).to.contain('operation reconcile-1 (prune): SUCCEEDED\n');
  });

  it("reports the dispatcher's refusal of a request in one line per field, exit 1", async function () {
    answer('POST /api/v1/prune', {
      status: 400,
      body: {
        error: {
          message: 'invalid prune request',
          issues: [{ path: 'backupStorage.s3Options.endpoint', message: 'not listed in BQBR_S3_ENDPOINTS' }],
        },
      },
    });
    const run = await runCli(
      ['prune', 's3://cli-lifecycle/x', '--project', 'proj-alpha', '--keep-last', '2', '--api', api],
      ENV,
    );
    expect(run.code).to.equal(1);
    expect(run.stderr).to.equal(
      `bqbr: the dispatcher at ${api} refused the request: backupStorage.s3Options.endpoint: not listed in BQBR_S3_ENDPOINTS\n`,
    );
  });
});
