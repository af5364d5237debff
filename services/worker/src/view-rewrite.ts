// A restored view must read the restored tables: references to the backed-up project's datasets that
// this restore recreates are rewritten to their targets; every other reference is left as it was.

export interface ViewRewrite {
  readonly sourceProject: string;
  readonly targetProject: string;
  /** Source dataset → restored dataset. */
  readonly datasetMap: Readonly<Record<string, string>>;
}

/** `[project.]dataset.table` parts → rewritten parts, or undefined when the reference is not restored here. */
function rewriteParts(parts: readonly string[], rewrite: ViewRewrite): string[] | undefined {
  if (parts.length === 3) {
    const [project, dataset, table] = parts as [string, string, string];
    const target = rewrite.datasetMap[dataset];
    if (project !== rewrite.sourceProject || target === undefined) return undefined;
    return [rewrite.targetProject, target, table];
  }
  if (parts.length === 2) {
    const [dataset, table] = parts as [string, string];
    const target = rewrite.datasetMap[dataset];
    return target === undefined ? undefined : [target, table];
  }
  return undefined;
}

const IDENT = '[A-Za-z_][A-Za-z0-9_]*';
const PROJECT = '[A-Za-z][A-Za-z0-9-]*';

/**
 * Rewrites GoogleSQL table references: backquoted paths anywhere (`` `p.d.t` ``, `` `d.t` ``,
 * `` `p`.`d`.`t` ``), unquoted `p.d.t`, and unquoted `d.t` after FROM or JOIN (elsewhere `a.b` may be
 * an alias and its column); legacy SQL `[p:d.t]` too.
 */
export function rewriteViewQuery(query: string, rewrite: ViewRewrite): string {
  let out = query;
  // `p`.`d`.`t` and `d`.`t`: parts quoted one by one.
  out = out.replace(/`([^`.]+)`\.`([^`.]+)`(?:\.`([^`.]+)`)?/g, (whole, a: string, b: string, c?: string) => {
    const parts = c === undefined ? [a, b] : [a, b, c];
    const next = rewriteParts(parts, rewrite);
    return next === undefined ? whole : next.map((p) => `\`${p}\``).join('.');
  });
  // `p.d.t` and `d.t`: one quoted path.
  out = out.replace(/`([^`]+)`/g, (whole, path: string) => {
    const next = rewriteParts(path.split('.'), rewrite);
    return next === undefined ? whole : `\`${next.join('.')}\``;
  });
  // Unquoted p.d.t (a project id with dashes must be quoted in GoogleSQL; simple ones need not be).
  out = out.replace(
    new RegExp(`(?<![\\w.\`])(${PROJECT})\\.(${IDENT})\\.(${IDENT})(?![\\w\`])`, 'g'),
    (whole, p: string, d: string, t: string) => rewriteParts([p, d, t], rewrite)?.join('.') ?? whole,
  );
  // Unquoted d.t right after FROM / JOIN.
  out = out.replace(
    new RegExp(`(\\b(?:FROM|JOIN)\\s+)(${IDENT})\\.(${IDENT})(?![\\w.\`])`, 'gi'),
    (whole, lead: string, d: string, t: string) => {
      const next = rewriteParts([d, t], rewrite);
      return next === undefined ? whole : `${lead}${next.join('.')}`;
    },
  );
  // Legacy SQL: [p:d.t] and [d.t].
  out = out.replace(/\[([^\]:.]+):([^\].]+)\.([^\].]+)\]/g, (whole, p: string, d: string, t: string) => {
    const next = rewriteParts([p, d, t], rewrite);
    return next === undefined ? whole : `[${next[0]}:${next[1]}.${next[2]}]`;
  });
  return out;
}
