import { expect } from 'chai';
import {
  backupFolderName,
  isTimeZone,
  parseBackupFolderName,
  parseLocalDateTime,
  snapshotInstant,
} from '../src/index.js';

const now = new Date('2026-11-21T08:00:00.000Z');
const instant = (localDateTime: string, timezone?: string): string =>
  snapshotInstant({ localDateTime, ...(timezone && { timezone }) }, now).toISOString();

describe('snapshot time', () => {
  it("turns the example's 2026-11-20T23:30:00 Europe/Berlin into folder 20261120_223000", () => {
    const at = snapshotInstant({ localDateTime: '2026-11-20T23:30:00', timezone: 'Europe/Berlin' }, now);
    expect(at.toISOString()).to.equal('2026-11-20T22:30:00.000Z');
    expect(backupFolderName(at)).to.equal('20261120_223000');
  });

  it('is now without a backupTime or without its localDateTime', () => {
    expect(snapshotInstant(undefined, now)).to.equal(now);
    expect(snapshotInstant({ timezone: 'Europe/Berlin' }, now)).to.equal(now);
  });

  it('reads a local date-time without a timezone as UTC', () => {
    expect(instant('2026-06-01T12:00:00')).to.equal('2026-06-01T12:00:00.000Z');
  });

  it('applies summer and winter offsets', () => {
    expect(instant('2026-07-01T12:00:00', 'Europe/Berlin')).to.equal('2026-07-01T10:00:00.000Z');
    expect(instant('2026-01-15T12:00:00', 'America/Los_Angeles')).to.equal('2026-01-15T20:00:00.000Z');
    expect(instant('2026-01-15T12:00:00', 'Asia/Kolkata')).to.equal('2026-01-15T06:30:00.000Z');
  });

  it('moves a time in the spring-forward gap forward by the gap (Berlin 2026-03-29 02:30 → 03:30 CEST)', () => {
    expect(instant('2026-03-29T02:30:00', 'Europe/Berlin')).to.equal('2026-03-29T01:30:00.000Z');
    expect(instant('2026-03-08T02:30:00', 'America/New_York')).to.equal('2026-03-08T07:30:00.000Z');
  });

  it('picks the earlier instant in the fall-back overlap (Berlin 2026-10-25 02:30 is 02:30 CEST)', () => {
    expect(instant('2026-10-25T02:30:00', 'Europe/Berlin')).to.equal('2026-10-25T00:30:00.000Z');
    expect(instant('2026-10-25T01:59:59', 'Europe/Berlin')).to.equal('2026-10-24T23:59:59.000Z');
    expect(instant('2026-10-25T03:00:00', 'Europe/Berlin')).to.equal('2026-10-25T02:00:00.000Z');
  });

  it('accepts fixed offsets as java.time does', () => {
    expect(instant('2026-01-01T00:00:00', '+05:30')).to.equal('2025-12-31T18:30:00.000Z');
    expect(instant('2026-01-01T00:00:00', 'UTC-03:00')).to.equal('2026-01-01T03:00:00.000Z');
    expect(instant('2026-01-01T00:00:00', 'Z')).to.equal('2026-01-01T00:00:00.000Z');
  });

  it('keeps milliseconds and drops finer digits', () => {
    expect(instant('2026-01-01T00:00:00.123456789', 'UTC')).to.equal('2026-01-01T00:00:00.123Z');
  });

  it('names folders in UTC with zero padding', () => {
    expect(backupFolderName(new Date('2026-01-02T03:04:05.999Z'))).to.equal('20260102_030405');
  });

  it("names bqbr's own folders by the second and the operation, and reads every name back", () => {
    const at = new Date('2026-11-20T22:30:00.250Z');
    // sha256('op-1') begins 71a0ef7195df.
    expect(backupFolderName(at, 'op-1')).to.equal('20261120_223000_71a0ef7195df');
    expect(backupFolderName(new Date('2026-11-20T22:30:00.900Z'), 'op-2')).to.equal(
      '20261120_223000_e85fddc91eb0',
    );
    expect(parseBackupFolderName('20261120_223000_71a0ef7195df')).to.deep.equal({
      timestamp: '20261120_223000',
      snapshotMillis: Date.UTC(2026, 10, 20, 22, 30, 0),
      suffix: '71a0ef7195df',
    });
    expect(parseBackupFolderName('20261120_223000')).to.deep.equal({
      timestamp: '20261120_223000',
      snapshotMillis: Date.UTC(2026, 10, 20, 22, 30, 0),
    });
    for (const bad of ['20260431_000000', '20261120_223000_71A0EF7195DF', '20261120_223000_71a0', 'latest'])
      expect(parseBackupFolderName(bad), bad).to.equal(undefined);
  });

  it('parses what ISO_LOCAL_DATE_TIME accepts and nothing else', () => {
    expect(parseLocalDateTime('2024-02-29T23:59')).to.deep.equal({
      year: 2024,
      month: 2,
      day: 29,
      hour: 23,
      minute: 59,
      second: 0,
      millisecond: 0,
    });
    for (const bad of [
      '2026-02-29T00:00',
      '2026-13-01T00:00',
      '2026-01-01T24:00',
      '2026-01-01',
      '2026-01-01T00:00Z',
      '2026-01-01 00:00',
    ]) {
      expect(parseLocalDateTime(bad), bad).to.equal(undefined);
    }
  });

  it('knows time zones', () => {
    expect(isTimeZone('Europe/Berlin')).to.equal(true);
    expect(isTimeZone('UTC')).to.equal(true);
    expect(isTimeZone('+01:00')).to.equal(true);
    expect(isTimeZone('Mars/Olympus_Mons')).to.equal(false);
  });
});
