// The bqbr-notifications message of a finished operation: what a subscriber learns of how it ended.
import {
  redactText,
  type OperationDoc,
  type OperationNotification,
  type OperationSummary,
} from '@bqbr/shared';

const emptySummary: OperationSummary = {
  tables: 0,
  succeeded: 0,
  failed: 0,
  skipped: 0,
  rows: 0,
  bytes: 0,
  files: 0,
};

export function notificationOf(operation: OperationDoc, now: Date): OperationNotification {
  return {
    operationId: operation.operationId,
    kind: operation.kind,
    status: operation.status,
    projectId: operation.projectId,
    ...(operation.location ? { location: operation.location } : {}),
    ...(operation.snapshotTime ? { snapshotTime: operation.snapshotTime } : {}),
    summary: operation.summary ?? emptySummary,
    startedAt: operation.startedAt ?? operation.createdAt,
    finishedAt: operation.finishedAt ?? now.toISOString(),
    ...(operation.error
      ? { error: { reason: operation.error.reason, message: redactText(operation.error.message) } }
      : {}),
    ...(operation.warnings && operation.warnings.length > 0 ? { warnings: operation.warnings } : {}),
  };
}
