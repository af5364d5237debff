// Restoring DATETIME from Avro: BigQuery exports a DATETIME as an Avro string (logicalType "datetime")
// and will not load that string back into a DATETIME column. The restore therefore loads into a staging
// table where every DATETIME is a STRING, then copies the rows into the real table with a query that
// casts them back. These functions build that staging schema and that query.
import type { FieldSchema } from '@bqbr/shared';

export interface StagingTableRef {
  projectId: string;
  datasetId: string;
  tableId: string;
}

const isRecord = (f: FieldSchema): boolean => f.type === 'RECORD' || f.type === 'STRUCT';
const isDatetime = (f: FieldSchema): boolean => f.type === 'DATETIME';
const isRepeated = (f: FieldSchema): boolean => f.mode === 'REPEATED';

const quote = (name: string): string => `\`${name.replace(/\\/g, '\\\\').replace(/`/g, '\\`')}\``;

/** True when a DATETIME appears anywhere in the schema, inside records and arrays included. */
export function hasDatetime(fields: readonly FieldSchema[]): boolean {
  return fields.some((f) => isDatetime(f) || (isRecord(f) && hasDatetime(f.fields ?? [])));
}

/** The schema the Avro files load into: a deep copy with every DATETIME turned into STRING. */
export function stagingSchema(fields: readonly FieldSchema[]): FieldSchema[] {
  return fields.map((f): FieldSchema => {
    const copy: FieldSchema = { ...f, type: isDatetime(f) ? 'STRING' : f.type };
    if (f.fields !== undefined) copy.fields = stagingSchema(f.fields);
    return copy;
  });
}

/**
 * GoogleSQL that reads the staging table and yields exactly the table's columns, in order, with the
 * DATETIME strings (`2021-03-04T05:06:07.500000`) cast back; run it with the real table as destination.
 */
export function conversionQuery(fields: readonly FieldSchema[], staging: StagingTableRef): string {
  const table = quote(`${staging.projectId}.${staging.datasetId}.${staging.tableId}`);
  const columns = fields.map((f) => `${fieldSql(f, quote(f.name))} AS ${quote(f.name)}`);
  return `SELECT ${columns.join(', ')} FROM ${table}`;
}

/** The converted value of `field`, whose staged value is the expression `ref`. */
function fieldSql(field: FieldSchema, ref: string, depth = 0): string {
  if (!needsConversion(field)) return ref;
  if (!isRepeated(field)) return valueSql(field, ref, depth);
  // Each nesting level gets its own names so an inner UNNEST never shadows an outer one.
  const element = quote(`e${depth}`);
  const offset = quote(`o${depth}`);
  // Array elements are never NULL, so a record element is rebuilt without the IS NULL guard.
  const select = isRecord(field)
    ? `SELECT AS STRUCT ${structFields(field, element, depth + 1)}`
    : `SELECT CAST(${element} AS DATETIME)`;
  return `ARRAY(${select} FROM UNNEST(${ref}) AS ${element} WITH OFFSET AS ${offset} ORDER BY ${offset})`;
}

/** A single value: a cast DATETIME, or a record rebuilt field by field (NULL stays NULL). */
function valueSql(field: FieldSchema, ref: string, depth: number): string {
  if (isDatetime(field)) return `CAST(${ref} AS DATETIME)`;
  const struct = `STRUCT(${structFields(field, ref, depth)})`;
  return field.mode === 'REQUIRED' ? struct : `IF(${ref} IS NULL, NULL, ${struct})`;
}

function structFields(record: FieldSchema, ref: string, depth: number): string {
  return (record.fields ?? [])
    .map((f) => `${fieldSql(f, `${ref}.${quote(f.name)}`, depth)} AS ${quote(f.name)}`)
    .join(', ');
}

const needsConversion = (f: FieldSchema): boolean =>
  isDatetime(f) || (isRecord(f) && hasDatetime(f.fields ?? []));
