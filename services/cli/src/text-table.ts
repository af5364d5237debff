// The tables the commands print: rows under a header, each column as wide as its widest cell.
import type { Output } from './commands.js';

/** Prints `header` and `rows`, columns two spaces apart; empty trailing cells are trimmed. */
export function printTable(
  out: Output,
  header: readonly string[],
  rows: readonly (readonly string[])[],
): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  for (const cells of [header, ...rows])
    out.line(
      cells
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    );
}
