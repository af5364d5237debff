// The checks of infra/terraform against the code (test/terraform/terraform.test.ts runs them): contract.json
// equals what the code generates, the module takes its names and settings from it, and each service is set
// only variables it reads, including every one it needs on Cloud Run.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Contract } from './contract.js';
import { parseHcl, type Hcl } from './provider-schema.js';

export const TERRAFORM_DIR = fileURLToPath(new URL('../../infra/terraform', import.meta.url));
export const MODULE_DIR = join(TERRAFORM_DIR, 'modules', 'bqbr');

/** Every .tf under `dir` (recursively), parsed, by path relative to infra/terraform. */
export async function parseTerraform(dir: string = TERRAFORM_DIR): Promise<Map<string, Hcl>> {
  const files = (await readdir(dir, { recursive: true })).filter((f) => f.endsWith('.tf')).sort();
  const parsed = new Map<string, Hcl>();
  for (const file of files) parsed.set(file, await parseHcl(file, await readFile(join(dir, file), 'utf8')));
  return parsed;
}

type Block = Record<string, unknown>;

/** The blocks of one module merged: locals into one object, resources/variables by type and name. */
export interface ModuleView {
  readonly locals: Block;
  resource(type: string, name: string): Block | undefined;
  variable(name: string): Block | undefined;
}

export function moduleView(files: Iterable<Hcl>): ModuleView {
  const locals: Block = {};
  const resources = new Map<string, Block>();
  const variables = new Map<string, Block>();
  for (const hcl of files) {
    for (const block of (hcl.locals ?? []) as Block[]) Object.assign(locals, block);
    for (const [type, byName] of Object.entries(
      (hcl.resource ?? {}) as Record<string, Record<string, Block[]>>,
    )) {
      for (const [name, [body]] of Object.entries(byName)) if (body) resources.set(`${type}.${name}`, body);
    }
    for (const [name, [body]] of Object.entries((hcl.variable ?? {}) as Record<string, Block[]>)) {
      if (body) variables.set(name, body);
    }
  }
  return {
    locals,
    resource: (type, name) => resources.get(`${type}.${name}`),
    variable: (name) => variables.get(name),
  };
}

/** The value at `path` (dots; a number indexes a list), or undefined. */
function at(value: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, key) => {
    if (v === undefined || v === null || typeof v !== 'object') return undefined;
    return (v as Record<string, unknown>)[key];
  }, value);
}

/** Paths where `actual` and `expected` differ (`topics.requests: "a" ≠ "b"`). */
export function diffJson(actual: unknown, expected: unknown, path = ''): string[] {
  const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;
  if (isObject(actual) && isObject(expected) && Array.isArray(actual) === Array.isArray(expected)) {
    const keys = [...new Set([...Object.keys(actual), ...Object.keys(expected)])];
    return keys.flatMap((k) => diffJson(actual[k], expected[k], path ? `${path}.${k}` : k));
  }
  return JSON.stringify(actual) === JSON.stringify(expected)
    ? []
    : [`${path}: Terraform has ${JSON.stringify(actual)}, the code ${JSON.stringify(expected)}`];
}

// Each expression the module must use so that contract.json, not a copy, decides the names and settings.
const WIRING: readonly [resource: string, path: string, expression: string | RegExp][] = [
  ['locals', 'contract', '${jsondecode(file("${path.module}/contract.json"))}'],
  ['google_pubsub_topic.topic', 'for_each', '${local.contract.topics}'],
  ['google_pubsub_topic.topic', 'name', '${each.value}'],
  ['google_pubsub_subscription.subscription', 'for_each', '${local.contract.subscriptions}'],
  ['google_pubsub_subscription.subscription', 'name', '${each.value.name}'],
  ['google_pubsub_subscription.subscription', 'topic', '${google_pubsub_topic.topic[each.value.topic].id}'],
  [
    'google_pubsub_subscription.subscription',
    'ack_deadline_seconds',
    '${local.contract.subscription_settings.ack_deadline_seconds}',
  ],
  [
    'google_pubsub_subscription.subscription',
    'retry_policy.0.minimum_backoff',
    '${local.contract.subscription_settings.minimum_backoff}',
  ],
  [
    'google_pubsub_subscription.subscription',
    'retry_policy.0.maximum_backoff',
    '${local.contract.subscription_settings.maximum_backoff}',
  ],
  [
    'google_pubsub_subscription.subscription',
    'dynamic.dead_letter_policy.0.for_each',
    /each\.value\.dead_letter \? \[1\] : \[\]/,
  ],
  [
    'google_pubsub_subscription.subscription',
    'dynamic.dead_letter_policy.0.content.0.max_delivery_attempts',
    '${local.contract.subscription_settings.max_delivery_attempts}',
  ],
  [
    'google_pubsub_subscription.subscription',
    'push_config.0.push_endpoint',
    '${local.service_uri[each.value.service]}${each.value.push_path}',
  ],
  [
    'google_pubsub_subscription.subscription',
    'push_config.0.oidc_token.0.service_account_email',
    '${google_service_account.push.email}',
  ],
  ['google_firestore_index.index', 'for_each', '${local.contract.firestore_indexes}'],
  ['google_firestore_index.index', 'collection', '${each.value.collection}'],
  ['google_firestore_index.index', 'dynamic.fields.0.for_each', '${each.value.fields}'],
  ['google_firestore_index.index', 'dynamic.fields.0.content.0.field_path', '${fields.value.field_path}'],
  ['google_firestore_index.index', 'dynamic.fields.0.content.0.order', '${fields.value.order}'],
  [
    'google_cloud_scheduler_job.schedule',
    'pubsub_target.0.topic_name',
    '${google_pubsub_topic.topic["requests"].id}',
  ],
  ['locals', 'topology_env', /local\.contract\.topic_env[\s\S]*local\.contract\.subscription_env/],
  ['variable.credential_secrets', 'validation.0.condition', /contract\.json"\)\)\.credential_env/],
  ['variable.schedules', 'validation.0.condition', /!can\(jsondecode\(s\.request\)\.operationId\)/],
];

/** Where the module does not take its names and settings from contract.json. */
export function checkWiring(view: ModuleView): string[] {
  return WIRING.flatMap(([where, path, expected]) => {
    const [type = '', name = ''] = where.split('.');
    const block =
      where === 'locals'
        ? view.locals
        : type === 'variable'
          ? view.variable(name)
          : view.resource(type, name);
    const actual = at(block, path);
    const ok =
      typeof expected === 'string'
        ? actual === expected
        : typeof actual === 'string' && expected.test(actual);
    return ok ? [] : [`${where}.${path}: expected ${String(expected)}, found ${JSON.stringify(actual)}`];
  });
}

export interface ServiceEnv {
  readonly reads: ReadonlySet<string>;
  readonly required: readonly string[];
}

/** The variables the module sets on service `name` (google_cloud_run_v2_service.service, local.services[name]). */
export function envSetOn(
  view: ModuleView,
  name: string,
  contract: Contract,
): { names: string[]; problems: string[] } {
  const service = view.resource('google_cloud_run_v2_service', 'service');
  const settings = at(view.locals, `services.${name}`) as Block | undefined;
  const containers = at(service, 'template.0.containers') as Block[] | undefined;
  if (settings === undefined || containers === undefined) {
    return {
      names: [],
      problems: [`${name}: not in local.services, or no google_cloud_run_v2_service.service`],
    };
  }
  const names: string[] = [];
  const problems: string[] = [];
  // `${local.dispatcher_env}` → `local.dispatcher_env`, standing in for each.value.env.
  const ownEnv = String(settings.env).replace(/^\$\{(.*)\}$/, '$1');
  for (const container of containers) {
    for (const env of (container.env ?? []) as Block[]) names.push(String(env.name));
    for (const dynamic of (at(container, 'dynamic.env') ?? []) as Block[]) {
      const forEach = String(dynamic.for_each).replaceAll('each.value.env', ownEnv);
      if (forEach === '${var.credential_secrets}') {
        names.push(...contract.credential_env);
        continue;
      }
      const locals = [...forEach.matchAll(/local\.(\w+)/g)].map((m) => m[1] ?? '');
      if (locals.length === 0)
        problems.push(`${name}: env for_each ${forEach}: names not known to the check`);
      for (const local of locals) {
        const value = view.locals[local];
        if (local === 'topology_env') {
          names.push(...Object.keys(contract.topic_env), ...Object.keys(contract.subscription_env));
        } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
          names.push(...Object.keys(value));
        } else problems.push(`${name}: env for_each local.${local} is not a map with literal keys`);
      }
    }
  }
  return { names, problems };
}

/** Variables set but not read, and required ones not set, for each service. */
export function checkEnv(
  view: ModuleView,
  contract: Contract,
  services: Readonly<Record<string, ServiceEnv>>,
): string[] {
  return Object.entries(services).flatMap(([name, env]) => {
    const { names, problems } = envSetOn(view, name, contract);
    const set = new Set(names);
    return [
      ...problems,
      ...names.filter((n) => !env.reads.has(n)).map((n) => `${name}: sets ${n}, which it does not read`),
      ...env.required
        .filter((n) => !set.has(n))
        .map((n) => `${name}: does not set ${n}, which it needs on Cloud Run`),
      // Cloud Run sets PORT itself and refuses it in the service's env.
      ...(set.has('PORT') ? [`${name}: sets PORT (Cloud Run's own)`] : []),
    ];
  });
}
