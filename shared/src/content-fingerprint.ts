// Order-independent content fingerprints of BigQuery tables (docs/contracts.md, "Value verification"):
// one query per table, computed by BigQuery itself, so a backup records its table's fingerprint at the
// snapshot and a restore (or a verify's restore drill) recomputes it on the restored table.
import type { ContentFingerprint } from './contracts/manifests.js';
import type { TableRef } from './contracts/task.js';

const quotePath = (ref: TableRef): string =>
  `\`${`${ref.projectId}.${ref.datasetId}.${ref.tableId}`.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** What a fingerprint is computed over: a table (read at `snapshotMillis` when given) or a subquery's rows. */
export type FingerprintSource =
  { readonly table: TableRef; readonly snapshotMillis?: number } | { readonly subquery: string };

/**
 * GoogleSQL giving `n`, the rows, and `f`, the XOR of FARM_FINGERPRINT over each distinct row's
 * TO_JSON_STRING and its number of copies: independent of row order, and (unlike a XOR over the rows
 * themselves) duplicate rows do not cancel out. TO_JSON_STRING names every column and encodes each type
 * exactly (https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#to_json_string),
 * so a table restored with another column order, type or value fingerprints differently. Pseudo columns
 * (`_PARTITIONTIME`) are not part of a row's JSON.
 */
export function fingerprintQuery(source: FingerprintSource): string {
  const from =
    'table' in source
      ? `${quotePath(source.table)} AS t${
          source.snapshotMillis === undefined
            ? ''
            : ` FOR SYSTEM_TIME AS OF TIMESTAMP_MILLIS(${source.snapshotMillis})`
        }`
      : `(${source.subquery}) AS t`;
  return [
    'SELECT SUM(copies) AS n,',
    "  CAST(BIT_XOR(FARM_FINGERPRINT(CONCAT(row_json, '#', CAST(copies AS STRING)))) AS STRING) AS f",
    'FROM (SELECT TO_JSON_STRING(t) AS row_json, COUNT(*) AS copies',
    `  FROM ${from} GROUP BY row_json)`,
  ].join('\n');
}

/**
 * The fingerprint from the query's one row: `value` is the XOR as 16 hex digits, `0000000000000000` for a
 * table without rows (the XOR of nothing).
 */
export function fingerprintFromRow(row: Readonly<Record<string, unknown>> | undefined): ContentFingerprint {
  const n = row?.['n'];
  const f = row?.['f'];
  const rows = n === null || n === undefined ? 0 : Number(n);
  const xor = typeof f === 'string' || typeof f === 'number' || typeof f === 'bigint' ? BigInt(f) : 0n;
  return { rows, value: BigInt.asUintN(64, xor).toString(16).padStart(16, '0') };
}

/** Both fingerprints for people: `<value> over <rows> rows`. */
export function describeFingerprint(fingerprint: ContentFingerprint): string {
  return `${fingerprint.value} over ${fingerprint.rows} row${fingerprint.rows === 1 ? '' : 's'}`;
}

export const sameFingerprint = (a: ContentFingerprint, b: ContentFingerprint): boolean =>
  a.rows === b.rows && a.value === b.value;
