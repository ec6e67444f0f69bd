import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm, stat, watch, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createKmsClient } from '@k8s-kms/core';
import { waitFor } from '@k8s-kms/testkit';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-local.js');

/** Run the built binary to completion (for start-up errors). */
function runToExit(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('the kms-plugin-local binary', () => {
  let dir: string;
  let child: ChildProcess | undefined;
  let output = '';
  const start = (args: string[], env: NodeJS.ProcessEnv = {}) => {
    output = '';
    child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  };
  const exited = (c: ChildProcess) =>
    new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-bin-'));
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('prints --help with every common flag and its env var convention, and --version', () => {
    const help = runToExit(['--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--listen-addr',
      '--health-addr',
      '--log-level',
      '--disable-v1',
      '--kek-mode',
      '--kek-max-age',
      '--backend-rate-limit',
      '--key-file',
      '--config',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toContain('KMS_PLUGIN_LISTEN_ADDR');
    expect(runToExit(['--version']).stdout.trim()).toBe('0.1.0');
  });

  it.each([
    [['--listen-addr', `unix:///tmp/x.sock`], '--key-file is required'],
    [['--key-file', '/tmp/k', '--socket-mode', '0666'], '--socket-mode: must not grant access to other users'],
    [['--key-file', '/tmp/k', '--kek-mode', 'remote'], '--kek-mode:'],
    [['--key-file', '/tmp/k', '--kek-max-age', 'forever'], '--kek-max-age: "forever" is not a duration'],
    [['--key-file', '/tmp/k', '--listen-addr', '/var/run/k.sock'], '--listen-addr must look like unix:///path/to/socket.sock'],
    [['--key-file', '/tmp/k', '--health-addr', 'localhost'], '--health-addr must be host:port'],
  ])('refuses %j at start with exit 2 and an error naming the flag', (args, message) => {
    const r = runToExit(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('refuses a key file readable by others, naming the file and the fix', async () => {
    const keyFile = join(dir, 'k.json');
    runToExit(['rotate', '--key-file', keyFile]); // fails: no file yet
    await writeFile(keyFile, '{}', { mode: 0o644 });
    await chmod(keyFile, 0o644);
    const r = runToExit(['--key-file', keyFile, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${keyFile} has mode 0644`);
    expect(r.stderr).toContain('chmod 600');
  });

  it('resolves each flag from the command line, then the environment, then the config file, then the default', async () => {
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        'key-file': join(dir, 'k.json'),
        'listen-addr': `unix://${dir}/file.sock`,
        'status-version': 'v2beta1',
        'socket-mode': '0660',
        'health-addr': 'off',
      }),
    );
    const c = start(['--config', config, '--socket-mode', '0640'], { KMS_PLUGIN_LISTEN_ADDR: `unix://${dir}/env.sock` });
    await waitFor(async () => ((await stat(join(dir, 'env.sock'))).isSocket() ? true : undefined), 'the socket');
    expect((await stat(join(dir, 'env.sock'))).mode & 0o777).toBe(0o640); // flag beats file
    const client = createKmsClient(`unix://${dir}/env.sock`); // env beats file
    expect((await client.status()).version).toBe('v2beta1'); // file beats default
    client.close();
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
  });

  it('refuses to create a missing key file with --require-key-file, naming the file', () => {
    const keyFile = join(dir, 'absent.json');
    const r = runToExit(['--key-file', keyFile, '--require-key-file', '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${keyFile} cannot be read: ENOENT`);
  });

  it('never echoes the contents of a config file that is not JSON', async () => {
    const config = join(dir, 'token.txt');
    await writeFile(config, 's3cr3t-token-value');
    const r = runToExit(['--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`--config: ${config} is not valid JSON`);
    expect(r.stderr).not.toContain('s3cr3t');
  });

  it('exits 1 and removes its socket when the health address is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const sock = join(dir, 's.sock');
    const r = runToExit(['--key-file', join(dir, 'k.json'), '--listen-addr', `unix://${sock}`, '--health-addr', `127.0.0.1:${port}`]);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('rejects unknown config-file keys, naming them', async () => {
    const config = join(dir, 'config.json');
    await writeFile(config, JSON.stringify({ 'key-file': 'k', 'listen-adr': 'x' }));
    const r = runToExit(['--config', config]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown keys');
    expect(r.stderr).toContain('listen-adr');
  });

  it('on SIGTERM finishes, removes its socket and exits 0', async () => {
    const sock = join(dir, 's.sock');
    const c = start(['--key-file', join(dir, 'k.json'), '--listen-addr', `unix://${sock}`, '--health-addr', 'off']);
    await waitFor(async () => ((await stat(sock)).isSocket() ? true : undefined), 'the socket');
    const client = createKmsClient(`unix://${sock}`);
    const enc = await client.encrypt(Buffer.alloc(32, 1));
    expect(await client.decrypt(enc)).toEqual(Buffer.alloc(32, 1));
    client.close();
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(output).toContain('shutting down');
  });

  it('on SIGTERM the instant its socket appears (still starting up), removes the socket and exits 0', async () => {
    // kube-apiserver's static pod may be torn down while the plugin is still starting; the signal
    // handler must be in place before the socket exists, or the default action kills the process
    // and leaves a stale socket behind.
    for (let i = 0; i < 3; i++) {
      const sock = join(dir, `early-${i}.sock`);
      const watcher = watch(dir);
      const c = start(['--key-file', join(dir, 'k.json'), '--listen-addr', `unix://${sock}`, '--health-addr', '127.0.0.1:0']);
      for await (const event of watcher) {
        if (event.filename === `early-${i}.sock`) {
          c.kill('SIGTERM');
          break;
        }
      }
      expect(await exited(c)).toBe(0);
      await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('uses a key added by `rotate` from its next refresh, without a restart, and reads older data', async () => {
    const sock = join(dir, 's.sock');
    const keyFile = join(dir, 'k.json');
    start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', '127.0.0.1:0', '--refresh-interval', '200ms']);
    const client = createKmsClient(`unix://${sock}`);
    const first = await waitFor(() => client.status(), 'Status');
    const old = await client.encrypt(Buffer.alloc(32, 7));
    const rotate = runToExit(['rotate', '--key-file', keyFile]);
    expect(rotate.stdout).toBe(`added key version 2 to ${keyFile}\n`);
    const next = await waitFor(async () => {
      const s = await client.status();
      return s.keyId !== first.keyId ? s : undefined;
    }, 'a new key_id');
    expect(next.healthz).toBe('ok');
    const fresh = await client.encrypt(Buffer.alloc(32, 8));
    expect(fresh.keyId).toBe(next.keyId);
    expect(await client.decrypt(old)).toEqual(Buffer.alloc(32, 7));
    client.close();
    expect(output).not.toContain(Buffer.alloc(32, 7).toString('base64'));
  });
});
