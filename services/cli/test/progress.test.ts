import { expect } from 'chai';
import type { OperationView } from '../src/api-client.js';
import { formatBytes, formatElapsed, progressLine } from '../src/progress.js';

const view = (
  overrides: Partial<OperationView['operation']>,
  tasks: Partial<OperationView['tasks']> = {},
): OperationView => ({
  operation: {
    operationId: 'op-1',
    kind: 'backup',
    status: 'RUNNING',
    projectId: 'p',
    taskTotal: 40,
    fanOutComplete: true,
    createdAt: '2026-11-24T10:00:00.000Z',
    startedAt: '2026-11-24T10:00:00.000Z',
    ...overrides,
  },
  tasks: { PENDING: 20, RUNNING: 8, SUCCEEDED: 9, FAILED: 1, SKIPPED: 2, total: 40, ...tasks },
  totals: { rows: 1000, bytes: 1_234_000_000, files: 12 },
});

describe('bqbr status --watch progress line', function () {
  it('shows tables done of total, failures, skips, bytes and elapsed time', function () {
    const line = progressLine(view({}), Date.parse('2026-11-24T10:00:42.000Z'));
    expect(line).to.equal(
      'RUNNING          [███████░░░░░░░░░░░░░░░░░] 12/40 tables · 1 failed · 2 skipped · 1.23 GB · 00:42',
    );
  });

  it('marks the total as growing while the fan-out is still publishing', function () {
    const line = progressLine(
      view({ fanOutComplete: false, taskTotal: 1000 }),
      Date.parse('2026-11-24T10:00:05.000Z'),
    );
    expect(line).to.contain('12/1000+ tables');
  });

  it('is full and stops the clock once the operation finished', function () {
    const line = progressLine(
      view(
        { status: 'SUCCEEDED', finishedAt: '2026-11-24T11:02:03.000Z' },
        { PENDING: 0, RUNNING: 0, SUCCEEDED: 38, FAILED: 0, SKIPPED: 2 },
      ),
      Date.parse('2026-11-24T12:00:00.000Z'),
    );
    expect(line).to.contain('[████████████████████████] 40/40 tables · 2 skipped');
    expect(line).to.match(/1:02:03$/);
  });

  it('formats sizes and durations for people', function () {
    expect([
      formatBytes(0),
      formatBytes(999),
      formatBytes(1500),
      formatBytes(12_500_000),
      formatBytes(2e15),
    ]).to.deep.equal(['0 B', '999 B', '1.50 KB', '12.5 MB', '2.00 PB']);
    expect([formatElapsed(0), formatElapsed(61_000), formatElapsed(3_600_000)]).to.deep.equal([
      '00:00',
      '01:01',
      '1:00:00',
    ]);
  });
});
