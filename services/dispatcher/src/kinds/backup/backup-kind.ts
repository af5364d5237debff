// Backups as the engine runs them: a snapshot instant fixed at preflight, the selected tables planned
// a page of BigQuery's listing at a time, and `_backup.json` with the catalogue entry at the end.
import {
  backupDestination,
  backupRootPath,
  checkEndpoint,
  destinationUri,
  type BackupRequest,
  type BackupTaskSpec,
  type EndpointAllowlist,
  type OperationDoc,
  type TableRef,
} from '@bqbr/shared';
import type { OperationKind, PlannedTask } from '../../engine/operation-kind.js';
import { checkStaging } from '../staging.js';
import { recordBackup, type BackupRecordDeps } from './backup-record.js';
import { backupTaskSpecs } from './backup-task-spec.js';
import { baseTables, planChain } from './incremental-chain.js';
import type { Catalog } from './catalog.js';
import { dryRunPlan } from './dry-run-sizing.js';
import { resolveSnapshot } from './snapshot-window.js';
import { planTables, type PlannedTable } from './table-selection.js';

export interface BackupKindDeps extends BackupRecordDeps {
  readonly catalog: Catalog;
  /** gs:// folder BigQuery extracts to when a backup's destination is outside Cloud Storage (BQBR_STAGING_URI). */
  readonly stagingUri?: string;
  readonly maxSnapshotAgeMs: number;
  /**
   * The endpoints a request may name (endpointAllowlist of the services' env): checked at preflight, so
   * a request naming another fails at once (the HTTP API answers 400); createStore refuses it anyway.
   */
  readonly endpoints: EndpointAllowlist;
}

export function createBackupKind(deps: BackupKindDeps): OperationKind<BackupRequest> {
  return {
    preflight(request, existing, now) {
      const home = backupDestination(request).spec;
      checkEndpoint(home, deps.endpoints);
      // BigQuery extracts only to Cloud Storage: the files need somewhere to land before they move on.
      checkStaging('backup', home, deps.stagingUri);
      // A resumed operation keeps its first snapshot instant: every table is read at the same moment.
      const snapshotMillis = existing?.snapshotMillis ?? resolveSnapshot(request, now, deps.maxSnapshotAgeMs);
      return { snapshotMillis, snapshotTime: new Date(snapshotMillis).toISOString() };
    },

    async plan(request, operation, logger) {
      const snapshotMillis = operation.snapshotMillis!;
      logger.info('backup planning', { snapshotMillis, mode: request.mode ?? 'FULL' });
      const specOf = backupTaskSpecs(request, snapshotMillis, {
        stagingUri: deps.stagingUri,
        operationId: operation.operationId,
      });
      const chain =
        request.mode === 'INCREMENTAL' ? await planChain(request, operation, deps.backups) : undefined;
      if (chain !== undefined) logger.info('incremental chain', { ...chain.chain, warnings: chain.warnings });
      const baseOf = baseTables(chain?.base);
      return {
        fields: {
          location: backupLocation(request, operation),
          ...(chain !== undefined ? { incremental: chain.chain } : {}),
          ...(chain !== undefined && chain.warnings.length > 0 ? { warnings: chain.warnings } : {}),
        },
        tasks: backupTasks(planTables(deps.catalog, request, snapshotMillis), (table) => {
          const spec = specOf(table);
          if (chain === undefined) return spec;
          const base = baseOf(table);
          return { ...spec, incremental: base === undefined ? {} : { base } };
        }),
      };
    },

    dryRun(request, operation) {
      // No location: a backup's folder is named by the operation that writes it, which a dry run is not.
      return dryRunPlan(deps.catalog, request, operation.snapshotMillis!);
    },

    finalize: (operation, outcome, logger) => recordBackup(operation, outcome, deps, logger),
  };
}

/** The backup's own folder, named by its snapshot second and its operation (docs/contracts.md, "Storage layout"). */
const backupLocation = (request: BackupRequest, operation: OperationDoc): string =>
  destinationUri(
    backupDestination(request).spec,
    backupRootPath(operation.snapshotMillis!, operation.operationId),
  );

async function* backupTasks(
  tables: AsyncIterable<PlannedTable>,
  specOf: (table: TableRef) => BackupTaskSpec,
): AsyncGenerator<PlannedTask> {
  for await (const { table, action, note, error } of tables) {
    yield {
      table,
      spec: specOf(table),
      status: action === 'EXPORT' ? 'PENDING' : action === 'SKIP' ? 'SKIPPED' : 'FAILED',
      ...(note !== undefined ? { note } : {}),
      ...(error !== undefined ? { error } : {}),
    };
  }
}
