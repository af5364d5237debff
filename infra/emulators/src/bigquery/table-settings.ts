// Validation of a table's settable properties (partitioning, clustering, labels, view...) against its schema.
import { invalid } from './api-error.js';
import { labelsOf, textOf, type Json } from './resources.js';
import { findField, STANDARD_SQL_NAME, type FieldSchema } from './schema.js';

/** Fields of a Table resource a client may set; everything else is output-only or unknown. */
export const SETTABLE_TABLE_FIELDS = [
  'description',
  'friendlyName',
  'labels',
  'expirationTime',
  'timePartitioning',
  'rangePartitioning',
  'clustering',
  'view',
  'materializedView',
  'externalDataConfiguration',
  'requirePartitionFilter',
  'encryptionConfiguration',
  'defaultCollation',
  'defaultRoundingMode',
  'tableConstraints',
  'resourceTags',
  'maxStaleness',
  'biglakeConfiguration',
] as const;

/** Output-only or structural fields a client may echo back (e.g. a get() result passed to update()). */
const IGNORED_TABLE_FIELDS = new Set([
  'kind',
  'etag',
  'id',
  'selfLink',
  'tableReference',
  'schema',
  'numBytes',
  'numLongTermBytes',
  'numRows',
  'creationTime',
  'lastModifiedTime',
  'type',
  'location',
  'streamingBuffer',
  'snapshotDefinition',
  'cloneDefinition',
  'numTimeTravelPhysicalBytes',
  'numTotalLogicalBytes',
  'numActiveLogicalBytes',
  'numLongTermLogicalBytes',
  'numTotalPhysicalBytes',
  'numActivePhysicalBytes',
  'numLongTermPhysicalBytes',
  'numPartitions',
  'numPhysicalBytes',
  'model',
  'partitionDefinition',
  'tableReplicationInfo',
  'replicas',
]);

/** Picks the settable fields of a table body; unknown fields are rejected as the API does. */
export function settableTableFields(body: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if ((SETTABLE_TABLE_FIELDS as readonly string[]).includes(key)) out[key] = value;
    else if (!IGNORED_TABLE_FIELDS.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}" at 'table': Cannot find field.`);
  }
  return out;
}

const PARTITION_TYPES = ['DAY', 'HOUR', 'MONTH', 'YEAR'];

/** Checks partitioning, clustering and labels against the schema; returns the settings normalized. */
export function checkTableSettings(settings: Json, fields: readonly FieldSchema[]): Json {
  const out: Json = { ...settings };
  for (const key of Object.keys(out)) if (out[key] === null) delete out[key];
  const labels = labelsOf(out);
  if (labels) out['labels'] = labels;
  const time = out['timePartitioning'] as Json | undefined;
  const range = out['rangePartitioning'] as Json | undefined;
  if (time && range) throw invalid('Cannot specify both time partitioning and range partitioning.');
  if (time) {
    const type = typeof time['type'] === 'string' ? time['type'].toUpperCase() : 'DAY';
    if (!PARTITION_TYPES.includes(type))
      throw invalid(
        `Invalid time partitioning type ${String(time['type'])}. Expected one of ${PARTITION_TYPES.join(', ')}.`,
      );
    const normalized: Json = { ...time, type };
    if (typeof time['field'] === 'string') {
      const field = findField(fields, time['field']);
      if (!field)
        throw invalid(`The field specified for partitioning cannot be found in the schema: ${time['field']}`);
      if (!['DATE', 'TIMESTAMP', 'DATETIME'].includes(field.type) || field.mode === 'REPEATED')
        throw invalid(
          `The field specified for time partitioning can only be of type TIMESTAMP, DATE or DATETIME. The type found is: ${STANDARD_SQL_NAME[field.type]}.`,
        );
      if (field.type === 'DATE' && type === 'HOUR')
        throw invalid(`Partitioning by HOUR is not supported for a column of type DATE: ${field.name}.`);
      normalized['field'] = field.name;
    }
    if (time['expirationMs'] !== undefined) normalized['expirationMs'] = textOf(time['expirationMs']);
    out['timePartitioning'] = normalized;
  }
  if (range) {
    const fieldName = range['field'];
    const r = range['range'] as Json | undefined;
    if (typeof fieldName !== 'string' || !r) throw invalid('Range partitioning requires field and range.');
    const field = findField(fields, fieldName);
    if (!field)
      throw invalid(`The field specified for partitioning cannot be found in the schema: ${fieldName}`);
    if (field.type !== 'INTEGER' || field.mode === 'REPEATED')
      throw invalid(
        `The field specified for range partitioning can only be of type INTEGER. The type found is: ${STANDARD_SQL_NAME[field.type]}.`,
      );
    const [start, end, interval] = ['start', 'end', 'interval'].map((k) => {
      const v = textOf(r[k]);
      if (!/^-?\d+$/.test(v)) throw invalid(`Invalid range partitioning ${k}: ${v}`);
      return BigInt(v);
    }) as [bigint, bigint, bigint];
    if (interval <= 0n || end <= start)
      throw invalid('Invalid range partitioning: end must exceed start and interval must be positive.');
    if ((end - start) / interval > 10000n)
      throw invalid('Too many partitions: range partitioning allows at most 10,000 partitions.');
    out['rangePartitioning'] = {
      field: field.name,
      range: { start: String(start), end: String(end), interval: String(interval) },
    };
  }
  const clustering = out['clustering'] as Json | undefined;
  if (clustering) {
    const names = clustering['fields'];
    if (!Array.isArray(names) || names.length === 0) throw invalid('Clustering requires at least one field.');
    if (names.length > 4)
      throw invalid('Too many clustering fields: 5. Maximum allowed clustering fields is 4.');
    out['clustering'] = {
      fields: names.map((name) => {
        const field = findField(fields, String(name));
        if (!field)
          throw invalid(
            `The field specified for clustering cannot be found in the schema. Invalid field: ${String(name)}.`,
          );
        if (field.mode === 'REPEATED' || ['RECORD', 'FLOAT', 'JSON'].includes(field.type))
          throw invalid(
            `Field ${field.name} is of type ${STANDARD_SQL_NAME[field.type]} which is not supported for clustering.`,
          );
        return field.name;
      }),
    };
  }
  if (out['expirationTime'] !== undefined) out['expirationTime'] = textOf(out['expirationTime']);
  return out;
}
