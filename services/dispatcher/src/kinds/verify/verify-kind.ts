// Verifies as the engine runs them: find the backup, one task per table of its `_backup.json` (workers
// re-read manifests and files), FAILED when anything is wrong, the result kept in the backups catalogue.
import {
  checkEndpoint,
  lifecycleLocation,
  type EndpointAllowlist,
  type OperationDoc,
  type VerifyRequest,
} from '@bqbr/shared';
import type { OperationKind } from '../../engine/operation-kind.js';
import { checkStaging } from '../staging.js';
import { dropDrill, withDrill, type DrillDeps } from './restore-drill.js';
import { dryRunSummary, planVerify, type VerifyPlan } from './verify-plan.js';
import { recordVerification, type VerifyRecordDeps } from './verify-record.js';

export interface VerifyKindDeps extends VerifyRecordDeps, DrillDeps {
  /** The endpoints a request may name: checked at preflight (see RestoreKindDeps.endpoints). */
  readonly endpoints: EndpointAllowlist;
}

export function createVerifyKind(deps: VerifyKindDeps): OperationKind<VerifyRequest> {
  return {
    preflight(request) {
      // Workers read the backup where it is; only a restore drill loads it, through staging outside GCS.
      const where = lifecycleLocation(request);
      checkEndpoint(where, deps.endpoints);
      if (request.restoreDrill === true) checkStaging('restore', where, deps.stagingUri);
      return {};
    },

    async admit(request) {
      await planVerify(request, deps.backups);
    },

    async plan(request, operation, logger) {
      const found = await planVerify(request, deps.backups);
      const plan =
        request.restoreDrill === true
          ? await withDrill(request, found, operation.operationId, deps, logger)
          : found;
      logger.info('verify planned', { backup: plan.backup.folder, tables: plan.entries.length });
      return {
        fields: backupFields(plan),
        tasks: plan.entries.map((entry) => ({
          table: entry.table,
          spec: entry.spec,
          status: entry.action === 'VERIFY' ? 'PENDING' : 'SKIPPED',
          ...(entry.note !== undefined ? { note: entry.note } : {}),
        })),
      };
    },

    async dryRun(request) {
      const plan = await planVerify(request, deps.backups);
      return { fields: backupFields(plan), plan: dryRunSummary(plan, request) };
    },

    // A backup with one damaged file is not a partly good backup: anything wrong fails the verify.
    finalStatus: (counts) => (counts.FAILED > 0 ? 'FAILED' : 'SUCCEEDED'),

    async finalize(operation, outcome, logger) {
      const problem = await recordVerification(operation, outcome, deps, logger);
      return (await dropDrill(operation, deps, logger)) ?? problem;
    },
  };
}

/** What a verify's operation records of the backup it reads. */
function backupFields({ backup, warnings }: VerifyPlan): Partial<OperationDoc> {
  return {
    backupFolder: backup.folder,
    backupLayout: 'bqbr',
    snapshotMillis: backup.manifest.snapshotMillis,
    snapshotTime: backup.manifest.snapshotTime,
    location: backup.folder,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}
