// TO_JSON_STRING for values whose BigQuery schema is known (table rows and columns), in BigQuery's
// JSON encodings: INT64/NUMERIC as numbers, NaN/Infinity quoted, BYTES base64, TIMESTAMP
// "YYYY-MM-DDTHH:MM:SS[.ffffff]Z", DATETIME without the Z, NULL as null, fields in schema order.
// https://cloud.google.com/bigquery/docs/reference/standard-sql/json_functions#json_encodings
import { isRepeated, quoteString, type FieldSchema } from '../schema.js';
import { structField } from '../value-sql.js';

const quoted = (text: string): string => `'"' || ${text} || '"'`;
const withMicros = (formatted: string): string => `regexp_replace(${formatted}, '\\.000000$', '')`;
const trimDecimal = (text: string): string =>
  `CASE WHEN ${text} LIKE '%.%' THEN regexp_replace(${text}, '\\.?0+$', '') ELSE ${text} END`;

function scalarJson(field: FieldSchema, e: string): string {
  switch (field.type) {
    case 'INTEGER':
      return `CAST(${e} AS VARCHAR)`;
    case 'FLOAT':
      return `CASE WHEN isnan(${e}) THEN '"NaN"' WHEN ${e} = 'Infinity'::DOUBLE THEN '"Infinity"' WHEN ${e} = '-Infinity'::DOUBLE THEN '"-Infinity"' ELSE regexp_replace(CAST(${e} AS VARCHAR), '\\.0$', '') END`;
    case 'NUMERIC':
      return trimDecimal(`CAST(${e} AS VARCHAR)`);
    case 'BIGNUMERIC':
      return `CAST(${e} AS VARCHAR)`;
    case 'BOOLEAN':
      return `CASE WHEN ${e} THEN 'true' ELSE 'false' END`;
    case 'BYTES':
      return quoted(`to_base64(${e})`);
    case 'DATE':
      return quoted(`CAST(${e} AS VARCHAR)`);
    case 'TIME':
      return quoted(withMicros(`strftime(DATE '1970-01-01' + ${e}, '%H:%M:%S.%f')`));
    case 'DATETIME':
      return quoted(withMicros(`strftime(${e}, '%Y-%m-%dT%H:%M:%S.%f')`));
    case 'TIMESTAMP':
      return `'"' || ${withMicros(`strftime(${e}, '%Y-%m-%dT%H:%M:%S.%f')`)} || 'Z"'`;
    case 'JSON':
      return `CAST(json(${e}) AS VARCHAR)`;
    default:
      return `CAST(to_json(CAST(${e} AS VARCHAR)) AS VARCHAR)`;
  }
}

/** JSON text of `expr`, a value of `field` (REPEATED as arrays); 'null' for NULL. */
export function jsonValueSql(field: FieldSchema, expr: string, depth = 0): string {
  if (isRepeated(field)) {
    const x = `__j${depth}`;
    const element = jsonValueSql({ ...field, mode: 'NULLABLE' }, x, depth + 1);
    return `coalesce('[' || array_to_string(list_transform(${expr}, lambda ${x}: ${element}), ',') || ']', 'null')`;
  }
  if (field.type === 'RECORD')
    return jsonObjectSql(field.fields ?? [], (name) => structField(expr, name), depth + 1, expr);
  return `coalesce(${scalarJson(field, expr)}, 'null')`;
}

/** A JSON object of `fields`, each read by `read(name)`; `whole` (when given) NULL gives 'null'. */
export function jsonObjectSql(
  fields: readonly FieldSchema[],
  read: (name: string) => string,
  depth = 0,
  whole?: string,
): string {
  const members = fields.map(
    (f) => `${quoteString(`${JSON.stringify(f.name)}:`)} || ${jsonValueSql(f, read(f.name), depth)}`,
  );
  const body = members.length === 0 ? `'{}'` : `'{' || ${members.join(` || ',' || `)} || '}'`;
  return whole === undefined ? body : `CASE WHEN ${whole} IS NULL THEN 'null' ELSE ${body} END`;
}
