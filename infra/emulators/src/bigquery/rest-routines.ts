// routines.insert/get/list/update/delete: SQL UDFs and procedures keep their definition body.
import { invalid } from './api-error.js';
import type { RoutineEntry, RoutineRef } from './catalog.js';
import type { Request } from './http.js';
import { readJson, sendJson, sendNoContent } from './http.js';
import type { EmulatorContext } from './jobs.js';
import { etagOf, page, type DatasetRef, type Json } from './resources.js';

const ROUTINE_TYPES = ['SCALAR_FUNCTION', 'PROCEDURE', 'TABLE_VALUED_FUNCTION', 'AGGREGATE_FUNCTION'];
const SETTABLE = [
  'routineType',
  'language',
  'arguments',
  'returnType',
  'returnTableType',
  'importedLibraries',
  'definitionBody',
  'description',
  'determinismLevel',
  'securityMode',
  'strictMode',
  'remoteFunctionOptions',
  'sparkOptions',
  'dataGovernanceType',
];

function settable(body: Json): Json {
  const out: Json = {};
  for (const key of SETTABLE) if (body[key] !== undefined) out[key] = body[key];
  const type = out['routineType'];
  if (typeof type !== 'string' || !ROUTINE_TYPES.includes(type))
    throw invalid(
      `Invalid value for routineType: ${String(type)}. Expected one of ${ROUTINE_TYPES.join(', ')}.`,
    );
  if (typeof out['definitionBody'] !== 'string' || out['definitionBody'] === '')
    throw invalid('Required field definitionBody is missing.');
  out['language'] ??= 'SQL';
  return out;
}

function routineResource(entry: RoutineEntry, full: boolean): Json {
  const { definitionBody, ...rest } = entry.resource;
  return {
    etag: etagOf(entry.ref, entry.lastModifiedTime),
    routineReference: { ...entry.ref },
    ...(full ? { ...rest, definitionBody } : rest),
    creationTime: String(entry.creationTime),
    lastModifiedTime: String(entry.lastModifiedTime),
  };
}

function routineRefOf(body: Json, dataset: DatasetRef): RoutineRef {
  const reference = body['routineReference'] as Json | undefined;
  const routineId = reference?.['routineId'];
  if (typeof routineId !== 'string' || !/^[A-Za-z0-9_]{1,256}$/.test(routineId))
    throw invalid(`Invalid routine ID: ${String(routineId)}`);
  return { ...dataset, routineId };
}

export async function insertRoutine(ctx: EmulatorContext, r: Request, dataset: DatasetRef): Promise<void> {
  const body = await readJson(r.req);
  const entry = await ctx.catalog.putRoutine(routineRefOf(body, dataset), settable(body), true);
  sendJson(r.res, 200, routineResource(entry, true));
}

export async function updateRoutine(ctx: EmulatorContext, r: Request, ref: RoutineRef): Promise<void> {
  const body = await readJson(r.req);
  const entry = await ctx.catalog.putRoutine(ref, settable(body), false);
  sendJson(r.res, 200, routineResource(entry, true));
}

export function getRoutine(ctx: EmulatorContext, r: Request, ref: RoutineRef): void {
  sendJson(r.res, 200, routineResource(ctx.catalog.getRoutine(ref), true));
}

export function listRoutines(ctx: EmulatorContext, r: Request, dataset: DatasetRef): void {
  const { items, nextPageToken } = page(ctx.catalog.listRoutines(dataset), r.query, 1000);
  sendJson(r.res, 200, {
    ...(items.length > 0 ? { routines: items.map((e) => routineResource(e, false)) } : {}),
    ...(nextPageToken ? { nextPageToken } : {}),
  });
}

export async function deleteRoutine(ctx: EmulatorContext, r: Request, ref: RoutineRef): Promise<void> {
  await ctx.catalog.deleteRoutine(ref);
  sendNoContent(r.res);
}
