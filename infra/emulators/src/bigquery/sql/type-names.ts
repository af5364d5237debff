// GoogleSQL type names (as written in CAST, typed literals and query parameters) → DuckDB types.

/** DuckDB type of a GoogleSQL scalar type name; undefined when the name is not a type. */
export function duckScalarTypeOf(name: string): string | undefined {
  switch (name.toUpperCase()) {
    case 'INT64':
    case 'INTEGER':
    case 'INT':
    case 'SMALLINT':
    case 'BIGINT':
    case 'TINYINT':
    case 'BYTEINT':
      return 'BIGINT';
    case 'FLOAT64':
    case 'FLOAT':
      return 'DOUBLE';
    // BIGNUMERIC has more digits than DuckDB's DECIMAL(38); computations use NUMERIC's precision.
    case 'NUMERIC':
    case 'DECIMAL':
    case 'BIGNUMERIC':
    case 'BIGDECIMAL':
      return 'DECIMAL(38,9)';
    case 'BOOL':
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'STRING':
    case 'GEOGRAPHY':
    case 'INTERVAL':
      return 'VARCHAR';
    case 'BYTES':
      return 'BLOB';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'DATETIME':
      return 'TIMESTAMP';
    case 'TIMESTAMP':
      return 'TIMESTAMPTZ';
    case 'JSON':
      return 'JSON';
    default:
      return undefined;
  }
}

/** A parsed GoogleSQL type. */
export type SqlType =
  | { kind: 'scalar'; name: string }
  | { kind: 'array'; element: SqlType }
  | { kind: 'struct'; fields: { name?: string; type: SqlType }[] };

export function duckTypeOf(type: SqlType): string {
  switch (type.kind) {
    case 'scalar':
      return duckScalarTypeOf(type.name) ?? 'VARCHAR';
    case 'array':
      return `${duckTypeOf(type.element)}[]`;
    case 'struct':
      return `STRUCT(${type.fields
        .map((f, i) => `"${(f.name ?? `_field_${i + 1}`).replaceAll('"', '""')}" ${duckTypeOf(f.type)}`)
        .join(', ')})`;
  }
}
