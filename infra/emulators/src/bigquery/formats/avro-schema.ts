// Schema mapping between BigQuery and Avro, both ways: the writer schema of an export
// (https://cloud.google.com/bigquery/docs/exporting-data#avro_export_details) and the table schema a load
// derives from an Avro file (https://cloud.google.com/bigquery/docs/loading-data-cloud-storage-avro#avro_conversions).
import { invalid } from '../api-error.js';
import { isRepeated, type FieldSchema, type FieldType } from '../schema.js';

/** An Avro schema as JSON: a type name, a union, or a complex type with its attributes. */
export type AvroSchema = string | readonly AvroSchema[] | AvroComplex;

export interface AvroComplex {
  readonly type: AvroSchema;
  readonly [attribute: string]: unknown;
}

export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly doc?: string;
}

export interface AvroRecordSchema {
  readonly type: 'record';
  readonly name: string;
  readonly namespace?: string;
  readonly fields: readonly AvroField[];
}

export interface AvroSchemaOptions {
  /** DATE/TIME/DATETIME with logical types instead of strings (TIMESTAMP always has one). */
  readonly useAvroLogicalTypes: boolean;
}

// ---- Export: BigQuery schema -> Avro writer schema ----

/** The precision and scale of a NUMERIC/BIGNUMERIC field: its parameters, else the type's full range. */
export function decimalShape(field: FieldSchema): { precision: number; scale: number } {
  const big = field.type === 'BIGNUMERIC';
  if (field.precision !== undefined) {
    return { precision: Number(field.precision), scale: field.scale !== undefined ? Number(field.scale) : 0 };
  }
  return big ? { precision: 77, scale: 38 } : { precision: 38, scale: 9 };
}

/**
 * The Avro schema BigQuery writes for an export of `fields`: a record named Root; REQUIRED fields as
 * their type, NULLABLE as a union with "null", REPEATED as arrays; nested records named after their
 * field (capitalized) in a lower-case namespace of the path from `root`.
 */
export function avroSchemaFor(fields: readonly FieldSchema[], options: AvroSchemaOptions): AvroRecordSchema {
  return { type: 'record', name: 'Root', fields: fields.map((f) => avroFieldFor(f, 'root', options)) };
}

function avroFieldFor(field: FieldSchema, namespace: string, options: AvroSchemaOptions): AvroField {
  const value = avroValueSchema(field, namespace, options);
  const type: AvroSchema = isRepeated(field)
    ? { type: 'array', items: value }
    : field.mode === 'REQUIRED'
      ? value
      : ['null', value];
  return field.description ? { name: field.name, type, doc: field.description } : { name: field.name, type };
}

/** `some_field` -> `Some_Field`: how exported Avro files name nested record types. */
const recordTypeName = (fieldName: string): string =>
  fieldName
    .replace(/^[a-z]/, (c) => c.toUpperCase())
    .replace(/_([a-z])/g, (_, c: string) => `_${c.toUpperCase()}`);

function avroValueSchema(field: FieldSchema, namespace: string, options: AvroSchemaOptions): AvroSchema {
  const logical = options.useAvroLogicalTypes;
  switch (field.type) {
    case 'RECORD': {
      const inner = `${namespace}.${field.name.toLowerCase()}`;
      return {
        type: 'record',
        name: recordTypeName(field.name),
        namespace,
        fields: (field.fields ?? []).map((f) => avroFieldFor(f, inner, options)),
      };
    }
    case 'STRING':
      return 'string';
    case 'BYTES':
      return 'bytes';
    case 'INTEGER':
      return 'long';
    case 'FLOAT':
      return 'double';
    case 'BOOLEAN':
      return 'boolean';
    case 'NUMERIC':
    case 'BIGNUMERIC':
      return { type: 'bytes', logicalType: 'decimal', ...decimalShape(field) };
    case 'TIMESTAMP':
      // Extract jobs always write TIMESTAMP with its logical type, whatever useAvroLogicalTypes says.
      return { type: 'long', logicalType: 'timestamp-micros' };
    case 'DATE':
      return logical ? { type: 'int', logicalType: 'date' } : 'string';
    case 'TIME':
      return logical ? { type: 'long', logicalType: 'time-micros' } : 'string';
    case 'DATETIME':
      // Avro has no civil date-time type: BigQuery names its own logical type on a string.
      return logical ? { type: 'string', logicalType: 'datetime' } : 'string';
    case 'GEOGRAPHY':
      return { type: 'string', sqlType: 'GEOGRAPHY' };
    case 'JSON':
      return { type: 'string', sqlType: 'JSON' };
  }
}

// ---- Load: Avro writer schema -> resolved tree and BigQuery schema ----

/** A writer schema with named references resolved: what the decoder and the schema derivation walk. */
export type AvroNode =
  | { readonly kind: 'null' }
  | {
      readonly kind: 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';
      readonly logical?: Logical;
    }
  | { readonly kind: 'fixed'; readonly size: number; readonly name: string; readonly logical?: Logical }
  | {
      readonly kind: 'enum';
      readonly symbols: readonly string[];
      readonly name: string;
      readonly doc?: string;
    }
  | { readonly kind: 'array'; readonly items: AvroNode }
  | { readonly kind: 'map'; readonly values: AvroNode }
  | { readonly kind: 'union'; readonly branches: readonly AvroNode[] }
  | AvroRecordNode;

export interface AvroRecordNode {
  readonly kind: 'record';
  readonly name: string;
  /** Filled in after creation, so that recursive references can point at the record. */
  readonly fields: { readonly name: string; readonly type: AvroNode; readonly doc?: string }[];
}

/** The logical-type annotation of a primitive or fixed type, or BigQuery's sqlType on a string. */
export type Logical =
  | { readonly name: 'decimal'; readonly precision: number; readonly scale: number }
  | {
      readonly name:
        | 'date'
        | 'time-millis'
        | 'time-micros'
        | 'timestamp-millis'
        | 'timestamp-micros'
        | 'local-timestamp-millis'
        | 'local-timestamp-micros'
        | 'datetime'
        | 'JSON'
        | 'GEOGRAPHY';
    };

const PRIMITIVES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string']);

const badSchema = (detail: string) =>
  invalid(`The Apache Avro library failed to parse the header with the following error: ${detail}`);

/** Resolves named references of a writer schema (as parsed from a file header) into a tree. */
export function resolveAvroSchema(schema: unknown): AvroNode {
  const named = new Map<string, AvroNode>();
  const qualify = (name: string, namespace: string): string =>
    name.includes('.') || namespace === '' ? name : `${namespace}.${name}`;

  const walk = (s: unknown, namespace: string): AvroNode => {
    if (typeof s === 'string') {
      if (PRIMITIVES.has(s)) return { kind: s } as AvroNode;
      const found = named.get(qualify(s, namespace)) ?? named.get(s);
      if (!found) throw badSchema(`Undefined name: ${s}`);
      return found;
    }
    if (Array.isArray(s)) return { kind: 'union', branches: s.map((b) => walk(b, namespace)) };
    if (typeof s !== 'object' || s === null) throw badSchema(`Invalid schema: ${JSON.stringify(s)}`);
    const o = s as Record<string, unknown>;
    const type = o['type'];
    const logical = logicalOf(o);
    if (typeof type !== 'string' || !['record', 'error', 'enum', 'fixed', 'array', 'map'].includes(type)) {
      // A primitive written as an object, or a nested type definition.
      const inner = walk(type, namespace);
      return logical && isAnnotatable(inner) ? ({ ...inner, logical } as AvroNode) : inner;
    }
    if (type === 'array') return { kind: 'array', items: walk(o['items'], namespace) };
    if (type === 'map') return { kind: 'map', values: walk(o['values'], namespace) };
    const rawName = o['name'];
    if (typeof rawName !== 'string') throw badSchema(`No name in schema: ${JSON.stringify(s)}`);
    const ns = typeof o['namespace'] === 'string' ? o['namespace'] : namespace;
    const fullName = qualify(rawName, ns);
    const innerNamespace = fullName.includes('.') ? fullName.slice(0, fullName.lastIndexOf('.')) : '';
    const shortName = fullName.slice(fullName.lastIndexOf('.') + 1);
    if (type === 'enum') {
      const symbols = Array.isArray(o['symbols']) ? (o['symbols'] as string[]) : [];
      const node: AvroNode = { kind: 'enum', symbols, name: shortName };
      named.set(fullName, node);
      return node;
    }
    if (type === 'fixed') {
      const node: AvroNode = {
        kind: 'fixed',
        size: Number(o['size']),
        name: shortName,
        ...(logical ? { logical } : {}),
      };
      named.set(fullName, node);
      return node;
    }
    const record: AvroRecordNode = { kind: 'record', name: shortName, fields: [] };
    named.set(fullName, record);
    const fields = Array.isArray(o['fields']) ? (o['fields'] as Record<string, unknown>[]) : [];
    for (const f of fields) {
      if (typeof f['name'] !== 'string') throw badSchema(`Invalid field in record ${fullName}`);
      const doc = typeof f['doc'] === 'string' ? f['doc'] : undefined;
      record.fields.push({ name: f['name'], type: walk(f['type'], innerNamespace), ...(doc ? { doc } : {}) });
    }
    return record;
  };
  return walk(schema, '');
}

const isAnnotatable = (node: AvroNode): boolean =>
  ['boolean', 'int', 'long', 'float', 'double', 'bytes', 'string'].includes(node.kind);

function logicalOf(o: Record<string, unknown>): Logical | undefined {
  const name = o['logicalType'];
  if (name === 'decimal') {
    const precision = Number(o['precision']);
    const scale = o['scale'] === undefined ? 0 : Number(o['scale']);
    // An invalid decimal falls back to the underlying type, as the Avro spec asks.
    if (
      !Number.isInteger(precision) ||
      precision <= 0 ||
      !Number.isInteger(scale) ||
      scale < 0 ||
      scale > precision
    )
      return undefined;
    return { name, precision, scale };
  }
  switch (name) {
    case 'date':
    case 'time-millis':
    case 'time-micros':
    case 'timestamp-millis':
    case 'timestamp-micros':
    case 'local-timestamp-millis':
    case 'local-timestamp-micros':
    case 'datetime':
      return { name };
  }
  const sqlType = o['sqlType'];
  if (sqlType === 'JSON' || sqlType === 'GEOGRAPHY') return { name: sqlType };
  return undefined;
}

/** The BigQuery type a decimal(precision, scale) loads as: NUMERIC when it fits, else BIGNUMERIC. */
export function decimalTargetType(precision: number, scale: number): 'NUMERIC' | 'BIGNUMERIC' {
  return precision - scale <= 29 && scale <= 9 ? 'NUMERIC' : 'BIGNUMERIC';
}

/** The BigQuery type of a non-union, non-collection Avro type. */
export function leafType(node: AvroNode, useAvroLogicalTypes: boolean): FieldType {
  const logical = 'logical' in node ? node.logical : undefined;
  if (logical?.name === 'decimal') return decimalTargetType(logical.precision, logical.scale);
  switch (node.kind) {
    case 'boolean':
      return 'BOOLEAN';
    case 'int':
    case 'long':
      if (useAvroLogicalTypes) {
        switch (logical?.name) {
          case 'date':
            return 'DATE';
          case 'time-millis':
          case 'time-micros':
            return 'TIME';
          case 'timestamp-millis':
          case 'timestamp-micros':
            return 'TIMESTAMP';
          case 'local-timestamp-millis':
          case 'local-timestamp-micros':
            return 'DATETIME';
        }
      }
      return 'INTEGER';
    case 'float':
    case 'double':
      return 'FLOAT';
    case 'bytes':
    case 'fixed':
      return 'BYTES';
    case 'string':
      if (logical?.name === 'JSON') return 'JSON';
      if (logical?.name === 'GEOGRAPHY') return 'GEOGRAPHY';
      return 'STRING';
    case 'enum':
      return 'STRING';
    default:
      throw new Error(`not a leaf: ${node.kind}`);
  }
}

/** Branches of a union other than "null". */
export const nonNullBranches = (node: AvroNode): readonly AvroNode[] =>
  node.kind === 'union' ? node.branches.filter((b) => b.kind !== 'null') : [node];

/** The field name BigQuery gives one branch of a union of several types. */
export const unionBranchName = (node: AvroNode): string =>
  node.kind === 'record' || node.kind === 'enum' || node.kind === 'fixed' ? node.name : node.kind;

/**
 * The BigQuery schema a load derives from an Avro record: unions with "null" are NULLABLE, other
 * fields REQUIRED, arrays REPEATED, maps REPEATED key/value RECORDs, unions of several types RECORDs
 * with one NULLABLE field per branch; "null" fields and recursive references are dropped.
 */
export function bigQueryFieldsFromAvro(root: AvroNode, useAvroLogicalTypes: boolean): FieldSchema[] {
  if (root.kind !== 'record') throw invalid('The Avro schema of a load must be a record.');
  return recordFields(root, useAvroLogicalTypes, new Set([root]));
}

function recordFields(record: AvroRecordNode, logical: boolean, stack: Set<AvroNode>): FieldSchema[] {
  const out: FieldSchema[] = [];
  for (const f of record.fields) {
    const field = fieldFor(f.name, f.type, logical, stack);
    if (field) out.push(f.doc ? { ...field, description: f.doc } : field);
  }
  return out;
}

function fieldFor(
  name: string,
  node: AvroNode,
  logical: boolean,
  stack: Set<AvroNode>,
): FieldSchema | undefined {
  const branches = nonNullBranches(node);
  const nullable = node.kind === 'union' && branches.length < node.branches.length;
  if (branches.length === 0) return undefined;
  if (branches.length > 1) {
    const fields = branches
      .map((b) =>
        fieldFor(unionBranchName(b), { kind: 'union', branches: [{ kind: 'null' }, b] }, logical, stack),
      )
      .filter((f): f is FieldSchema => f !== undefined);
    return { name, type: 'RECORD', mode: nullable ? 'NULLABLE' : 'REQUIRED', fields };
  }
  const only = branches[0]!;
  if (only.kind === 'map') return valueShape(name, only, logical, stack);
  if (only.kind === 'array') {
    const items = nonNullBranches(only.items);
    if (items.length === 1 && (items[0]!.kind === 'array' || items[0]!.kind === 'map'))
      throw invalid(`Field ${name} is an array of arrays, which BigQuery does not support.`);
    const element = fieldFor(name, only.items, logical, stack);
    return element ? { ...element, mode: 'REPEATED' } : undefined;
  }
  const shape = valueShape(name, only, logical, stack);
  return shape && { ...shape, mode: nullable ? 'NULLABLE' : 'REQUIRED' };
}

function valueShape(
  name: string,
  node: AvroNode,
  logical: boolean,
  stack: Set<AvroNode>,
): FieldSchema | undefined {
  switch (node.kind) {
    case 'record': {
      if (stack.has(node)) return undefined; // recursion: only the first level is kept
      const inner = new Set(stack).add(node);
      const fields = recordFields(node, logical, inner);
      return fields.length ? { name, type: 'RECORD', fields } : undefined;
    }
    case 'map': {
      const value = fieldFor('value', node.values, logical, stack);
      const fields: FieldSchema[] = [{ name: 'key', type: 'STRING', mode: 'REQUIRED' }];
      if (value) fields.push(value);
      return { name, type: 'RECORD', mode: 'REPEATED', fields };
    }
    case 'null':
      return undefined;
    case 'union':
    case 'array':
      return fieldFor(name, node, logical, stack);
    default:
      return { name, type: leafType(node, logical) };
  }
}
