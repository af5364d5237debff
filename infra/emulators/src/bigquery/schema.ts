import { invalid } from './api-error.js';

/** BigQuery's `TableFieldSchema`, as the REST API sends and returns it. */
export interface FieldSchema {
  name: string;
  /** Always one of the legacy names BigQuery returns (INTEGER, FLOAT, BOOLEAN, RECORD...). */
  type: FieldType;
  mode?: FieldMode;
  fields?: FieldSchema[];
  description?: string;
  maxLength?: string;
  precision?: string;
  scale?: string;
  defaultValueExpression?: string;
  collation?: string;
  policyTags?: { names?: string[] };
}

export interface TableSchema {
  fields: FieldSchema[];
}

export type FieldMode = 'NULLABLE' | 'REQUIRED' | 'REPEATED';

export type FieldType =
  | 'STRING'
  | 'BYTES'
  | 'INTEGER'
  | 'FLOAT'
  | 'NUMERIC'
  | 'BIGNUMERIC'
  | 'BOOLEAN'
  | 'TIMESTAMP'
  | 'DATE'
  | 'TIME'
  | 'DATETIME'
  | 'GEOGRAPHY'
  | 'JSON'
  | 'RECORD';

/** Standard SQL names and their legacy equivalents; the API answers with the legacy name. */
const TYPE_ALIASES: Record<string, FieldType> = {
  STRING: 'STRING',
  BYTES: 'BYTES',
  INTEGER: 'INTEGER',
  INT64: 'INTEGER',
  FLOAT: 'FLOAT',
  FLOAT64: 'FLOAT',
  NUMERIC: 'NUMERIC',
  DECIMAL: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BIGDECIMAL: 'BIGNUMERIC',
  BOOLEAN: 'BOOLEAN',
  BOOL: 'BOOLEAN',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'DATETIME',
  GEOGRAPHY: 'GEOGRAPHY',
  JSON: 'JSON',
  RECORD: 'RECORD',
  STRUCT: 'RECORD',
};

/** The GoogleSQL name of a field's type (INT64, FLOAT64, BOOL, STRUCT...), as INFORMATION_SCHEMA shows it. */
export const STANDARD_SQL_NAME: Record<FieldType, string> = {
  STRING: 'STRING',
  BYTES: 'BYTES',
  INTEGER: 'INT64',
  FLOAT: 'FLOAT64',
  NUMERIC: 'NUMERIC',
  BIGNUMERIC: 'BIGNUMERIC',
  BOOLEAN: 'BOOL',
  TIMESTAMP: 'TIMESTAMP',
  DATE: 'DATE',
  TIME: 'TIME',
  DATETIME: 'DATETIME',
  GEOGRAPHY: 'GEOGRAPHY',
  JSON: 'JSON',
  RECORD: 'STRUCT',
};

const FIELD_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,299}$/;
const MAX_NESTING = 15;

export const modeOf = (field: FieldSchema): FieldMode => field.mode ?? 'NULLABLE';
export const isRepeated = (field: FieldSchema): boolean => field.mode === 'REPEATED';

/**
 * Validates a schema from a request and returns it normalized: legacy type names, upper-case modes,
 * NULLABLE made explicit. Errors read like BigQuery's.
 */
export function normalizeSchema(input: unknown, location = 'schema'): TableSchema {
  if (typeof input !== 'object' || input === null) throw invalid('Invalid schema: expected an object.');
  const fields = (input as { fields?: unknown }).fields;
  if (fields === undefined) return { fields: [] };
  return { fields: normalizeFields(fields, location, 1) };
}

export function normalizeFields(input: unknown, location: string, depth: number): FieldSchema[] {
  if (!Array.isArray(input)) throw invalid(`Invalid value at '${location}.fields': expected a list.`);
  if (depth > MAX_NESTING)
    throw invalid(`Field ${location} has too many levels of nesting (max ${MAX_NESTING}).`);
  const seen = new Set<string>();
  return input.map((raw, index) => {
    if (typeof raw !== 'object' || raw === null) throw invalid(`Invalid field at ${location}[${index}].`);
    const f = raw as Record<string, unknown>;
    const name = f['name'];
    if (typeof name !== 'string' || name === '') throw invalid('Empty field name', location);
    if (!FIELD_NAME.test(name))
      throw invalid(
        `Invalid field name "${name}". Fields must contain only letters, numbers, and underscores, start with a letter or underscore, and be at most 300 characters long.`,
      );
    const key = name.toLowerCase();
    if (seen.has(key)) throw invalid(`Duplicate column names: ${name}`);
    seen.add(key);
    const typeName = typeof f['type'] === 'string' ? f['type'].toUpperCase() : '';
    const type = TYPE_ALIASES[typeName];
    if (type === undefined)
      throw invalid(`Invalid value for type: ${String(f['type'])} is not a valid value`, name);
    const modeName = typeof f['mode'] === 'string' ? f['mode'].toUpperCase() : 'NULLABLE';
    if (modeName !== 'NULLABLE' && modeName !== 'REQUIRED' && modeName !== 'REPEATED')
      throw invalid(`Invalid value for mode: ${String(f['mode'])} is not a valid value`, name);
    const field: FieldSchema = { name, type, mode: modeName };
    if (type === 'RECORD') {
      const sub = normalizeFields(f['fields'] ?? [], `${location}.${name}`, depth + 1);
      if (sub.length === 0) throw invalid(`Field ${name} is type RECORD but has no schema`);
      field.fields = sub;
    } else if (f['fields'] !== undefined && (f['fields'] as unknown[]).length > 0) {
      throw invalid(`Field ${name} is type ${type} but has a nested schema`);
    }
    for (const k of [
      'description',
      'maxLength',
      'precision',
      'scale',
      'defaultValueExpression',
      'collation',
    ] as const) {
      const v = f[k];
      if (typeof v === 'string' || typeof v === 'number')
        (field as unknown as Record<string, string>)[k] = String(v);
    }
    if (typeof f['policyTags'] === 'object' && f['policyTags'] !== null) field.policyTags = f['policyTags'];
    return field;
  });
}

export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

export const quoteString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** DuckDB type of one value of a field (ignoring REPEATED). */
export function duckScalarType(field: FieldSchema): string {
  switch (field.type) {
    case 'STRING':
    case 'GEOGRAPHY':
    case 'BIGNUMERIC':
      // BIGNUMERIC has 76 digits; DuckDB's DECIMAL stops at 38, so its canonical text is stored.
      return 'VARCHAR';
    case 'JSON':
      return 'JSON';
    case 'BYTES':
      return 'BLOB';
    case 'INTEGER':
      return 'BIGINT';
    case 'FLOAT':
      return 'DOUBLE';
    case 'NUMERIC':
      return 'DECIMAL(38,9)';
    case 'BOOLEAN':
      return 'BOOLEAN';
    case 'TIMESTAMP':
      return 'TIMESTAMPTZ';
    case 'DATE':
      return 'DATE';
    case 'TIME':
      return 'TIME';
    case 'DATETIME':
      return 'TIMESTAMP';
    case 'RECORD':
      return `STRUCT(${(field.fields ?? []).map((f) => `${quoteIdent(f.name)} ${duckType(f)}`).join(', ')})`;
  }
}

/** DuckDB column type of a field, arrays for REPEATED. */
export const duckType = (field: FieldSchema): string =>
  isRepeated(field) ? `${duckScalarType(field)}[]` : duckScalarType(field);

/**
 * The same shape with every leaf as VARCHAR: how text-encoded rows (JSON, CSV, insertAll) are read
 * into DuckDB before each leaf is parsed to its real type.
 */
export function duckTextType(field: FieldSchema): string {
  const scalar =
    field.type === 'RECORD'
      ? `STRUCT(${(field.fields ?? []).map((f) => `${quoteIdent(f.name)} ${duckTextType(f)}`).join(', ')})`
      : 'VARCHAR';
  return isRepeated(field) ? `${scalar}[]` : scalar;
}

export const hasNestedFields = (fields: readonly FieldSchema[]): boolean =>
  fields.some((f) => f.type === 'RECORD' || isRepeated(f));

/** Finds a top-level field by name, case-insensitively as BigQuery does. */
export const findField = (fields: readonly FieldSchema[], name: string): FieldSchema | undefined =>
  fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
