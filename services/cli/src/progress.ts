// The progress line of `bqbr status --watch` (tables, or a prune's backups, done/failed/total, bytes, elapsed)
// and the words each kind's figures read in.
import type { OperationView } from './api-client.js';

const BAR_WIDTH = 24;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}

export function formatElapsed(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

/** One line: `RUNNING [██████░░░░] 12/40 tables · 1 failed · 2 skipped · 1.2 GB · 00:42`. */
export function progressLine(view: OperationView, now: number): string {
  const { operation, tasks, totals } = view;
  const words = wordsOf(operation.kind);
  const done = tasks.SUCCEEDED + tasks.FAILED + tasks.SKIPPED;
  const total = operation.fanOutComplete ? operation.taskTotal : Math.max(operation.taskTotal, tasks.total);
  const ratio = total === 0 ? (isFinal(operation.status) ? 1 : 0) : Math.min(1, done / total);
  const filled = Math.round(ratio * BAR_WIDTH);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(BAR_WIDTH - filled)}`;
  const started = Date.parse(operation.startedAt ?? operation.createdAt);
  const ended = operation.finishedAt ? Date.parse(operation.finishedAt) : now;
  const parts = [
    `${done}/${total}${operation.fanOutComplete ? '' : '+'} ${words.unit}`,
    ...(tasks.FAILED > 0 ? [`${tasks.FAILED} failed`] : []),
    ...(tasks.SKIPPED > 0 ? [`${tasks.SKIPPED} ${words.skipped}`] : []),
    formatBytes(totals.bytes),
    formatElapsed(ended - started),
  ];
  return `${operation.status.padEnd(16)} [${bar}] ${parts.join(' · ')}`;
}

export const isFinal = (status: string): boolean =>
  status === 'SUCCEEDED' || status === 'PARTIALLY_FAILED' || status === 'FAILED';

/** How an operation's tasks and figures read for each kind: a prune's tasks are backups it deletes or keeps. */
export function wordsOf(kind: string): {
  unit: string;
  succeeded: string;
  skipped: string;
  data: (totals: OperationView['totals']) => string;
} {
  const files = (totals: OperationView['totals']): string =>
    `${totals.files} files, ${formatBytes(totals.bytes)}`;
  switch (kind) {
    case 'prune':
      return { unit: 'backups', succeeded: 'deleted', skipped: 'kept', data: (t) => `deleted   ${files(t)}` };
    case 'verify':
      return {
        unit: 'tables',
        succeeded: 'passed',
        skipped: 'skipped',
        data: (t) => `read      ${files(t)}`,
      };
    default:
      return {
        unit: 'tables',
        succeeded: 'succeeded',
        skipped: 'skipped',
        data: (t) => `data      ${t.rows} rows, ${formatBytes(t.bytes)} in ${t.files} files`,
      };
  }
}
