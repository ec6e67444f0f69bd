import { spawnSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from packages/bench/dist/bench/src). */
const REPO = fileURLToPath(new URL('../../../../../', import.meta.url));

/** `packages/<pkg>/bin/kms-plugin-<pkg>.js` of this checkout. */
export function pluginBinary(pkg: string): string {
  return join(REPO, 'packages', pkg, 'bin', `kms-plugin-${pkg}.js`);
}

/** The arguments of a kms-plugin-local with a new key file (created by `init`, as an operator does). */
export async function localPluginArgs(): Promise<string[]> {
  const keyFile = join(await mkdtemp(join(tmpdir(), 'k8s-kms-measure-key-')), 'local.key');
  const init = spawnSync(process.execPath, [pluginBinary('local'), 'init', '--key-file', keyFile], { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`kms-plugin-local init failed: ${init.stderr}`);
  return ['--key-file', keyFile];
}

/** Peak resident memory of a process so far (VmHWM), in MiB. */
export async function peakRssMiB(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}
