// A table recreated from its `_table.json`: the settings a new table (or a load that creates it) takes,
// its descriptive properties, and the tables.insert body.
import type { TableManifest } from '@bqbr/shared';

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

/** tables.insert body of a table recreated from its manifest. */
export function newTableBody(manifest: TableManifest): Record<string, unknown> {
  return {
    schema: { fields: manifest.schema.fields },
    ...tableSettings(manifest),
    ...tableProperties(manifest),
    ...(manifest.requirePartitionFilter === true ? { requirePartitionFilter: true } : {}),
  };
}
