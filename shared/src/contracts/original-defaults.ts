// What bigquery-backup-restore-service (the original service) fills in when its users leave a field out,
// applied the same way at the edge, so the core sees complete options and a stored request shows what
// was applied. Its defaults are its `application.properties` (`export.default.*`, `import.default.*`);
// only those its ExportOptions and ImportOptions apply are here. Documented in docs/contracts.md, "Requests".
import * as t from 'io-ts';

/** `exportOptions` fields the original service fills in (`export.default.format`, `.overwrite`). */
export const EXPORT_DEFAULTS = { format: 'AVRO', overwrite: true } as const;

/**
 * `importOptions` fields the original service fills in. Not here, though it defaults them too:
 * `format` and `restoreRegion` (`AVRO`, `europe-west3`) mean "the backup's own" in bqbr, which knows
 * them from its manifests; restore planning resolves them (kinds/restore in the dispatcher).
 */
export const IMPORT_DEFAULTS = {
  header: true,
  ignoreUnknownValues: true,
  maxBadRecords: 0,
  writeDisposition: 'WRITE_TRUNCATE',
} as const;

/**
 * `importOptions` left out altogether (the original service refused that; bqbr allows it): bqbr's own
 * defaults, which never replace an existing table and refuse values the schema does not know.
 */
export const OMITTED_IMPORT_OPTIONS = {
  header: true,
  ignoreUnknownValues: false,
  maxBadRecords: 0,
  writeDisposition: 'WRITE_EMPTY',
} as const;

/**
 * The original service's location for new target datasets, used where a backup records none (its own
 * layout: no manifests). Set `restoreRegion` if that service's deployment changed `import.default.restore-region`.
 */
export const ORIGINAL_RESTORE_REGION = 'europe-west3';

/** `codec` with the fields of `defaults` filled in where the input leaves them out (absent or null). */
export function withDefaults<A, O>(
  codec: t.Type<A, O, unknown>,
  defaults: Readonly<Record<string, unknown>>,
): t.Type<A, O, unknown> {
  return beforeDecode(codec, (u) => filledIn(u, defaults));
}

/** `codec` decoding what `fill` makes of its input: defaults that depend on other fields. */
export function beforeDecode<A, O>(
  codec: t.Type<A, O, unknown>,
  fill: (input: unknown) => unknown,
): t.Type<A, O, unknown> {
  return new t.Type<A, O, unknown>(codec.name, codec.is, (u, c) => codec.validate(fill(u), c), codec.encode);
}

function filledIn(input: unknown, defaults: Readonly<Record<string, unknown>>): unknown {
  // Anything but an object is left for the codec to refuse.
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
  const filled: Record<string, unknown> = { ...(input as Record<string, unknown>) };
  for (const [key, value] of Object.entries(defaults)) filled[key] ??= value;
  return filled;
}
