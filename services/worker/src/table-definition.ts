// A table recreated from its `_table.json`: the settings a new table (or a load that creates it) takes,
// its descriptive properties, the tables.insert body, and what is set once the rows are in
// (docs/contracts.md, "Table settings").
import type { TableManifest, TableRef } from '@bqbr/shared';

/** Partitioning and clustering. */
export function tableSettings(manifest: TableManifest): Record<string, unknown> {
  return {
    ...(manifest.timePartitioning ? { timePartitioning: manifest.timePartitioning } : {}),
    ...(manifest.rangePartitioning ? { rangePartitioning: manifest.rangePartitioning } : {}),
    ...(manifest.clustering ? { clustering: manifest.clustering } : {}),
  };
}

/** Description, friendly name and labels. */
export function tableProperties(manifest: TableManifest): Record<string, unknown> {
  return {
    ...(manifest.description !== undefined ? { description: manifest.description } : {}),
    ...(manifest.friendlyName !== undefined ? { friendlyName: manifest.friendlyName } : {}),
    ...(manifest.labels !== undefined ? { labels: manifest.labels } : {}),
  };
}

/** The restored table's CMEK configuration: the backed-up key, or the one `kmsKeyMapping` maps it to. */
export function encryptionOf(
  manifest: TableManifest,
  kmsKeyMapping: Readonly<Record<string, string>> = {},
): Record<string, unknown> | undefined {
  const config = manifest.encryptionConfiguration;
  const key = config?.['kmsKeyName'];
  if (config === undefined || typeof key !== 'string') return config;
  return { ...config, kmsKeyName: kmsKeyMapping[key] ?? key };
}

/**
 * tables.insert body of a table recreated from its manifest. requirePartitionFilter is not in it: it would
 * refuse the checks' queries, and is set once the rows are in (settingsAfterLoad).
 */
export function newTableBody(
  manifest: TableManifest,
  kmsKeyMapping?: Readonly<Record<string, string>>,
): Record<string, unknown> {
  const encryption = encryptionOf(manifest, kmsKeyMapping);
  return {
    schema: { fields: manifest.schema.fields },
    ...tableSettings(manifest),
    ...tableProperties(manifest),
    ...(encryption !== undefined ? { encryptionConfiguration: encryption } : {}),
    ...(manifest.defaultCollation !== undefined ? { defaultCollation: manifest.defaultCollation } : {}),
    ...(manifest.defaultRoundingMode !== undefined
      ? { defaultRoundingMode: manifest.defaultRoundingMode }
      : {}),
  };
}

/**
 * What a load cannot set, patched once the rows are in: requirePartitionFilter (which would refuse the
 * checks' queries), an expiration still ahead (one already past is left out, and said), table
 * constraints (a foreign key names a table of the same dataset, which BigQuery requires:
 * https://cloud.google.com/bigquery/docs/information-schema-table-constraints, so it names the restored
 * one), collation and rounding defaults. The notes say what was left out or changed.
 */
export function settingsAfterLoad(
  manifest: TableManifest,
  target: TableRef,
  nowMillis: number,
): { readonly patch: Record<string, unknown>; readonly notes: string[] } {
  const patch: Record<string, unknown> = {};
  const notes: string[] = [];
  if (manifest.requirePartitionFilter === true) patch['requirePartitionFilter'] = true;
  if (manifest.expirationTime !== undefined) {
    const expires = Number(manifest.expirationTime);
    if (expires > nowMillis) patch['expirationTime'] = manifest.expirationTime;
    else
      notes.push(
        `restored without its expiration: it expired at ${new Date(expires).toISOString()}, before the restore`,
      );
  }
  if (manifest.tableConstraints !== undefined)
    patch['tableConstraints'] = restoredConstraints(manifest.tableConstraints, target);
  if (manifest.defaultCollation !== undefined) patch['defaultCollation'] = manifest.defaultCollation;
  if (manifest.defaultRoundingMode !== undefined) patch['defaultRoundingMode'] = manifest.defaultRoundingMode;
  const base = (manifest.snapshotDefinition ?? manifest.cloneDefinition)?.['baseTableReference'] as
    Record<string, unknown> | undefined;
  if (base !== undefined)
    notes.push(
      `a table ${manifest.snapshotDefinition !== undefined ? 'snapshot' : 'clone'} of ${String(base['projectId'])}:${String(base['datasetId'])}.${String(base['tableId'])}: restored as a standard table`,
    );
  return { patch, notes };
}

function restoredConstraints(
  constraints: Record<string, unknown>,
  target: TableRef,
): Record<string, unknown> {
  const foreignKeys = constraints['foreignKeys'];
  if (!Array.isArray(foreignKeys)) return constraints;
  return {
    ...constraints,
    foreignKeys: (foreignKeys as Record<string, unknown>[]).map((key) => {
      const referenced = key['referencedTable'] as Record<string, unknown> | undefined;
      return referenced === undefined
        ? key
        : {
            ...key,
            referencedTable: { ...referenced, projectId: target.projectId, datasetId: target.datasetId },
          };
    }),
  };
}
