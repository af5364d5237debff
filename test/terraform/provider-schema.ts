// Checks parsed HCL (@cdktf/hcl2json's JSON) against the Google provider's schema as carried by
// @cdktf/provider-google's jsii manifest: every attribute and nested block of every resource and data
// source must exist, and every required one be present. terraform validate cannot run here (no binary).
import { parse } from '@cdktf/hcl2json';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The parts of a jsii type reference the check follows. */
interface JsiiTypeRef {
  readonly fqn?: string;
  readonly primitive?: string;
  readonly collection?: { readonly elementtype: JsiiTypeRef; readonly kind: string };
  readonly union?: { readonly types: readonly JsiiTypeRef[] };
}

interface JsiiProperty {
  readonly name: string;
  readonly optional?: boolean;
  readonly type: JsiiTypeRef;
}

interface JsiiType {
  readonly kind: string;
  readonly datatype?: boolean;
  readonly properties?: readonly JsiiProperty[];
}

export interface ProviderSchema {
  readonly types: Readonly<Record<string, JsiiType>>;
}

export type Hcl = Record<string, unknown>;

const PACKAGE = '@cdktf/provider-google';

/** Loads the jsii manifest (≈100 MB; once per run). */
export async function loadProviderSchema(): Promise<ProviderSchema> {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve(`${PACKAGE}/package.json`));
  return JSON.parse(await readFile(join(root, '.jsii'), 'utf8')) as ProviderSchema;
}

export async function parseHcl(file: string, text: string): Promise<Hcl> {
  return (await parse(file, text)) as Hcl;
}

// Terraform's meta-arguments, allowed on every resource and data source.
const META = new Set([
  'count',
  'for_each',
  'depends_on',
  'provider',
  'lifecycle',
  'provisioner',
  'connection',
]);

const camel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const pascal = (snake: string): string => camel(snake).replace(/^./, (c) => c.toUpperCase());
const snakeOf = (camelName: string): string => camelName.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** The config struct of a resource type (`google_x_y`) or data source (`data` + type). */
function configFqn(kind: 'resource' | 'data', type: string): string {
  const base = kind === 'data' ? `data_${type}` : type;
  const name = base.replace(/^(data_)?google_/, (_, data?: string) => (data ? 'data_google_' : ''));
  return `${PACKAGE}.${camel(name)}.${pascal(name)}Config`;
}

/** The struct a property nests (a block), or undefined for a plain attribute. */
function structOf(schema: ProviderSchema, ref: JsiiTypeRef): string | undefined {
  if (ref.fqn !== undefined) {
    const type = schema.types[ref.fqn];
    return type?.kind === 'interface' && type.datatype ? ref.fqn : undefined;
  }
  if (ref.collection !== undefined && ref.collection.kind === 'array')
    return structOf(schema, ref.collection.elementtype);
  for (const t of ref.union?.types ?? []) {
    const s = structOf(schema, t);
    if (s !== undefined) return s;
  }
  return undefined;
}

function levenshtein(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(
        (row[j] ?? 0) + 1,
        (next[j - 1] ?? 0) + 1,
        (row[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    row = next;
  }
  return row[b.length] ?? 0;
}

function nearest(name: string, candidates: readonly string[]): string {
  const best = [...candidates].sort((x, y) => levenshtein(name, x) - levenshtein(name, y))[0];
  return best === undefined ? '' : ` (did you mean ${best}?)`;
}

const blocksOf = (value: unknown): Hcl[] =>
  (Array.isArray(value) ? value : [value]).filter((v): v is Hcl => typeof v === 'object' && v !== null);

/** Problems in one block's body against struct `fqn`; `at` names the block in messages. */
function checkBody(
  schema: ProviderSchema,
  fqn: string,
  body: Hcl,
  at: string,
  top: boolean,
  out: string[],
): void {
  const properties = schema.types[fqn]?.properties ?? [];
  const byName = new Map(properties.map((p) => [snakeOf(p.name), p]));
  const present = new Set<string>();
  for (const [key, value] of Object.entries(body)) {
    if (top && META.has(key)) continue;
    if (key === 'dynamic') {
      for (const [label, dynamics] of Object.entries(value as Hcl)) {
        const property = byName.get(label);
        const struct = property && structOf(schema, property.type);
        if (struct === undefined) {
          out.push(
            `${at}.dynamic.${label}: not a block in google provider schema${nearest(label, [...byName.keys()])}`,
          );
          continue;
        }
        present.add(label);
        for (const d of blocksOf(dynamics)) {
          for (const content of blocksOf(d.content))
            checkBody(schema, struct, content, `${at}.${label}`, false, out);
        }
      }
      continue;
    }
    // cdktf renames attributes that collide with its own members (e.g. `version` stays, `count` → countAttribute).
    const property = byName.get(key) ?? byName.get(`${key}_attribute`);
    if (property === undefined) {
      out.push(`${at}.${key}: not in google provider schema${nearest(key, [...byName.keys()])}`);
      continue;
    }
    present.add(snakeOf(property.name));
    const struct = structOf(schema, property.type);
    if (struct !== undefined) {
      for (const block of blocksOf(value)) checkBody(schema, struct, block, `${at}.${key}`, false, out);
    }
  }
  for (const p of properties) {
    if (!p.optional && !present.has(snakeOf(p.name))) out.push(`${at}.${snakeOf(p.name)}: required, missing`);
  }
}

/** Every problem of the resources and data sources in `hcl`, as `type.name.attr: why`. */
export function checkAgainstSchema(schema: ProviderSchema, hcl: Hcl): string[] {
  const out: string[] = [];
  for (const kind of ['resource', 'data'] as const) {
    const byType = (hcl[kind] ?? {}) as Record<string, Record<string, unknown>>;
    for (const [type, byName] of Object.entries(byType)) {
      const fqn = configFqn(kind, type);
      const prefix = kind === 'data' ? `data.${type}` : type;
      if (schema.types[fqn] === undefined) {
        out.push(`${prefix}: not a ${kind === 'data' ? 'data source' : 'resource'} of the google provider`);
        continue;
      }
      for (const [name, bodies] of Object.entries(byName)) {
        for (const body of blocksOf(bodies)) checkBody(schema, fqn, body, `${prefix}.${name}`, true, out);
      }
    }
  }
  return out;
}
