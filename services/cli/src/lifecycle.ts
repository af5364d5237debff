// bqbr prune | verify | backups --reconcile: the lifecycle requests (docs/contracts.md, "Prune and verify
// requests") built from a command line, checked by the dispatcher's own codecs, and sent to its HTTP API.
import type { DestinationSpec, Env } from '@bqbr/shared';
import * as t from 'io-ts';
import type { ApiClient, OperationView } from './api-client.js';
import { locationOf } from './backups.js';
import { submitRequest, type Output, type WatchOptions } from './commands.js';
import { checkedRequest } from './options.js';
import { formatBytes } from './progress.js';
import { printTable } from './text-table.js';

/** A request's `backupStorage` for a destination: `gcsOptions`, `s3Options`, `azureOptions` or `fileOptions`. */
export function backupLocationOf(destination: DestinationSpec): Record<string, Record<string, unknown>> {
  const { kind, ...fields } = destination;
  return { [`${kind}Options`]: fields };
}

export interface Where {
  /** The location as `bqbr backups` takes it: gs://, s3://, an Azure URL, azure://, file:// or a directory. */
  readonly uri: string;
  readonly projectId: string;
  /** Gives the S3 endpoint and region (BQBR_S3_ENDPOINT, AWS_REGION), as for `bqbr backups`. */
  readonly env: Env;
}

const lifecycleBody = (where: Where): Record<string, unknown> => ({
  bigQuery: { projectId: where.projectId },
  backupStorage: backupLocationOf(locationOf(where.uri, where.env)),
});

/** The prune request of `bqbr prune` (retention from the --keep-* options, see options.ts). */
export function pruneRequest(
  where: Where,
  retention: Record<string, number | string>,
  dryRun: boolean,
): Record<string, unknown> {
  const body = { kind: 'prune', ...lifecycleBody(where), retention, ...(dryRun ? { dryRun } : {}) };
  checkedRequest('prune', body);
  return body;
}

/** The prune request of `bqbr backups --reconcile`: it deletes nothing and rebuilds the catalogue. */
export function reconcileRequest(where: Where): Record<string, unknown> {
  const body = { kind: 'prune', ...lifecycleBody(where), reconcileOnly: true };
  checkedRequest('prune', body);
  return body;
}

export function verifyRequest(
  where: Where,
  backupTimestamp: string,
  options: { readDataSubset?: string; restoreDrill?: boolean; drillProjectId?: string; dryRun: boolean },
): Record<string, unknown> {
  const body = {
    kind: 'verify',
    ...lifecycleBody(where),
    backupTimestamp,
    ...(options.readDataSubset !== undefined ? { readDataSubset: options.readDataSubset } : {}),
    ...(options.restoreDrill === true ? { restoreDrill: true } : {}),
    ...(options.drillProjectId !== undefined ? { restoreDrillProjectId: options.drillProjectId } : {}),
    ...(options.dryRun ? { dryRun: true } : {}),
  };
  checkedRequest('verify', body);
  return body;
}

export function prune(
  api: ApiClient,
  out: Output,
  where: Where,
  body: Record<string, unknown>,
  options: WatchOptions,
): Promise<number> {
  return submitRequest(api, out, 'prune', body, {
    ...options,
    printPlan: (o, operationId, plan) =>
      printPlan(o, plan, {
        heading: `dry run ${operationId}: prune of project ${where.projectId}'s backups at ${where.uri}`,
        column: 'BACKUP',
        notes: 'REASONS',
        name: folderName,
        counts: (sample) => {
          const deleted = sample.filter((entry) => entry.action === 'DELETE').length;
          return `${deleted} to delete, ${sample.length - deleted} to keep`;
        },
      }),
  });
}

/** `bqbr backups --reconcile`: watched to its end, whatever --watch says; the outcome is the point. */
export function reconcile(
  api: ApiClient,
  out: Output,
  where: Where,
  options: Omit<WatchOptions, 'watch'>,
): Promise<number> {
  return submitRequest(api, out, 'prune', reconcileRequest(where), { ...options, watch: true });
}

export function verify(
  api: ApiClient,
  out: Output,
  where: Where,
  body: Record<string, unknown>,
  options: WatchOptions,
): Promise<number> {
  return submitRequest(api, out, 'verify', body, {
    ...options,
    printPlan: (o, operationId, plan) =>
      printPlan(o, plan, {
        heading: `dry run ${operationId}: verify of project ${where.projectId}'s backup ${String(body['backupTimestamp'])} at ${where.uri}`,
        column: 'TABLE',
        notes: 'NOTE',
        name: (table) => table,
        counts: (sample, summary) =>
          `${sample.filter((entry) => entry.action !== 'SKIP').length} tables to read, ${formatBytes(summary.bytes)}`,
      }),
    epilogue: verifyEpilogue,
  });
}

/**
 * What a failed verification found. The operation's answer has its error (and its issues, when the kind
 * records them there) but not each task's: those stay in the tasks, which the API does not return.
 */
function verifyEpilogue(view: OperationView): string[] {
  const { operation, tasks } = view;
  if (operation.status === 'SUCCEEDED') return [`backup verified: ${tasks.SUCCEEDED} tables passed`];
  if (tasks.FAILED === 0) return [];
  return [
    `verification FAILED: ${tasks.FAILED} of ${tasks.total} tables have damaged, missing or unexpected files or manifests`,
    ...(operation.error?.issues?.length
      ? []
      : [
          `  the problems of each table are in its task's error (Firestore operations/${operation.operationId}/tasks); the dispatcher's API does not return them`,
        ]),
  ];
}

const PlanEntry = t.intersection([
  t.type({ table: t.string, action: t.string }),
  t.partial({ note: t.string, bytes: t.number }),
]);
type PlanEntry = t.TypeOf<typeof PlanEntry>;
const Plan = t.type({ tables: t.number, skipped: t.number, bytes: t.number, sample: t.array(PlanEntry) });
type Plan = t.TypeOf<typeof Plan>;

/** A backup folder's name at the end of a plan entry's name, e.g. `backups.20240601_083000_0123456789ab`. */
const folderName = (name: string): string => /\d{8}_\d{6}(?:_[0-9a-z]+)?$/.exec(name)?.[0] ?? name;

/** A dry run's plan as a table: one line per entry of its sample (as JSON when it is not a plan this bqbr reads). */
function printPlan(
  out: Output,
  plan: unknown,
  how: {
    heading: string;
    column: string;
    notes: string;
    name: (table: string) => string;
    counts: (sample: PlanEntry[], plan: Plan) => string;
  },
): void {
  const decoded = Plan.decode(plan);
  if (decoded._tag === 'Left') {
    out.line(`${how.heading}: ${JSON.stringify(plan, null, 2)}`);
    return;
  }
  const { sample, tables } = decoded.right;
  const shown = sample.length < tables ? ` (the first ${sample.length} of ${tables} shown)` : '';
  out.line(`${how.heading}: ${how.counts(sample, decoded.right)}${shown}`);
  const rows = sample.map((entry) => [
    entry.action,
    how.name(entry.table),
    entry.bytes !== undefined ? formatBytes(entry.bytes) : '',
    entry.note ?? '',
  ]);
  printTable(out, ['ACTION', how.column, 'SIZE', how.notes], rows);
}
