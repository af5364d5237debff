// Verify of one table (docs/architecture.md, "The worker"): `_table.json` checked against the MD5 that
// `_backup.json` recorded and decoded; the table folder listed (every file the manifest names is there,
// nothing else is); the files of the subset re-read a few at a time (verify-file.ts, verify-subset.ts).
// A table too large for one delivery goes on in a continuation that resumes after the files already read.
import {
  PermanentError,
  TABLE_MANIFEST,
  classifyError,
  type BackupFileEntry,
  type BqbrTableBackup,
  type ErrorInfo,
  type StoredEntry,
  type TableManifest,
  type TaskDoc,
  type TaskMessage,
  type VerifyTaskSpec,
} from '@bqbr/shared';
import { continueLater } from './continuation.js';
import { readTableManifest } from './manifest-checks.js';
import type { StepContext } from './step-deps.js';
import { drillTable } from './restore-drill.js';
import type { VerifyRun, VerifyStepDeps } from './verify-deps.js';
import { filePath, openTableHome, type TableHome } from './table-home.js';
import { tableName } from './target-state.js';
import { runTaskStep, type StepOutcome } from './task-step.js';
import { checkFile, type FileCheck } from './verify-file.js';
import { inSubset } from './verify-subset.js';

export type { VerifyStepDeps } from './verify-deps.js';

/** One problem: the file (its name in the table folder, or `_table.json`) and what is wrong with it. */
type Issue = NonNullable<ErrorInfo['issues']>[number];

/** Problems a task document keeps (Firestore's 1 MiB limit); the message says when there were more. */
const MAX_ISSUES = 500;
/** Problems the task's message spells out; `error.issues` has them all. */
const ISSUES_IN_MESSAGE = 5;
/** Files read at once when the settings do not say (BQBR_TRANSFER_CONCURRENCY). */
const DEFAULT_CONCURRENCY = 4;

export async function runVerifyStep(
  message: TaskMessage,
  deps: VerifyStepDeps,
  ctx: StepContext,
): Promise<StepOutcome> {
  const spec = message.spec;
  if (spec.kind !== 'verify') throw new PermanentError('invalid', 'not a verify task');
  return runTaskStep(message, deps, ctx, (task, finish) =>
    verifyTable({ message, spec, task, deps, ctx, finish }),
  );
}

async function verifyTable(run: VerifyRun): Promise<StepOutcome> {
  const { spec, task, deps } = run;
  const now = deps.now ?? (() => new Date());
  const deadline = now().getTime() + deps.settings.jobWaitMs;
  const tablePath = spec.manifestPath.slice(0, spec.manifestPath.lastIndexOf('/'));
  // A verify task has no landing folder: it reads the table folder at home and nothing else.
  const backup: BqbrTableBackup = {
    layout: 'bqbr',
    home: spec.home,
    tablePath,
    landingFolder: '',
    manifestPath: spec.manifestPath,
    manifestUri: spec.manifestUri,
    ...(spec.manifestMd5 !== undefined ? { manifestMd5: spec.manifestMd5 } : {}),
  };
  const home = openTableHome(backup, deps.stores);
  const manifest = await manifestOf(home, backup);
  if ('problem' in manifest) return failed(run, new Problems([manifest.problem]), { fileCount: 0, bytes: 0 });

  // The table folder's objects, and those of the folders an incremental's references are in.
  const listed = await home.objectsOf(manifest.files);
  const toRead = manifest.files
    .filter((file) => listed.has(filePath(home, file)) && inSubset(subsetPath(spec, file), spec.subset))
    .sort((a, b) => compareText(filePath(home, a), filePath(home, b)));
  const problems = new Problems(task.error?.issues ?? []);
  problems.add(
    ...structureProblems(home, manifest.files, listed, new Set(toRead.map((f) => filePath(home, f)))),
  );

  // Files already read by earlier deliveries come first in `toRead`: this delivery reads on from there.
  const before = { fileCount: task.fileCount ?? 0, bytes: task.bytes ?? 0 };
  const read = await readFiles(home, toRead.slice(before.fileCount), {
    concurrency: deps.settings.transferConcurrency ?? DEFAULT_CONCURRENCY,
    inBudget: () => now().getTime() < deadline,
    signal: run.ctx.signal,
  });
  problems.add(...read.problems);
  const figures = { fileCount: before.fileCount + read.done, bytes: before.bytes + read.bytes };
  const progress = { ...figures, ...(problems.size > 0 ? { error: problems.error(spec) } : {}) };
  if (read.failure !== undefined) {
    // Retried by redelivery: what this delivery read is kept, so the next one starts after it.
    await deps.state.updateTask(run.message.operationId, run.message.taskId, progress);
    throw read.failure;
  }
  if (figures.fileCount < toRead.length) {
    await deps.state.updateTask(run.message.operationId, run.message.taskId, progress);
    return continueLater(run, `${figures.fileCount} of ${toRead.length} files read`);
  }
  if (problems.size > 0) return failed(run, problems, figures);
  if (spec.drill !== undefined) {
    // Recorded first: a continuation of the drill does not read the files again.
    await deps.state.updateTask(run.message.operationId, run.message.taskId, figures);
    return drillTable(run, spec.drill, manifest, home, figures);
  }
  return run.finish('SUCCEEDED', {
    ...figures,
    ...(spec.subset !== undefined ? { note: `read ${toRead.length} of ${manifest.files.length} files` } : {}),
  });
}

/** The table's manifest, or the problem with it (missing, changed since `_backup.json`, not a manifest). */
async function manifestOf(
  home: TableHome,
  backup: BqbrTableBackup,
): Promise<TableManifest | { readonly problem: Issue }> {
  try {
    return await readTableManifest(home, backup);
  } catch (err) {
    if (classifyError(err).kind === 'retryable') throw err;
    const message =
      err instanceof PermanentError && err.reason === 'notFound' ? 'missing' : (err as Error).message;
    return { problem: { path: TABLE_MANIFEST, message } };
  }
}

/**
 * The file's path within the backup's project folder, which the subset is chosen by (a referenced file of
 * an incremental: its path in the store, so each file of a chain is chosen the same way in every backup).
 */
const subsetPath = (spec: VerifyTaskSpec, file: BackupFileEntry): string =>
  file.folder !== undefined
    ? `${file.folder}${file.name}`
    : `${spec.source.datasetId}/${spec.source.tableId}/${file.name}`;

/** How a file is named in a problem: by name in the table folder, else by its path in the store. */
const shownPath = (file: BackupFileEntry): string =>
  file.folder === undefined ? file.name : `${file.folder}${file.name}`;

const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What the listing alone shows: files the manifest names that are not there, files in the table folder
 * that it does not name, and (for the files not read) a size other than the manifest's.
 */
function structureProblems(
  home: TableHome,
  files: readonly BackupFileEntry[],
  listed: ReadonlyMap<string, StoredEntry>,
  read: ReadonlySet<string>,
): Issue[] {
  const named = new Set(files.map((file) => filePath(home, file)));
  const problems: Issue[] = [];
  for (const file of files) {
    const path = filePath(home, file);
    const found = listed.get(path);
    if (found === undefined) problems.push({ path: shownPath(file), message: 'missing' });
    else if (!read.has(path) && found.bytes !== file.bytes)
      problems.push({
        path: shownPath(file),
        message: `damaged: size expected ${file.bytes} bytes, got ${found.bytes}`,
      });
  }
  for (const path of listed.keys()) {
    if (!path.startsWith(home.folder)) continue;
    const name = path.slice(home.folder.length);
    if (name !== TABLE_MANIFEST && !named.has(path))
      problems.push({ path: name, message: 'unexpected file: not in the manifest' });
  }
  return problems;
}

interface FilesRead {
  /** How many of the files, from the first, were read to the end (a stop leaves the rest for later). */
  readonly done: number;
  readonly bytes: number;
  readonly problems: Issue[];
  /** A retryable failure that stopped the reading. */
  readonly failure?: Error;
}

/**
 * Reads `files` in order, `concurrency` at once, starting no file once out of budget (but always the
 * first, so every delivery gets on) or once the worker is stopping, which also aborts the reads in flight.
 */
async function readFiles(
  home: TableHome,
  files: readonly BackupFileEntry[],
  options: { concurrency: number; inBudget: () => boolean; signal: AbortSignal },
): Promise<FilesRead> {
  const results: (FileCheck | undefined)[] = [];
  const stop = new AbortController();
  const onShutdown = (): void => stop.abort();
  options.signal.addEventListener('abort', onShutdown, { once: true });
  let next = 0;
  let failure: Error | undefined;
  const lane = async (): Promise<void> => {
    while (next < files.length && !stop.signal.aborted && (next === 0 || options.inBudget())) {
      const index = next++;
      const file = files[index]!;
      try {
        results[index] = await checkFile(home.store, filePath(home, file), file, stop.signal);
      } catch (err) {
        // The first failure stops the others; the aborted reads' own errors say nothing more.
        if (!stop.signal.aborted) {
          failure = err as Error;
          stop.abort();
        }
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, lane));
  } finally {
    options.signal.removeEventListener('abort', onShutdown);
  }
  let done = 0;
  while (done < files.length && results[done] !== undefined) done++;
  const finished = results.slice(0, done) as FileCheck[];
  return {
    done,
    bytes: finished.reduce((sum, check) => sum + check.bytes, 0),
    problems: finished.flatMap((check, i) =>
      check.problem === undefined ? [] : [{ path: shownPath(files[i]!), message: check.problem }],
    ),
    ...(failure !== undefined ? { failure } : {}),
  };
}

/** The problems found so far, one per file (a file read again by a later delivery is not counted twice). */
class Problems {
  private readonly byPath = new Map<string, Issue>();
  private capped = false;

  constructor(earlier: readonly Issue[]) {
    this.add(...earlier);
    this.capped = earlier.length >= MAX_ISSUES;
  }

  get size(): number {
    return this.byPath.size;
  }

  add(...issues: Issue[]): void {
    for (const issue of issues) {
      if (this.byPath.has(issue.path)) continue;
      if (this.byPath.size >= MAX_ISSUES) this.capped = true;
      else this.byPath.set(issue.path, issue);
    }
  }

  error(spec: VerifyTaskSpec): ErrorInfo {
    const issues = [...this.byPath.values()];
    const count = `${issues.length}${this.capped ? ' or more' : ''}`;
    const shown = issues
      .slice(0, ISSUES_IN_MESSAGE)
      .map((issue) => `${issue.path}: ${issue.message}`)
      .join('; ');
    const more = issues.length > ISSUES_IN_MESSAGE ? '; … (all in error.issues)' : '';
    return {
      reason: 'verifyFailed',
      message: `${count} problem(s) in the backup of ${tableName(spec.source)} (${spec.manifestUri}): ${shown}${more}`,
      issues,
    };
  }
}

function failed(
  run: VerifyRun,
  problems: Problems,
  figures: Pick<TaskDoc, 'fileCount' | 'bytes'>,
): Promise<StepOutcome> {
  return run.finish('FAILED', { ...figures, error: problems.error(run.spec) });
}
