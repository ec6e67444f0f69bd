import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPluginClient, type PluginClient } from '@k8s-kms/core';
import { startProcess, type RunningProcess } from './process.js';

/**
 * kms-plugin-fake's launcher: the shared CLI runner over an in-memory backend, for core's own CLI
 * tests (this file runs from src/ under jest and from dist/src/ when built; bin/ is beside both).
 */
export const FAKE_PLUGIN_BIN = fileURLToPath(
  new URL(import.meta.url.includes('/dist/') ? '../../bin/kms-plugin-fake.js' : '../bin/kms-plugin-fake.js', import.meta.url),
);

/** A plugin binary serving on a socket in a temp dir, with a client, as a supervisor runs it. */
export interface RunningPluginBinary {
  readonly proc: RunningProcess;
  readonly socketPath: string;
  /** `unix:///…/kms.sock`, as written in an EncryptionConfiguration. */
  readonly socketAddress: string;
  /** The bound health address (`127.0.0.1:port`), or undefined when started with `health: false`. */
  readonly health: string | undefined;
  readonly client: PluginClient;
  /** Everything it printed so far. */
  output(): string;
  /** SIGTERM; resolves with the exit code; removes the temp dir. */
  stop(): Promise<number | null>;
}

export interface PluginBinaryOptions {
  /** Its backend's arguments (and any common flag to set). */
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Serve /livez, /readyz, /healthz, /metrics on a free loopback port (default true). */
  readonly health?: boolean;
  /** Default "debug", so that tests see (and check) everything it logs. */
  readonly logLevel?: string;
  /** How the binary is run (default `node <bin>`): e.g. as another user, in a mount namespace. */
  readonly command?: (argv: readonly string[]) => readonly [string, readonly string[]];
  readonly readyTimeoutMs?: number;
}

/**
 * Run a `kms-plugin-*` binary (its bin/*.js) until its socket exists and, with health on, its
 * start-up line has named the health address it bound. The one launcher every binary test and the
 * measurement scripts use.
 */
export async function startPluginBinary(bin: string, opts: PluginBinaryOptions = {}): Promise<RunningPluginBinary> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-bin-'));
  const socketPath = join(dir, 'kms.sock');
  const argv = [
    bin,
    '--listen-addr',
    `unix://${socketPath}`,
    '--health-addr',
    opts.health === false ? 'off' : '127.0.0.1:0',
    '--log-level',
    opts.logLevel ?? 'debug',
    ...(opts.args ?? []),
  ];
  const [command, args] = opts.command ? opts.command(argv) : [process.execPath, argv];
  const { proc, ready: health } = await startProcess({
    command,
    args,
    ...(opts.env ? { env: opts.env } : {}),
    installedBy: 'scripts/setup.sh (it builds the plugins)',
    readyTimeoutMs: opts.readyTimeoutMs ?? 20_000,
    ready: async (p) => {
      if (!(await stat(socketPath)).isSocket()) return undefined;
      if (opts.health === false) return 'off';
      const serving = p
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"serving"'));
      return serving ? (JSON.parse(serving) as { healthAddr: string }).healthAddr : undefined;
    },
  }).catch(async (err: unknown) => {
    await rm(dir, { recursive: true, force: true });
    throw err;
  });
  const client = createPluginClient(`unix://${socketPath}`, { timeoutMs: 10_000 });
  return {
    proc,
    socketPath,
    socketAddress: `unix://${socketPath}`,
    health: health === 'off' ? undefined : health,
    client,
    output: () => proc.output(),
    async stop() {
      client.close();
      const code = await proc.stop();
      await rm(dir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Run a binary to completion (start-up errors, --help, subcommands). */
export function runBinary(bin: string, args: readonly string[], env: Readonly<Record<string, string | undefined>> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
