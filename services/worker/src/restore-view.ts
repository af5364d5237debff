// A view (or materialized view) restored from its `_table.json`: recreated with its query's references to
// restored datasets rewritten (view-rewrite.ts). Views are phase 2: they may read the restored tables.
import { PermanentError, type FieldSchema, type TableManifest } from '@bqbr/shared';
import type { RestoreRun } from './restore-deps.js';
import { tableProperties } from './table-definition.js';
import { tableName } from './target-state.js';
import type { StepOutcome } from './task-step.js';
import { rewriteViewQuery } from './view-rewrite.js';

export async function restoreView(
  run: RestoreRun,
  manifest: TableManifest,
  manifestUri: string,
): Promise<StepOutcome> {
  const { spec, deps, finish } = run;
  const definition = (manifest.view ?? manifest.materializedView ?? {}) as Record<string, unknown>;
  const query = typeof definition['query'] === 'string' ? definition['query'] : undefined;
  if (query === undefined) throw new PermanentError('invalid', `${manifestUri} has no view query`);
  const rewritten = rewriteViewQuery(query, {
    sourceProject: spec.source.projectId,
    targetProject: spec.target.projectId,
    datasetMap: spec.datasetMap,
  });
  const key = manifest.tableType === 'VIEW' ? 'view' : 'materializedView';
  const body = {
    [key]: { ...definition, query: rewritten },
    ...tableProperties(manifest),
    ...(manifest.tableType === 'VIEW' && manifest.schema.fields.length > 0
      ? { schema: { fields: descriptionsOnly(manifest.schema.fields) } }
      : {}),
  };
  const existing = await deps.targets.get(spec.target);
  if (existing !== undefined) {
    if (!(spec.writeDisposition === 'WRITE_TRUNCATE' && spec.allowReplace))
      throw new PermanentError(
        'duplicate',
        `target ${tableName(spec.target)} already exists and was left untouched: to replace it, name the target and use writeDisposition WRITE_TRUNCATE`,
      );
    await deps.targets.patch(spec.target, body);
  } else {
    await deps.targets.create(spec.target, body);
  }
  return finish('SUCCEEDED', {
    rows: 0,
    bytes: 0,
    fileCount: 0,
    note:
      rewritten === query
        ? `${key} recreated`
        : `${key} recreated; references to restored datasets rewritten`,
  });
}

/** A view's schema is computed from its query; only the descriptions can be given (BigQuery checks the rest). */
function descriptionsOnly(fields: readonly FieldSchema[]): FieldSchema[] {
  return fields.map((f) => ({
    name: f.name,
    type: f.type,
    ...(f.mode !== undefined ? { mode: f.mode } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.fields !== undefined ? { fields: descriptionsOnly(f.fields) } : {}),
  }));
}
