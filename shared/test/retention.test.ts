// Retention policies (shared/src/retention.ts): restic's forget rules over backups' snapshot instants.
import { expect } from 'chai';
import {
  applyRetention,
  parseRetentionDuration,
  retentionPolicyProblems,
  type RetentionCandidate,
  type RetentionPolicy,
} from '@bqbr/shared';

const at = (iso: string, status: RetentionCandidate['status'] = 'succeeded'): RetentionCandidate => ({
  id: iso,
  snapshotMillis: Date.parse(iso),
  status,
});

/** Ten nightly backups, 2026-11-21 (a Saturday) to 2026-11-30 (a Monday), at 02:00 UTC. */
const nightly = Array.from({ length: 10 }, (_, i) =>
  at(`2026-11-${String(21 + i).padStart(2, '0')}T02:00:00.000Z`),
);

const kept = (candidates: readonly RetentionCandidate[], policy: RetentionPolicy): string[] =>
  applyRetention(candidates, policy)
    .filter((d) => d.keep)
    .map((d) => d.id.slice(0, 10))
    .sort();

describe('retention policies', function () {
  it('keep-daily 3 and keep-weekly 2 keep the newest of the last 3 days and of the last 2 ISO weeks', function () {
    // Weeks: 2026-W49 starts on Monday 30 November, 2026-W48 holds 23 to 29 November.
    expect(kept(nightly, { keepDaily: 3, keepWeekly: 2 })).to.deep.equal([
      '2026-11-28',
      '2026-11-29',
      '2026-11-30',
    ]);
    expect(kept(nightly, { keepDaily: 3, keepWeekly: 3 })).to.deep.equal([
      '2026-11-22',
      '2026-11-28',
      '2026-11-29',
      '2026-11-30',
    ]);
    const decisions = applyRetention(nightly, { keepDaily: 3, keepWeekly: 2 });
    expect(decisions[0]!.reasons).to.deep.equal(['newest successful', 'daily 2026-11-30', 'weekly 2026-W49']);
    expect(decisions.find((d) => d.id.startsWith('2026-11-27'))).to.deep.include({
      keep: false,
      reasons: ['no rule keeps it'],
    });
  });

  it('counts buckets in the time zone the policy names', function () {
    // 23:30 UTC on the 30th is already 1 December in Berlin: two backups of one UTC day are two Berlin days.
    const late = [
      at('2026-11-30T23:30:00.000Z'),
      at('2026-11-30T12:00:00.000Z'),
      at('2026-11-29T12:00:00.000Z'),
    ];
    expect(kept(late, { keepDaily: 2 })).to.deep.equal(['2026-11-29', '2026-11-30']);
    expect(kept(late, { keepDaily: 2, timeZone: 'Europe/Berlin' }).length).to.equal(2);
    expect(
      applyRetention(late, { keepDaily: 2, timeZone: 'Europe/Berlin' })
        .filter((d) => d.keep)
        .map((d) => d.snapshotMillis),
    ).to.deep.equal([Date.parse('2026-11-30T23:30:00.000Z'), Date.parse('2026-11-30T12:00:00.000Z')]);
  });

  it('puts the first days of a year in the ISO week of its Thursday', function () {
    // 1 January 2027 is a Friday: it belongs to 2026-W53, with 28 December 2026.
    const turn = [
      at('2027-01-04T00:00:00.000Z'),
      at('2027-01-01T00:00:00.000Z'),
      at('2026-12-28T00:00:00.000Z'),
    ];
    const reasons = applyRetention(turn, { keepWeekly: 3 }).map((d) => d.reasons.join(', '));
    expect(reasons).to.deep.equal([
      'newest successful, weekly 2027-W01',
      'weekly 2026-W53',
      'no rule keeps it',
    ]);
  });

  it('keep-last, keep-monthly, keep-yearly and keep-within', function () {
    expect(kept(nightly, { keepLast: 2 })).to.deep.equal(['2026-11-29', '2026-11-30']);
    const spread = [
      at('2026-11-30T00:00:00.000Z'),
      at('2026-10-15T00:00:00.000Z'),
      at('2026-10-01T00:00:00.000Z'),
      at('2025-06-01T00:00:00.000Z'),
    ];
    expect(kept(spread, { keepMonthly: 2 })).to.deep.equal(['2026-10-15', '2026-11-30']);
    expect(kept(spread, { keepYearly: 5 })).to.deep.equal(['2025-06-01', '2026-11-30']);
    // Within 3 days of the newest backup (30 November 02:00): 27 November 02:00 and later.
    expect(kept(nightly, { keepWithin: '3d' })).to.deep.equal([
      '2026-11-27',
      '2026-11-28',
      '2026-11-29',
      '2026-11-30',
    ]);
    expect(kept(spread, { keepWithin: '1m16d' })).to.deep.equal(['2026-10-15', '2026-11-30']);
  });

  it('always keeps the newest successful, running and held backups; counts no failed one', function () {
    const mixed = [
      at('2026-11-30T02:00:00.000Z', 'running'),
      at('2026-11-29T02:00:00.000Z', 'failed'),
      at('2026-11-28T02:00:00.000Z'),
      at('2026-11-27T02:00:00.000Z'),
      { ...at('2026-11-20T02:00:00.000Z'), holds: ['base of the kept incremental 2026-11-28'] },
    ];
    const decisions = applyRetention(mixed, { keepLast: 1 });
    expect(decisions.map((d) => [d.id.slice(0, 10), d.keep, d.reasons.join(', ')])).to.deep.equal([
      ['2026-11-30', true, 'still running'],
      ['2026-11-29', false, 'a failed backup'],
      ['2026-11-28', true, 'newest successful, last 1'],
      ['2026-11-27', false, 'no rule keeps it'],
      ['2026-11-20', true, 'base of the kept incremental 2026-11-28'],
    ]);
  });

  it('refuses a policy without rules, bad counts, durations and time zones', function () {
    expect(retentionPolicyProblems({})).to.have.length(1);
    expect(() => applyRetention(nightly, { timeZone: 'UTC' })).to.throw(
      RangeError,
      'at least one of keepLast',
    );
    expect(retentionPolicyProblems({ keepDaily: 0 })[0]).to.include('keepDaily must be a whole number');
    expect(retentionPolicyProblems({ keepDaily: 1.5 })[0]).to.include('keepDaily');
    expect(retentionPolicyProblems({ keepWithin: '3 days' })[0]).to.include('keepWithin');
    expect(retentionPolicyProblems({ keepDaily: 1, timeZone: 'Mars/Olympus' })[0]).to.include('timeZone');
    expect(parseRetentionDuration('1y6m')).to.deep.equal({ years: 1, months: 6, days: 0, hours: 0 });
    expect(parseRetentionDuration('36h')).to.deep.equal({ years: 0, months: 0, days: 0, hours: 36 });
    expect(parseRetentionDuration('')).to.equal(undefined);
    expect(parseRetentionDuration('6m1y')).to.equal(undefined);
  });
});
