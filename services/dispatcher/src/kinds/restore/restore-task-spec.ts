// A restore task's spec: everything a worker needs to load one table, without reading the request.
import { restoreSource, type RestoreRequest, type RestoreTaskSpec, type TableBackup } from '@bqbr/shared';
import { landingFolder, type Staging } from '../staging.js';
import type { RestorePlan, RestorePlanEntry } from './restore-plan.js';
import { explicitTarget } from './restore-targets.js';

/** The spec of each entry of one restore; what all its tables share is worked out once. */
export function restoreTaskSpecs(
  request: RestoreRequest,
  plan: RestorePlan,
  locations: ReadonlyMap<string, string | undefined>,
  staging: Staging,
): (entry: RestorePlanEntry) => RestoreTaskSpec {
  const { importOptions: options, spec: home } = restoreSource(request);
  const { writeDisposition } = options;
  const allowReplace = writeDisposition === 'WRITE_TRUNCATE' && explicitTarget(request);

  /** Where the entry's backup is: nothing to load for a table planning already decided. */
  const backupOf = (entry: RestorePlanEntry): TableBackup => {
    if (entry.action !== 'RESTORE') return { layout: 'absent' };
    if (entry.original !== undefined)
      return {
        layout: 'original',
        files: entry.original.files.map((f) => f.uri),
        format: entry.original.format,
        header: options.header,
        fieldDelimiter: options.fieldDelimiter ?? ',',
      };
    return {
      layout: 'bqbr',
      home,
      tablePath: entry.tablePath,
      landingFolder: landingFolder('restore', home, entry.tablePath, staging, entry.target),
      manifestPath: entry.manifestPath,
      manifestUri: entry.manifestUri,
      ...(entry.manifestMd5 !== undefined ? { manifestMd5: entry.manifestMd5 } : {}),
    };
  };

  return (entry) => {
    const location = locations.get(entry.target.datasetId);
    return {
      kind: 'restore',
      source: entry.source,
      target: entry.target,
      backup: backupOf(entry),
      writeDisposition,
      allowReplace,
      phase: entry.phase,
      datasetMap: plan.datasetMap,
      ignoreUnknownValues: options.ignoreUnknownValues,
      maxBadRecords: options.maxBadRecords,
      ...(location !== undefined ? { location } : {}),
      ...(request.verify === 'FINGERPRINT' && entry.phase === 1 ? { verifyFingerprint: true } : {}),
      ...(request.kmsKeyMapping !== undefined ? { kmsKeyMapping: request.kmsKeyMapping } : {}),
    };
  };
}
