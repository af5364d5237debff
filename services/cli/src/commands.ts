// bqbr backup | restore | status | list: thin commands over the dispatcher's HTTP API.
import { ValidationError, decodeRequest, type RequestKind } from '@bqbr/shared';
import { readFile } from 'node:fs/promises';
import { ApiError, type ApiClient, type OperationInfo, type OperationView } from './api-client.js';
import { CliError, EXIT } from './failure.js';
import { isFinal, progressLine, wordsOf } from './progress.js';
import { printTable } from './text-table.js';

export interface Output {
  /** A line for people. */
  line(text: string): void;
  /** Rewrites the current line (a TTY) or prints it (anything else). */
  status(text: string): void;
  readonly isTty: boolean;
}

export const consoleOutput = (stream: NodeJS.WriteStream = process.stdout): Output => ({
  isTty: stream.isTTY,
  line: (text) => stream.write(`${text}\n`),
  status: (text) => (stream.isTTY ? stream.write(`\r\x1b[2K${text}`) : stream.write(`${text}\n`)),
});

/**
 * Reads and checks a request file locally first, so a typo is reported with its field path (one line
 * each, naming the file) before anything is sent.
 */
export async function readRequestFile(path: string, kind: 'backup' | 'restore'): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new CliError(
      `cannot read the ${kind} request ${path}: ${fileProblem(err)} (bqbr ${kind} <request.json>: a JSON file, e.g. shared/examples/${kind}-minimal.json)`,
      { cause: err },
    );
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new CliError(
      `${path} is not JSON (${err instanceof Error ? err.message : String(err)}): a ${kind} request is one JSON object, e.g. shared/examples/${kind}-minimal.json`,
      { cause: err },
    );
  }
  try {
    decodeRequest(body, { kind });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    throw new CliError(
      err.issues.map(
        (issue) => `${path}: invalid ${kind} request: ${issue.path || '(request)'}: ${issue.message}`,
      ),
      { cause: err },
    );
  }
  return body;
}

/** An fs error in words a user acts on. */
function fileProblem(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'it is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}

export interface WatchOptions {
  readonly watch: boolean;
  readonly json: boolean;
  readonly intervalMs: number;
}

export async function submit(
  api: ApiClient,
  out: Output,
  kind: 'backup' | 'restore',
  file: string,
  options: WatchOptions,
): Promise<number> {
  const body = await readRequestFile(file, kind);
  return submitRequest(api, out, kind, body, options);
}

export interface SubmitOptions extends WatchOptions {
  /** Prints a dry run's plan for people (default: as JSON). */
  readonly printPlan?: (out: Output, operationId: string, plan: unknown) => void;
  /** Lines after the description of a watched operation that ended. */
  readonly epilogue?: (view: OperationView) => string[];
}

/** Sends a request already checked, then shows the plan (a dry run), or the operation (watched to its end). */
export async function submitRequest(
  api: ApiClient,
  out: Output,
  kind: RequestKind,
  body: unknown,
  options: SubmitOptions,
): Promise<number> {
  const accepted = await api.submit(kind, body);
  if (options.json && (!options.watch || accepted.plan !== undefined)) {
    out.line(JSON.stringify(accepted));
    return EXIT.ok;
  }
  if (accepted.plan !== undefined) {
    if (options.printPlan) options.printPlan(out, accepted.operationId, accepted.plan);
    else out.line(`dry run ${accepted.operationId}: ${JSON.stringify(accepted.plan, null, 2)}`);
    return EXIT.ok;
  }
  out.line(`${kind} ${accepted.operationId} accepted`);
  if (!options.watch) {
    out.line(`follow it with: bqbr status ${accepted.operationId} --watch`);
    return EXIT.ok;
  }
  return status(api, out, accepted.operationId, options);
}

/**
 * Shows an operation; with watch, a live progress line until it finishes. Exit code: 2 when it ended
 * FAILED or PARTIALLY_FAILED, else 0.
 */
export async function status(
  api: ApiClient,
  out: Output,
  operationId: string,
  options: WatchOptions & Pick<SubmitOptions, 'epilogue'>,
): Promise<number> {
  let view = await knownOperation(api, operationId, () =>
    options.watch ? firstView(api, operationId, options.intervalMs) : api.operation(operationId),
  );
  if (options.watch) {
    let last = '';
    for (;;) {
      const line = progressLine(view, Date.now());
      // Off a terminal, print only changes (and not every second of elapsed time).
      const changed = line.replace(/ · [\d:]+$/, '') !== last.replace(/ · [\d:]+$/, '');
      if (out.isTty || changed) out.status(line);
      last = line;
      if (isFinal(view.operation.status)) break;
      await new Promise((resolve) => setTimeout(resolve, options.intervalMs));
      view = await api.operation(operationId);
    }
    if (out.isTty) out.line('');
  }
  if (options.json) out.line(JSON.stringify(view));
  else {
    describe(out, view);
    if (isFinal(view.operation.status)) for (const line of options.epilogue?.(view) ?? []) out.line(line);
  }
  if (view.operation.status === 'SUCCEEDED' || !isFinal(view.operation.status)) return EXIT.ok;
  return EXIT.operationFailed;
}

/** A 404 for the operation itself: the id is wrong or from another dispatcher, which is the user's to fix. */
async function knownOperation(
  api: ApiClient,
  operationId: string,
  read: () => Promise<OperationView>,
): Promise<OperationView> {
  try {
    return await read();
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
    throw new CliError(
      `the dispatcher at ${api.baseUrl} has no operation ${operationId}: bqbr list shows the recent ones`,
      { cause: err },
    );
  }
}

/** How long a watched operation may take to appear: an accepted request is planned asynchronously. */
const APPEAR_TIMEOUT_MS = 60_000;

async function firstView(api: ApiClient, operationId: string, intervalMs: number): Promise<OperationView> {
  const deadline = Date.now() + APPEAR_TIMEOUT_MS;
  for (;;) {
    try {
      return await api.operation(operationId);
    } catch (err) {
      if (!(err instanceof ApiError && err.status === 404) || Date.now() > deadline) throw err;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(intervalMs, 500)));
  }
}

function describe(out: Output, view: OperationView): void {
  const { operation: op, tasks, totals } = view;
  const words = wordsOf(op.kind);
  out.line(`operation ${op.operationId} (${op.kind}${op.dryRun ? ', dry run' : ''}): ${op.status}`);
  out.line(`  project   ${op.projectId}`);
  if (op.snapshotTime) out.line(`  snapshot  ${op.snapshotTime}`);
  if (op.location) out.line(`  location  ${op.location}`);
  if (op.backupFolder) out.line(`  backup    ${op.backupFolder}`);
  out.line(
    `  ${words.unit.padEnd(8)}  ${tasks.SUCCEEDED} ${words.succeeded}, ${tasks.FAILED} failed, ${tasks.SKIPPED} ${words.skipped}, ${tasks.PENDING + tasks.RUNNING} to do, of ${op.taskTotal}${op.fanOutComplete ? '' : ' so far'}`,
  );
  out.line(`  ${words.data(totals)}`);
  for (const warning of op.warnings ?? []) out.line(`  warning   ${warning}`);
  if (op.error) {
    out.line(`  error     ${op.error.reason}: ${op.error.message}`);
    for (const issue of op.error.issues ?? []) out.line(`            ${issue.path}: ${issue.message}`);
  }
}

export async function list(
  api: ApiClient,
  out: Output,
  filter: { status?: string; kind?: string; limit?: number; json: boolean },
): Promise<number> {
  const operations = await api.operations(filter);
  if (filter.json) {
    out.line(JSON.stringify(operations));
    return EXIT.ok;
  }
  if (operations.length === 0) {
    out.line('no operations');
    return EXIT.ok;
  }
  const rows = operations.map((op: OperationInfo) => [
    op.operationId,
    op.kind,
    op.status,
    op.projectId,
    op.createdAt,
    `${op.summary?.['succeeded'] ?? '-'}/${op.taskTotal}`,
  ]);
  printTable(out, ['OPERATION', 'KIND', 'STATUS', 'PROJECT', 'CREATED', 'TABLES OK'], rows);
  return EXIT.ok;
}
