// Query parameters as the REST API carries them (QueryParameter / QueryParameterType / QueryParameterValue),
// turned into typed DuckDB literals that replace `@name` and `?` in the query.
// https://cloud.google.com/bigquery/docs/reference/rest/v2/QueryParameter
import { invalidQuery } from '../api-error.js';
import { quoteIdent, quoteString } from '../schema.js';
import { duckScalarTypeOf, duckTypeOf, type SqlType } from './type-names.js';

interface ParameterType {
  type?: string;
  arrayType?: ParameterType;
  structTypes?: { name?: string; type?: ParameterType }[];
}

interface ParameterValue {
  value?: unknown;
  arrayValues?: ParameterValue[];
  structValues?: Record<string, ParameterValue>;
}

interface QueryParameter {
  name?: string;
  parameterType?: ParameterType;
  parameterValue?: ParameterValue;
}

export interface Parameters {
  /** Lower-cased name → SQL. */
  named: Map<string, string>;
  positional: string[];
  mode: 'NAMED' | 'POSITIONAL' | undefined;
}

export function parseParameters(raw: unknown[] | undefined, mode: string | undefined): Parameters {
  const named = new Map<string, string>();
  const positional: string[] = [];
  const list = (raw ?? []) as QueryParameter[];
  const upperMode = mode?.toUpperCase();
  for (const [index, p] of list.entries()) {
    if (typeof p !== 'object' || p === null)
      throw invalidQuery(`Invalid query parameter at position ${index}.`);
    const label = p.name ?? `#${index + 1}`;
    const type = sqlTypeOf(p.parameterType, label);
    const sql = literalSql(type, p.parameterValue, label);
    if (upperMode === 'POSITIONAL' || (upperMode === undefined && p.name === undefined)) {
      positional.push(sql);
    } else {
      if (p.name === undefined || p.name === '')
        throw invalidQuery('Named query parameters must have a name.');
      const key = p.name.toLowerCase();
      if (named.has(key)) throw invalidQuery(`Duplicate query parameter name: ${p.name}`);
      named.set(key, sql);
    }
  }
  const effective = upperMode === 'POSITIONAL' ? 'POSITIONAL' : upperMode === 'NAMED' ? 'NAMED' : undefined;
  return { named, positional, mode: effective };
}

function sqlTypeOf(type: ParameterType | undefined, label: string): SqlType {
  const name = type?.type?.toUpperCase();
  if (name === undefined) throw invalidQuery(`Query parameter '${label}' is missing its type.`);
  if (name === 'ARRAY') return { kind: 'array', element: sqlTypeOf(type?.arrayType, label) };
  if (name === 'STRUCT' || name === 'RECORD')
    return {
      kind: 'struct',
      fields: (type?.structTypes ?? []).map((f) => ({
        ...(f.name !== undefined ? { name: f.name } : {}),
        type: sqlTypeOf(f.type, label),
      })),
    };
  if (duckScalarTypeOf(name) === undefined)
    throw invalidQuery(`Unsupported query parameter type ${name} for '${label}'.`);
  return { kind: 'scalar', name };
}

function literalSql(type: SqlType, value: ParameterValue | undefined, label: string): string {
  const duck = duckTypeOf(type);
  if (type.kind === 'array') {
    const items = value?.arrayValues;
    if (items === undefined) return value?.value === null ? `CAST(NULL AS ${duck})` : `CAST([] AS ${duck})`;
    return `CAST([${items.map((v) => literalSql(type.element, v, label)).join(', ')}] AS ${duck})`;
  }
  if (type.kind === 'struct') {
    const values = value?.structValues;
    if (values === undefined) return `CAST(NULL AS ${duck})`;
    const parts = type.fields.map((f, i) => {
      const name = f.name ?? `_field_${i + 1}`;
      return `${quoteIdent(name)} := ${literalSql(f.type, values[name], label)}`;
    });
    return `CAST(struct_pack(${parts.join(', ')}) AS ${duck})`;
  }
  const v = value?.value;
  if (v === undefined || v === null) return `CAST(NULL AS ${duck})`;
  if (typeof v === 'object')
    throw invalidQuery(`Invalid value for query parameter '${label}': expected a scalar.`);
  // The REST API carries values as strings; clients may still send JSON numbers and booleans.
  const text = typeof v === 'string' ? v : JSON.stringify(v);
  const name = type.name.toUpperCase();
  const bad = (): never => {
    throw invalidQuery(`Invalid ${name} value for query parameter '${label}': ${text}`);
  };
  switch (name) {
    case 'INT64':
    case 'INTEGER':
      if (!/^\s*[+-]?\d+\s*$/.test(text)) bad();
      return `CAST(${quoteString(text.trim())} AS BIGINT)`;
    case 'FLOAT64':
    case 'FLOAT':
      if (Number.isNaN(Number(text)) && !/^(nan|[+-]?inf(inity)?)$/i.test(text)) bad();
      return `CAST(${quoteString(text)} AS DOUBLE)`;
    case 'BOOL':
    case 'BOOLEAN':
      if (!/^(true|false)$/i.test(text)) bad();
      return text.toLowerCase();
    case 'BYTES':
      return `from_base64(${quoteString(text)})`;
    case 'TIMESTAMP':
      return `CAST(${quoteString(normalizeTimestampText(text))} AS TIMESTAMPTZ)`;
    case 'DATETIME':
      return `CAST(${quoteString(text.replace('T', ' '))} AS TIMESTAMP)`;
    case 'JSON':
      return `json(${quoteString(text)})`;
    default:
      return `CAST(${quoteString(text)} AS ${duck})`;
  }
}

/** BigQuery timestamp text (`... UTC`, `Z`, `+hh:mm`, no zone = UTC) in a form DuckDB's TIMESTAMPTZ cast reads. */
export function normalizeTimestampText(text: string): string {
  return text.trim().replace(/\s*UTC$/i, '+00');
}
