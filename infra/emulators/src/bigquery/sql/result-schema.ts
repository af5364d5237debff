// DuckDB result types → BigQuery result schema, and the SQL that converts each result column to the
// stored type of that schema (BIGINT for INTEGER, DECIMAL(38,9) for NUMERIC...).
import { DuckDBTypeId, type DuckDBType } from '@duckdb/node-api';
import { invalidQuery } from '../api-error.js';
import { duckScalarType, duckType, quoteIdent, type FieldSchema, type FieldType } from '../schema.js';

function scalarFieldType(type: DuckDBType): FieldType {
  switch (type.typeId) {
    case DuckDBTypeId.BOOLEAN:
      return 'BOOLEAN';
    case DuckDBTypeId.TINYINT:
    case DuckDBTypeId.SMALLINT:
    case DuckDBTypeId.INTEGER:
    case DuckDBTypeId.BIGINT:
    case DuckDBTypeId.UTINYINT:
    case DuckDBTypeId.USMALLINT:
    case DuckDBTypeId.UINTEGER:
    case DuckDBTypeId.UBIGINT:
    case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.INTEGER_LITERAL:
    case DuckDBTypeId.SQLNULL: // an untyped NULL is INT64 in GoogleSQL
      return 'INTEGER';
    case DuckDBTypeId.FLOAT:
    case DuckDBTypeId.DOUBLE:
      return 'FLOAT';
    case DuckDBTypeId.DECIMAL:
      return 'NUMERIC';
    case DuckDBTypeId.BLOB:
      return 'BYTES';
    case DuckDBTypeId.DATE:
      return 'DATE';
    case DuckDBTypeId.TIME:
    case DuckDBTypeId.TIME_NS:
    case DuckDBTypeId.TIME_TZ:
      return 'TIME';
    case DuckDBTypeId.TIMESTAMP:
    case DuckDBTypeId.TIMESTAMP_S:
    case DuckDBTypeId.TIMESTAMP_MS:
    case DuckDBTypeId.TIMESTAMP_NS:
      return 'DATETIME';
    case DuckDBTypeId.TIMESTAMP_TZ:
      return 'TIMESTAMP';
    case DuckDBTypeId.VARCHAR:
      return type.alias === 'JSON' ? 'JSON' : 'STRING';
    default:
      // UUID, ENUM, INTERVAL, MAP, UNION, BIT...: their text.
      return 'STRING';
  }
}

/** The BigQuery field for a DuckDB result column of type `type`. */
export function fieldOf(name: string, type: DuckDBType): FieldSchema {
  if (type.typeId === DuckDBTypeId.LIST || type.typeId === DuckDBTypeId.ARRAY) {
    const element = fieldOf(name, type.valueType);
    if (element.mode === 'REPEATED')
      throw invalidQuery(
        `Cannot return an array of arrays (column ${name}); wrap the inner array in a STRUCT.`,
      );
    return { ...element, mode: 'REPEATED' };
  }
  if (type.typeId === DuckDBTypeId.STRUCT) {
    const seen = new Set<string>();
    const fields = type.entryNames.map((entry, k) => {
      const fieldName = entry === '' ? `_field_${k + 1}` : entry;
      if (seen.has(fieldName.toLowerCase()))
        throw invalidQuery(`Duplicate field name ${fieldName} in STRUCT column ${name}`);
      seen.add(fieldName.toLowerCase());
      return fieldOf(fieldName, type.entryTypes[k] as DuckDBType);
    });
    return { name, type: 'RECORD', mode: 'NULLABLE', fields };
  }
  return { name, type: scalarFieldType(type), mode: 'NULLABLE' };
}

/** True when values of DuckDB `type` are already in `field`'s stored type. */
function storedAlready(type: DuckDBType, field: FieldSchema): boolean {
  if (field.mode === 'REPEATED') {
    return type.typeId === DuckDBTypeId.LIST && storedAlready(type.valueType, { ...field, mode: 'NULLABLE' });
  }
  switch (field.type) {
    case 'RECORD':
      return (
        type.typeId === DuckDBTypeId.STRUCT &&
        type.entryNames.length === (field.fields ?? []).length &&
        (field.fields ?? []).every(
          (f, k) => type.entryNames[k] === f.name && storedAlready(type.entryTypes[k] as DuckDBType, f),
        )
      );
    case 'INTEGER':
      return type.typeId === DuckDBTypeId.BIGINT;
    case 'FLOAT':
      return type.typeId === DuckDBTypeId.DOUBLE;
    case 'NUMERIC':
      return type.typeId === DuckDBTypeId.DECIMAL && type.width === 38 && type.scale === 9;
    case 'STRING':
      return type.typeId === DuckDBTypeId.VARCHAR && type.alias !== 'JSON';
    case 'JSON':
      return type.typeId === DuckDBTypeId.VARCHAR && type.alias === 'JSON';
    case 'BYTES':
      return type.typeId === DuckDBTypeId.BLOB;
    case 'BOOLEAN':
      return type.typeId === DuckDBTypeId.BOOLEAN;
    case 'DATE':
      return type.typeId === DuckDBTypeId.DATE;
    case 'TIME':
      return type.typeId === DuckDBTypeId.TIME;
    case 'DATETIME':
      return type.typeId === DuckDBTypeId.TIMESTAMP;
    case 'TIMESTAMP':
      return type.typeId === DuckDBTypeId.TIMESTAMP_TZ;
    default:
      return false;
  }
}

/** `expr` (of DuckDB `type`) converted to the stored type of `field`; NULL arrays become empty, as BigQuery returns them. */
export function storedValueSql(type: DuckDBType, field: FieldSchema, expr: string, depth = 0): string {
  if (field.mode === 'REPEATED') {
    const empty = `CAST([] AS ${duckType(field)})`;
    if (storedAlready(type, field)) return `coalesce(${expr}, ${empty})`;
    if (type.typeId !== DuckDBTypeId.LIST && type.typeId !== DuckDBTypeId.ARRAY)
      return `CAST(${expr} AS ${duckType(field)})`;
    const x = `__s${depth}`;
    const element = storedValueSql(type.valueType, { ...field, mode: 'NULLABLE' }, x, depth + 1);
    return `coalesce(list_transform(${expr}, lambda ${x}: ${element}), ${empty})`;
  }
  if (storedAlready(type, field)) return expr;
  if (field.type === 'RECORD' && type.typeId === DuckDBTypeId.STRUCT) {
    const parts = (field.fields ?? []).map(
      (f, k) =>
        `${quoteIdent(f.name)} := ${storedValueSql(type.entryTypes[k] as DuckDBType, f, `struct_extract_at(${expr}, ${k + 1})`, depth + 1)}`,
    );
    return `CASE WHEN ${expr} IS NULL THEN NULL ELSE struct_pack(${parts.join(', ')}) END`;
  }
  return `CAST(${expr} AS ${duckScalarType(field)})`;
}
