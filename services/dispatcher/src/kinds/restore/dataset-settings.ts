// What a restore gives the datasets it creates (docs/contracts.md, "Dataset settings"): the backed-up
// dataset's settings at creation, and with `restoreAccess` its access entries, rewritten to the restored
// names and principals, once its views exist (finalization).
import type { BackupDatasetEntry } from '@bqbr/shared';
import type { RestorePlan } from './restore-plan.js';

/** The backed-up dataset a target dataset restores, and its entry in `_backup.json` (absent in older backups). */
export function backedUpDataset(
  plan: Pick<RestorePlan, 'backup' | 'datasetMap'>,
  targetDatasetId: string,
): { readonly source?: string; readonly entry?: BackupDatasetEntry } {
  const source = Object.entries(plan.datasetMap).find(([, target]) => target === targetDatasetId)?.[0];
  const entry = plan.backup.manifest?.datasets?.find((d) => d.datasetId === source);
  return { ...(source !== undefined ? { source } : {}), ...(entry !== undefined ? { entry } : {}) };
}

/** A dataset's settings for datasets.insert: everything kept but its location (the restore chooses that). */
export function creationSettings(entry: BackupDatasetEntry | undefined): Record<string, unknown> {
  if (entry === undefined) return {};
  const { location: _location, ...settings } = entry.settings;
  return settings;
}

export interface AccessContext {
  readonly backupProject: string;
  readonly targetProject: string;
  /** Source dataset → restored dataset. */
  readonly datasetMap: Readonly<Record<string, string>>;
  /** Principal → another, or null to drop it (the request's accessPrincipalMap). */
  readonly principalMap: Readonly<Record<string, string | null>>;
}

type AccessEntry = Record<string, unknown>;

/** The principal fields of an access entry and their `kind:` prefixes in accessPrincipalMap. */
const PRINCIPAL_FIELDS = [
  ['userByEmail', 'user'],
  ['groupByEmail', 'group'],
  ['domain', 'domain'],
  ['specialGroup', 'specialGroup'],
  ['iamMember', 'iamMember'],
] as const;

const FIELD_OF: Readonly<Record<string, string>> = {
  user: 'userByEmail',
  serviceAccount: 'userByEmail',
  group: 'groupByEmail',
  domain: 'domain',
  specialGroup: 'specialGroup',
  iamMember: 'iamMember',
};

function principalOf(entry: AccessEntry): { field: string; key: string } | undefined {
  for (const [field, kind] of PRINCIPAL_FIELDS) {
    const value = entry[field];
    if (typeof value === 'string') return { field, key: `${kind}:${value}` };
  }
  return undefined;
}

/** The entry with `principal` (`kind:value`) in place of its own principal field. */
function withPrincipal(entry: AccessEntry, field: string, principal: string): AccessEntry {
  const at = principal.indexOf(':');
  const { [field]: _old, ...rest } = entry;
  return { ...rest, [FIELD_OF[principal.slice(0, at)] ?? 'iamMember']: principal.slice(at + 1) };
}

const RESOURCE_FIELDS = ['view', 'routine'] as const;

/**
 * The backed-up access entries rewritten for the restored dataset, and what was changed or left out, for
 * the operation's warnings: an authorized view, routine or dataset of a restored dataset points at the
 * restored one; one outside the restore is kept when restoring into the backup's own project (it still
 * exists there) and dropped otherwise; principals are mapped or dropped as `principalMap` says.
 */
export function restoredAccess(
  entry: BackupDatasetEntry,
  context: AccessContext,
): { readonly access: AccessEntry[]; readonly changes: string[] } {
  const changes: string[] = [];
  const sameProject = context.backupProject === context.targetProject;
  /** A reference to a dataset of the backup's project, restored; undefined when it must be dropped. */
  const rewrite = (ref: Record<string, unknown>, what: string): Record<string, unknown> | undefined => {
    const datasetId = String(ref['datasetId']);
    const restored = ref['projectId'] === context.backupProject ? context.datasetMap[datasetId] : undefined;
    if (restored !== undefined) return { ...ref, projectId: context.targetProject, datasetId: restored };
    if (sameProject) return ref;
    changes.push(`dropped the authorization of ${what} (not restored)`);
    return undefined;
  };
  const access: AccessEntry[] = [];
  for (const original of entry.access ?? []) {
    let next: AccessEntry | undefined = { ...original };
    for (const field of RESOURCE_FIELDS) {
      const ref = original[field] as Record<string, unknown> | undefined;
      if (ref === undefined || next === undefined) continue;
      const id = String(ref['tableId'] ?? ref['routineId']);
      const rewritten = rewrite(
        ref,
        `${field} ${String(ref['projectId'])}.${String(ref['datasetId'])}.${id}`,
      );
      next = rewritten === undefined ? undefined : { ...next, [field]: rewritten };
    }
    const authorized = original['dataset'] as { dataset?: Record<string, unknown> } | undefined;
    if (next !== undefined && authorized?.dataset !== undefined) {
      const ref = authorized.dataset;
      const rewritten = rewrite(ref, `dataset ${String(ref['projectId'])}.${String(ref['datasetId'])}`);
      next =
        rewritten === undefined ? undefined : { ...next, dataset: { ...authorized, dataset: rewritten } };
    }
    const principal = next === undefined ? undefined : principalOf(next);
    if (next !== undefined && principal !== undefined && principal.key in context.principalMap) {
      const to = context.principalMap[principal.key];
      if (to === null || to === undefined) {
        changes.push(`dropped ${principal.key} (accessPrincipalMap)`);
        next = undefined;
      } else {
        changes.push(`${principal.key} → ${to}`);
        next = withPrincipal(next, principal.field, to);
      }
    }
    if (next !== undefined) access.push(next);
  }
  return { access, changes };
}
