// Which tables a backup selects: `*` wildcards in table names (`daily_*`) and exclusions, per dataset
// selection and request-wide (`dataset.table` or a bare table pattern meaning any dataset).

const patternCache = new Map<string, RegExp>();

/** `*` matches any run of characters (also none); everything else matches itself, case-sensitively as BigQuery names do. */
export function matchesPattern(pattern: string, name: string): boolean {
  let regex = patternCache.get(pattern);
  if (!regex) {
    const source = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    regex = new RegExp(`^${source}$`, 'su');
    patternCache.set(pattern, regex);
  }
  return regex.test(name);
}

/** A request-wide exclusion: `dataset.table` (wildcards in either part) or `table` (any dataset). */
export function matchesQualifiedPattern(pattern: string, datasetId: string, tableId: string): boolean {
  const dot = pattern.indexOf('.');
  if (dot < 0) return matchesPattern(pattern, tableId);
  return matchesPattern(pattern.slice(0, dot), datasetId) && matchesPattern(pattern.slice(dot + 1), tableId);
}

export interface SelectionRule {
  /** Exact table names; a name that does not exist becomes a failed task. */
  readonly tables?: readonly string[];
  readonly tableFilter?: string;
  readonly excludeTables?: readonly string[];
}

/** Whether a listed table is in a dataset selection: named, or matching the filter; all tables when neither is given. */
export function isSelected(rule: SelectionRule, tableId: string): boolean {
  const names = rule.tables ?? [];
  if (names.length === 0 && rule.tableFilter === undefined) return true;
  return (
    names.includes(tableId) || (rule.tableFilter !== undefined && matchesPattern(rule.tableFilter, tableId))
  );
}

/** Whether a table is left out, by its selection's `excludeTables` or the request-wide ones. */
export function isExcluded(
  selectionExcludes: readonly string[],
  requestExcludes: readonly string[],
  datasetId: string,
  tableId: string,
): boolean {
  return (
    selectionExcludes.some((pattern) => matchesPattern(pattern, tableId)) ||
    requestExcludes.some((pattern) => matchesQualifiedPattern(pattern, datasetId, tableId))
  );
}
