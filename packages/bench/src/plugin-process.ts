import { spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A plugin binary the measurement scripts run as its own process, as a supervisor would. */
export interface PluginProcess {
  readonly pid: number;
  readonly socketPath: string;
  readonly health: string;
  readonly output: () => string;
  /** Peak resident memory of the process so far (VmHWM), in MiB. */
  peakRssMiB(): Promise<number>;
  stop(): Promise<number | null>;
}

const REPO = fileURLToPath(new URL('../../../../', import.meta.url));

/** `packages/<pkg>/bin/kms-plugin-<pkg>.js` of this checkout. */
export function pluginBinary(pkg: string): string {
  return join(REPO, 'packages', pkg, 'bin', `kms-plugin-${pkg}.js`);
}

/** kms-plugin-local with a fresh key file (created by `init`). */
export async function localPluginArgs(): Promise<string[]> {
  const keyFile = join(await mkdtemp(join(tmpdir(), 'k8s-kms-measure-key-')), 'local.key');
  const init = spawnSync(process.execPath, [pluginBinary('local'), 'init', '--key-file', keyFile], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`kms-plugin-local init failed: ${init.stderr}`);
  return ['--key-file', keyFile];
}

/** Start `bin` on a socket in a temp dir with a health address on loopback; wait for both. */
export async function startPluginProcess(bin: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<PluginProcess> {
  const socketPath = join(await mkdtemp(join(tmpdir(), 'k8s-kms-measure-')), 'kms.sock');
  const child = spawn(
    process.execPath,
    [bin, '--listen-addr', `unix://${socketPath}`, '--health-addr', '127.0.0.1:0', '--log-level', 'info', ...args],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const until = Date.now() + 30_000;
  let health = '';
  while (!health) {
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}:\n${output}`);
    if (Date.now() > until) throw new Error(`${bin} did not start within 30 s:\n${output}`);
    const serving = output.split('\n').find((l) => l.includes('"msg":"serving"'));
    if (serving && (await stat(socketPath).catch(() => undefined))) health = (JSON.parse(serving) as { healthAddr: string }).healthAddr;
    else await new Promise((r) => setTimeout(r, 50));
  }
  return {
    pid: child.pid ?? 0,
    socketPath,
    health,
    output: () => output,
    async peakRssMiB() {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    },
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}
