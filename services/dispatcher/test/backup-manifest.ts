// A `_backup.json` for restore planning to read: a PARTIALLY_FAILED backup of prod-project holding `tables`.
import type { BackupManifest } from '@bqbr/shared';

export function backupManifest(tables: BackupManifest['tables']): BackupManifest {
  return {
    manifestVersion: 1,
    kind: 'bqbr#backup',
    operationId: 'op',
    projectId: 'prod-project',
    snapshotMillis: 0,
    snapshotTime: '2026-11-20T22:30:00.000Z',
    location: 'gs://bkt/root/backups/20261120_223000',
    export: {
      format: 'AVRO',
      compression: 'NONE',
      header: true,
      fieldDelimiter: ',',
      useAvroLogicalTypes: true,
    },
    status: 'PARTIALLY_FAILED',
    summary: { tables: tables.length, succeeded: 0, failed: 0, skipped: 0, rows: 0, bytes: 0, files: 0 },
    tables,
    startedAt: '',
    finishedAt: '',
  };
}
