// Where restores read backups from (Cloud Storage, S3, Azure Blob Storage or a filesystem), as restore
// planning sees it; store-backup-source.ts implements it on the real stores.
import type { BackupManifest, DestinationSpec } from '@bqbr/shared';

/** A backup found in a store. */
export interface FoundBackup {
  readonly timestamp: string;
  readonly snapshotMillis: number;
  /** `gs://.../backups/<ts>/<project>` (or the store's URI of it): for people. */
  readonly folder: string;
  /** `backups/<ts>/<project>`: the path in the store. */
  readonly folderPath: string;
  readonly layout: 'bqbr' | 'original' | 'incomplete' | 'pruning';
  readonly manifest?: BackupManifest;
  readonly problem?: string;
}

export interface OriginalTable {
  readonly datasetId: string;
  readonly tableId: string;
  readonly format: 'AVRO' | 'PARQUET' | 'CSV' | 'JSON';
  /** The files end in `.gz`. */
  readonly compressed?: boolean;
  readonly files: readonly { readonly uri: string; readonly path: string; readonly bytes: number }[];
}

export interface BackupSource {
  /** The backup of `projectId` at `timestamp` (yyyyMMdd_HHmmss or `latest`), or undefined. */
  find(where: DestinationSpec, projectId: string, timestamp: string): Promise<FoundBackup | undefined>;
  /** Timestamps of the backups of `projectId` there, newest first (for error messages). */
  timestamps(where: DestinationSpec, projectId: string): Promise<string[]>;
  /** The tables of an original-layout backup folder (`folderPath` in the store). */
  originalTables(where: DestinationSpec, folderPath: string): Promise<OriginalTable[]>;
  /** The `location` the table manifest at `manifestPath` records; undefined when missing or unreadable. */
  manifestLocation(where: DestinationSpec, manifestPath: string): Promise<string | undefined>;
}
