// A child process in its own process group, so stopping it also stops anything it forked.
import { spawn } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Resolves with the exit code (or null when killed by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  isRunning(): boolean;
  /** The last lines the process printed, for error messages. */
  recentOutput(): string;
  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader has exited. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL to the group, synchronously: for process exit handlers. */
  killNow(): void;
}

export interface StartProcessOptions {
  readonly name: string;
  readonly command: string;
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Every line the process prints is appended here as well. */
  readonly logFile?: string;
}

const KEPT_OUTPUT_LINES = 40;

// Runs the command under a small shell that kills it once our end of its stdin closes, which happens
// however this process dies (even SIGKILL), so a crashed launcher or test never leaves a JVM behind.
const DIE_WITH_PARENT = [
  'exec 3<&0',
  '"$@" </dev/null &',
  'child=$!',
  "trap 'kill -TERM $child 2>/dev/null' TERM INT HUP",
  '(cat <&3 >/dev/null; kill -TERM $child 2>/dev/null) &',
  'wait $child; status=$?',
  // `wait` returns early when a trapped signal arrives; wait again for the child's real exit.
  'while kill -0 $child 2>/dev/null; do wait $child; status=$?; done',
  'exit $status',
].join('\n');

export function startProcess(options: StartProcessOptions): ManagedProcess {
  const child = spawn('/bin/sh', ['-c', DIE_WITH_PARENT, options.name, options.command, ...options.args], {
    env: options.env ?? process.env,
    detached: true,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (child.pid === undefined) throw new Error(`${options.name}: could not start ${options.command}`);
  const pid = child.pid;

  const recent: string[] = [];
  const log: WriteStream | undefined = options.logFile
    ? createWriteStream(options.logFile, { flags: 'a' })
    : undefined;
  const collect = (chunk: Buffer): void => {
    log?.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.trim() === '') continue;
      recent.push(line);
      if (recent.length > KEPT_OUTPUT_LINES) recent.shift();
    }
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);

  let running = true;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      recent.push(err.message);
      running = false;
      resolve(null);
    });
    child.once('exit', (code) => {
      running = false;
      log?.end();
      resolve(code);
    });
  });

  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the whole group is gone already.
    }
  };

  return {
    name: options.name,
    pid,
    exited,
    isRunning: () => running,
    recentOutput: () => recent.join('\n'),
    async stop(graceMs = 5_000) {
      if (running) {
        signalGroup('SIGTERM');
        const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
        await exited;
        clearTimeout(timer);
      }
      // Members of the group may outlive the leader; none may stay behind.
      signalGroup('SIGKILL');
    },
    killNow() {
      signalGroup('SIGKILL');
    },
  };
}
