import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/** How to start a process the tests need: an emulator, a stand-in, a plugin binary. */
export interface ProcessSpec<T> {
  readonly command: string;
  readonly args: readonly string[];
  /** Added to the test's environment (a value of undefined removes the variable). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Drop every variable whose name starts with one of these (e.g. VAULT_ for a dev server). */
  readonly dropEnv?: readonly string[];
  /** The set-up step that installs `command`, named when it is not installed. */
  readonly installedBy: string;
  /** Resolves with a value once the process serves; undefined (or a throw) while it does not yet. */
  readonly ready: (proc: RunningProcess) => Promise<T | undefined>;
  readonly readyTimeoutMs?: number;
  /** Strings to blank out of its output before the output is shown in an error (a dev server's root token). */
  readonly redact?: readonly string[];
}

/** A started process, its output captured. */
export interface RunningProcess {
  readonly pid: number;
  readonly command: string;
  /** Everything it printed so far (stdout and stderr, interleaved). */
  output(): string;
  /** Its exit code, or null while running (or when a signal ended it). */
  readonly exitCode: number | null;
  readonly exited: boolean;
  signal(signal: NodeJS.Signals): void;
  /** Resolves with the exit code when the process has ended. */
  waitForExit(): Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (null if killed). */
  stop(graceMs?: number): Promise<number | null>;
}

/**
 * Start a process and wait until `ready` says it serves. The one way the TypeScript tests start
 * what they need: a missing binary fails with the set-up step that installs it (not an unhandled
 * 'error' event), an early exit or a timeout with the end of what it printed.
 */
export async function startProcess<T>(spec: ProcessSpec<T>): Promise<{ proc: RunningProcess; ready: T }> {
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !(spec.dropEnv ?? []).some((prefix) => k.startsWith(prefix))),
  );
  for (const [k, v] of Object.entries(spec.env ?? {})) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  const child = spawn(spec.command, spec.args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const proc = track(child, spec.command);
  const spawnError = new Promise<never>((_, reject) =>
    child.once('error', (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          err.code === 'ENOENT'
            ? `cannot start ${spec.command}: it is not installed (run ${spec.installedBy})`
            : `cannot start ${spec.command}: ${err.code ?? err.message}`,
        ),
      ),
    ),
  );
  spawnError.catch(() => undefined); // reported through the race below
  // A command that could not be spawned has no pid; its 'error' event comes on a later tick.
  if (child.pid === undefined) await spawnError;
  const shown = (): string => {
    let text = proc.output().slice(-2000);
    for (const s of spec.redact ?? []) if (s) text = text.replaceAll(s, '<redacted>');
    return text;
  };
  const until = Date.now() + (spec.readyTimeoutMs ?? 30_000);
  for (;;) {
    // A probe that hangs (a request with no timeout of its own) must not outlast the deadline.
    const probe = spec.ready(proc).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), Math.max(100, until - Date.now()))));
    const value = await Promise.race([probe, late, spawnError]).finally(() => clearTimeout(timer));
    if (value !== undefined) return { proc, ready: value };
    if (proc.exited) {
      await proc.waitForExit(); // its output is complete only once the pipes close
      throw new Error(`${spec.command} exited with ${proc.exitCode} before it was ready:\n${shown()}`);
    }
    if (Date.now() > until) {
      await proc.stop(1000);
      throw new Error(`${spec.command} was not ready within ${(spec.readyTimeoutMs ?? 30_000) / 1000} s:\n${shown()}`);
    }
    await Promise.race([new Promise((r) => setTimeout(r, 50)), spawnError]);
  }
}

function track(child: ChildProcess, command: string): RunningProcess {
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  return {
    pid: child.pid ?? 0,
    command,
    output: () => output,
    get exitCode() {
      return child.exitCode;
    },
    get exited() {
      return exited();
    },
    signal: (signal) => {
      if (!exited()) child.kill(signal);
    },
    waitForExit: () => exit,
    async stop(graceMs = 10_000) {
      if (child.pid === undefined) return null;
      if (!exited()) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exit;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** A loopback port free at the time of the call. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}
