// datasets.insert/get/list/patch/update/delete
import { invalid, preconditionFailed } from './api-error.js';
import type { DatasetEntry } from './catalog.js';
import type { Request } from './http.js';
import { readJson, sendJson, sendNoContent } from './http.js';
import type { EmulatorContext } from './jobs.js';
import {
  DEFAULT_LOCATION,
  checkDatasetId,
  datasetName,
  datasetRefOf,
  etagOf,
  labelsOf,
  page,
  textOf,
  type DatasetRef,
  type Json,
} from './resources.js';

const SETTABLE = [
  'friendlyName',
  'description',
  'labels',
  'defaultTableExpirationMs',
  'defaultPartitionExpirationMs',
  'location',
  'access',
  'maxTimeTravelHours',
  'defaultCollation',
  'defaultRoundingMode',
  'isCaseInsensitive',
  'storageBillingModel',
  'resourceTags',
  'defaultEncryptionConfiguration',
];
const OUTPUT_ONLY = new Set([
  'kind',
  'etag',
  'id',
  'selfLink',
  'datasetReference',
  'creationTime',
  'lastModifiedTime',
  'type',
  'satisfiesPzs',
  'satisfiesPzi',
]);

function settable(body: Json): Json {
  const out: Json = {};
  for (const [key, value] of Object.entries(body)) {
    if (SETTABLE.includes(key)) out[key] = value;
    else if (!OUTPUT_ONLY.has(key))
      throw invalid(`Invalid JSON payload received. Unknown name "${key}" at 'dataset': Cannot find field.`);
  }
  const labels = labelsOf(out);
  if (labels) out['labels'] = labels;
  for (const key of ['defaultTableExpirationMs', 'defaultPartitionExpirationMs', 'maxTimeTravelHours']) {
    if (out[key] === null) delete out[key];
    else if (out[key] !== undefined) {
      const n = Number(out[key]);
      if (!Number.isInteger(n) || n < 0) throw invalid(`Invalid value for ${key}: ${textOf(out[key])}`);
      if (key === 'defaultTableExpirationMs' && n < 3600000)
        throw invalid('Invalid value for defaultTableExpirationMs: the minimum is 3600000 (one hour).');
      if (key === 'maxTimeTravelHours' && (n < 48 || n > 168 || n % 24 !== 0))
        throw invalid(
          'Invalid value for maxTimeTravelHours: it must be a multiple of 24 between 48 and 168.',
        );
      out[key] = String(n);
    }
  }
  return out;
}

export function datasetResource(entry: DatasetEntry, apiBase: string): Json {
  const { projectId, datasetId } = entry.ref;
  return {
    kind: 'bigquery#dataset',
    etag: etagOf(entry.ref, entry.lastModifiedTime, entry.resource),
    id: datasetName(entry.ref),
    selfLink: `${apiBase}/projects/${projectId}/datasets/${datasetId}`,
    datasetReference: { projectId, datasetId },
    access: [
      { role: 'WRITER', specialGroup: 'projectWriters' },
      { role: 'OWNER', specialGroup: 'projectOwners' },
      { role: 'OWNER', userByEmail: 'emulator@bqbr.local' },
      { role: 'READER', specialGroup: 'projectReaders' },
    ],
    ...entry.resource,
    creationTime: String(entry.creationTime),
    lastModifiedTime: String(entry.lastModifiedTime),
    location: entry.resource['location'] ?? DEFAULT_LOCATION,
    type: 'DEFAULT',
    maxTimeTravelHours: entry.resource['maxTimeTravelHours'] ?? '168',
  };
}

export async function insertDataset(ctx: EmulatorContext, r: Request, projectId: string): Promise<void> {
  const body = await readJson(r.req);
  const ref = datasetRefOf(body['datasetReference'], 'dataset.datasetReference', projectId);
  if (ref.projectId !== projectId)
    throw invalid(
      `The project ${ref.projectId} in the dataset reference does not match the request's ${projectId}.`,
    );
  checkDatasetId(ref.datasetId);
  const entry = await ctx.catalog.createDataset(ref, settable(body));
  sendJson(r.res, 200, datasetResource(entry, r.apiBase));
}

export function getDataset(ctx: EmulatorContext, r: Request, ref: DatasetRef): void {
  sendJson(r.res, 200, datasetResource(ctx.catalog.getDataset(ref), r.apiBase));
}

export function listDatasets(ctx: EmulatorContext, r: Request, projectId: string): void {
  const filter = r.query.get('filter');
  let all = ctx.catalog.listDatasets(projectId);
  if (filter) {
    // labels.key:value (space-separated terms, all must match), as the API filters.
    const terms = filter.split(/\s+/).filter(Boolean);
    all = all.filter((d) =>
      terms.every((term) => {
        const m = /^labels\.([^:]+)(?::(.*))?$/.exec(term);
        if (!m || m[1] === undefined) throw invalid(`Invalid filter: ${filter}`);
        const labels = (d.resource['labels'] ?? {}) as Record<string, string>;
        return m[2] === undefined ? m[1] in labels : labels[m[1]] === m[2];
      }),
    );
  }
  const { items, nextPageToken } = page(all, r.query, 50);
  sendJson(r.res, 200, {
    kind: 'bigquery#datasetList',
    etag: etagOf(
      projectId,
      items.map((d) => d.lastModifiedTime),
    ),
    ...(items.length > 0
      ? {
          datasets: items.map((d) => ({
            kind: 'bigquery#dataset',
            id: datasetName(d.ref),
            datasetReference: { ...d.ref },
            ...(d.resource['labels'] ? { labels: d.resource['labels'] } : {}),
            ...(d.resource['friendlyName'] ? { friendlyName: d.resource['friendlyName'] } : {}),
            location: d.resource['location'] ?? DEFAULT_LOCATION,
          })),
        }
      : {}),
    ...(nextPageToken ? { nextPageToken } : {}),
  });
}

/** PATCH merges the given fields (labels merge key by key, null removes); PUT replaces all settable fields. */
export async function updateDataset(
  ctx: EmulatorContext,
  r: Request,
  ref: DatasetRef,
  mode: 'patch' | 'update',
): Promise<void> {
  const entry = ctx.catalog.getDataset(ref);
  checkEtag(r, datasetResource(entry, r.apiBase)['etag'] as string);
  const body = await readJson(r.req);
  const rawLabels = body['labels'];
  const changes = settable(body);
  const location = changes['location'];
  if (location !== undefined && location !== (entry.resource['location'] ?? DEFAULT_LOCATION))
    throw invalid(
      `Cannot change dataset location from ${textOf(entry.resource['location'])} to ${textOf(location)}.`,
    );
  let next: Json;
  if (mode === 'patch') {
    next = { ...entry.resource, ...changes };
    if (rawLabels !== undefined && rawLabels !== null) {
      const merged: Record<string, string> = {
        ...((entry.resource['labels'] ?? {}) as Record<string, string>),
      };
      for (const [k, v] of Object.entries(rawLabels as Json)) {
        if (v === null) delete merged[k];
        else merged[k] = textOf(v);
      }
      next['labels'] = merged;
    }
    for (const [k, v] of Object.entries(body)) if (v === null) delete next[k];
  } else {
    next = { location: entry.resource['location'] ?? DEFAULT_LOCATION, ...changes };
  }
  const updated = await ctx.catalog.updateDataset(ref, next);
  sendJson(r.res, 200, datasetResource(updated, r.apiBase));
}

export async function deleteDataset(ctx: EmulatorContext, r: Request, ref: DatasetRef): Promise<void> {
  await ctx.catalog.deleteDataset(ref, r.query.get('deleteContents') === 'true');
  sendNoContent(r.res);
}

/** If-Match with a stale etag fails with 412, as BigQuery does for datasets and tables. */
export function checkEtag(r: Request, etag: string): void {
  const ifMatch = r.req.headers['if-match'];
  if (ifMatch !== undefined && ifMatch !== '*' && ifMatch !== etag) {
    throw preconditionFailed();
  }
}
