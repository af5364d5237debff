// Whether a job found under a task's deterministic id (a 409 on insert) is the job that task would have
// started: the same source and destination. Only then is it adopted as a redelivery's; anything else (an id
// clash, a job made by hand) would pass another job's result off as this task's (docs/architecture.md,
// "Idempotency").

type Json = Readonly<Record<string, unknown>>;

const asJson = (value: unknown): Json => (typeof value === 'object' && value !== null ? (value as Json) : {});

/** A configuration value as text: strings as they are, anything else as JSON. */
const text = (value: unknown): string =>
  typeof value === 'string' ? value : (JSON.stringify(value) ?? 'none');

/** `project:dataset.table` of a table reference (the table id with any decorator it has). */
function tableName(value: unknown): string | undefined {
  const ref = asJson(value);
  if (ref['tableId'] === undefined) return undefined;
  return `${text(ref['projectId'])}:${text(ref['datasetId'])}.${text(ref['tableId'])}`;
}

const strings = (value: unknown): string[] | undefined =>
  Array.isArray(value) ? (value as unknown[]).map((item) => text(item)) : undefined;

/** What identifies a job's work, per kind; BigQuery's defaults filled in where it fills them in. */
function essentials(configuration: unknown): Json {
  const config = asJson(configuration);
  if (config['extract'] !== undefined) {
    const extract = asJson(config['extract']);
    const single = extract['destinationUri'];
    return {
      kind: 'extract',
      sourceTable: tableName(extract['sourceTable']),
      destinationUris: strings(extract['destinationUris']) ?? (single === undefined ? [] : [text(single)]),
      // https://cloud.google.com/bigquery/docs/reference/rest/v2/Job#JobConfigurationExtract: CSV by default.
      destinationFormat: extract['destinationFormat'] ?? 'CSV',
    };
  }
  if (config['load'] !== undefined) {
    const load = asJson(config['load']);
    return {
      kind: 'load',
      destinationTable: tableName(load['destinationTable']),
      sourceUris: strings(load['sourceUris']) ?? [],
    };
  }
  if (config['query'] !== undefined) {
    const query = asJson(config['query']);
    return { kind: 'query', destinationTable: tableName(query['destinationTable']), query: query['query'] };
  }
  return { kind: Object.keys(config).find((key) => key !== 'jobType' && key !== 'labels') };
}

/** Shown in a failure: long lists of URIs are cut to their first few. */
function shown(value: unknown): string {
  const list = Array.isArray(value) ? (value as unknown[]) : undefined;
  return JSON.stringify(list !== undefined && list.length > 3 ? [...list.slice(0, 3), '…'] : value) ?? 'none';
}

/**
 * Undefined when `found` (the configuration BigQuery returns for the existing job) does the work of
 * `expected` (the configuration this task inserts); else the first difference, e.g.
 * `sourceTable is "p:d.other@1" (this task's: "p:d.orders@1")`.
 */
export function jobMismatch(expected: object, found: unknown): string | undefined {
  const ours = essentials(expected);
  const theirs = essentials(found);
  for (const [field, value] of Object.entries(ours)) {
    if (JSON.stringify(theirs[field]) === JSON.stringify(value)) continue;
    return field === 'kind'
      ? `it is a ${text(theirs[field] ?? 'unknown')} job (this task's is ${text(value)})`
      : `its ${field} is ${shown(theirs[field])} (this task's: ${shown(value)})`;
  }
  return undefined;
}
