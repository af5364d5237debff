// The tables the commands print: rows under a header, each column as wide as its widest cell.

/** Where a table goes: any output that takes lines (the commands' Output is one). */
interface Lines {
  line(text: string): void;
}

/** Prints `header` and `rows`, columns two spaces apart; empty trailing cells are trimmed. */
export function printTable(
  out: Lines,
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
