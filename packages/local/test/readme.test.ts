import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createPluginClient } from '@k8s-kms/core';
import { waitFor } from '@k8s-kms/testkit';

const ROOT = new URL('../../../', import.meta.url).pathname;
const rootReadme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8'); // the package README

/** The shell commands of a README section's ```sh blocks, continuation lines joined. */
function commands(text: string, heading: string): string[] {
  const section = text.slice(text.indexOf(heading), text.indexOf('\n## ', text.indexOf(heading) + 1));
  return [...section.matchAll(/```sh\n([\s\S]*?)```/g)]
    .flatMap((m) => (m[1] ?? '').replace(/\\\n\s*/g, '').split('\n'))
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter(Boolean);
}

describe('the READMEs on running kms-plugin-local', () => {
  it('never start a plugin through npx, which does not pass SIGTERM on', () => {
    for (const text of [rootReadme, readme]) expect(text).not.toMatch(/^\s*npx kms-plugin/m);
  });

  it('give a supervisor command that serves and stops on SIGTERM with exit 0, its socket removed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-readme-'));
    const sock = join(dir, 'socket.sock');
    const run = commands(rootReadme, '## Run it under a supervisor').map((c) =>
      c
        .replaceAll('/etc/kms/local.key', join(dir, 'local.key'))
        .replaceAll('/var/run/kmsplugin/socket.sock', sock)
        .replaceAll('127.0.0.1:8787', '127.0.0.1:0'),
    );
    expect(run).toHaveLength(2);
    const [init, serve] = run as [string, string];
    expect(spawnSync('bash', ['-c', init], { cwd: ROOT, encoding: 'utf8' }).status).toBe(0);
    // As a supervisor runs it: the command is the process that gets the signal.
    const child = spawn('bash', ['-c', `exec ${serve}`], { cwd: ROOT, stdio: 'ignore' });
    try {
      await waitFor(async () => ((await stat(sock)).isSocket() ? true : undefined), 'the socket');
      const client = createPluginClient(`unix://${sock}`);
      expect((await client.status()).healthz).toBe('ok');
      client.close();
      child.kill('SIGTERM');
      expect(await new Promise((r) => child.once('exit', r))).toBe(0);
      await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    } finally {
      child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
