import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, rm, stat, watch, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createPluginClient } from '@k8s-kms/core';
import { waitFor } from '@k8s-kms/testkit';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-local.js');
const isRoot = process.getuid?.() === 0;

/** Run the built binary to completion (for start-up errors). */
function runToExit(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

/**
 * The command that runs the binary as an unprivileged process would see things: as root (CI),
 * inside a private mount namespace where `dir` is a read-only bind mount, or without the
 * capabilities that let root read any file; as any other user, plainly (permissions then apply).
 */
function restricted(how: 'read-only-dir' | 'no-read-override', dir: string, args: string[]): [string, string[]] {
  if (!isRoot) return [process.execPath, [BIN, ...args]];
  const node = [process.execPath, BIN, ...args].map((a) => `'${a}'`).join(' ');
  return how === 'read-only-dir'
    ? ['unshare', ['-m', 'sh', '-c', `mount --bind '${dir}' '${dir}' && mount -o remount,ro,bind '${dir}' && exec ${node}`]]
    : [
        'setpriv',
        [
          '--bounding-set',
          '-dac_override,-dac_read_search',
          '--inh-caps',
          '-dac_override,-dac_read_search',
          process.execPath,
          BIN,
          ...args,
        ],
      ];
}

describe('the kms-plugin-local binary', () => {
  let dir: string;
  let keyFile: string;
  let child: ChildProcess | undefined;
  let output = '';
  const start = (args: string[], env: NodeJS.ProcessEnv = {}, command: [string, string[]] = [process.execPath, [BIN, ...args]]) => {
    output = '';
    child = spawn(command[0], command[1], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    return child;
  };
  const exited = (c: ChildProcess) =>
    new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));
  const socketUp = (sock: string) => waitFor(async () => ((await stat(sock)).isSocket() ? true : undefined), 'the socket');

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-bin-'));
    keyFile = join(dir, 'k.json');
    expect(runToExit(['init', '--key-file', keyFile]).code).toBe(0);
  });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited(child);
    }
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('prints --help with every common flag, its env var convention and the exit codes', () => {
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
      '--create-key-file',
      '--config',
    ]) {
      expect(help.stdout).toContain(flag);
    }
    expect(help.stdout).toContain('KMS_PLUGIN_LISTEN_ADDR');
    expect(help.stdout).toContain('2 for a configuration error');
  });

  it('prints --version with the commit, core, Node.js and platform', () => {
    const r = runToExit(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(
      /^kms-plugin-local 0\.1\.0 \(commit ([0-9a-f]{12}(-dirty)?|unknown); @k8s-kms\/core 0\.1\.0; node v\d+\.\d+\.\d+ linux\/x64\)$/,
    );
  });

  it.each([
    [['--listen-addr', `unix:///tmp/x.sock`], '--key-file is required'],
    [['--key-file', '/tmp/k', '--socket-mode', '0666'], '--socket-mode: must not grant access to other users'],
    [['--key-file', '/tmp/k', '--kek-mode', 'remote'], '--kek-mode:'],
    [['--key-file', '/tmp/k', '--kek-max-age', 'forever'], '--kek-max-age: must be a duration like 250ms, 30s, 5m, 1h30m or 24h'],
    [['--key-file', '/tmp/k', '--breaker-open-for', '0s'], '--breaker-open-for: must be at least 100ms'],
    [['--key-file', '/tmp/k', '--listen-addr', '/var/run/k.sock'], '--listen-addr must look like unix:///path/to/socket.sock'],
    [['--key-file', '/tmp/k', '--listen-addr', `unix:///tmp/${'d'.repeat(100)}/k.sock`], '--listen-addr: the socket path is 112 bytes'],
    [['--key-file', '/tmp/k', '--health-addr', 'localhost'], '--health-addr must be host:port'],
    [['--key-file', '/tmp/k', '--no-such-flag'], "unknown option '--no-such-flag'"],
    [['--key-file'], "option '--key-file <path>' argument missing"],
  ])('refuses %j at start with exit 2 and an error naming the flag', (args, message) => {
    const r = runToExit(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('    at '); // a message, not a stack trace
  });

  it('accepts Go-style durations such as 1h30m and 1m30s', async () => {
    const sock = join(dir, 'go-durations.sock');
    const c = start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', 'off', '--kek-max-age', '1h30m']);
    await socketUp(sock);
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
    expect(JSON.parse(output.split('\n').find((l) => l.includes('"serving"')) ?? '{}')).toMatchObject({
      kekLimits: { maxAgeMs: 5_400_000 },
    });
  });

  it('refuses a key file readable by others, naming the file and the fix', async () => {
    await chmod(keyFile, 0o644);
    const r = runToExit(['--key-file', keyFile, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${keyFile} has mode 0644`);
    expect(r.stderr).toContain('chmod 600');
  });

  it('never serves a new root key for a key file that does not exist: exit 2 naming init, nothing created', async () => {
    const typo = join(dir, 'no-such-dir', 'k.json');
    const r = runToExit(['--key-file', typo, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key file ${typo} does not exist: create it with "kms-plugin-local init --key-file ${typo}"`);
    await expect(stat(dirname(typo))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 's.sock'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('creates a missing key file only with --create-key-file, and only in a directory that exists', async () => {
    const fresh = join(dir, 'fresh.json');
    const sock = join(dir, 'create.sock');
    const c = start(['--key-file', fresh, '--create-key-file', '--listen-addr', `unix://${sock}`, '--health-addr', 'off']);
    await socketUp(sock);
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
    expect(output).toContain('created a new key file with a new root key (--create-key-file)');
    const typo = join(dir, 'typo-dir', 'k.json');
    const r = runToExit(['--key-file', typo, '--create-key-file', '--listen-addr', `unix://${sock}`, '--health-addr', 'off']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`cannot create key file ${typo}: its directory ${dirname(typo)} cannot be used (ENOENT)`);
  });

  it('`init` creates a 0600 key file in a new 0700 directory, and never overwrites one', async () => {
    const path = join(dir, 'new', 'dir', 'k.json');
    const first = runToExit(['init', '--key-file', path]);
    expect(first).toMatchObject({ code: 0, stdout: expect.stringContaining(`created key file ${path} (mode 0600) with key version 1`) });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(path))).mode & 0o777).toBe(0o700);
    const again = runToExit(['init', '--key-file', path]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`key file ${path} already exists; it was left as it is`);
  });

  it('starts from an existing key file in a read-only directory', async () => {
    const keys = join(dir, 'ro');
    await mkdir(keys);
    expect(runToExit(['init', '--key-file', join(keys, 'k.json')]).code).toBe(0);
    if (!isRoot) await chmod(keys, 0o500);
    try {
      const sock = join(dir, 'ro.sock');
      const args = ['--key-file', join(keys, 'k.json'), '--listen-addr', `unix://${sock}`, '--health-addr', 'off'];
      const c = start(args, {}, restricted('read-only-dir', keys, args));
      await socketUp(sock).catch(() => expect(output).toBe('a running plugin'));
      const client = createPluginClient(`unix://${sock}`);
      expect((await client.status()).healthz).toBe('ok');
      client.close();
      c.kill('SIGTERM');
      expect(await exited(c)).toBe(0);
    } finally {
      await chmod(keys, 0o700);
    }
  });

  it('names EACCES and the uid when an existing key file cannot be read', () => {
    return chmod(keyFile, 0o000).then(() => {
      const args = ['--key-file', keyFile, '--listen-addr', `unix://${dir}/s.sock`, '--health-addr', 'off'];
      const [command, argv] = restricted('no-read-override', dir, args);
      const r = spawnSync(command, argv, { encoding: 'utf8', timeout: 20_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(`key file ${keyFile} cannot be read: EACCES (permission denied to uid ${process.getuid?.()})`);
      expect(r.stderr).not.toContain('cannot create key file');
    });
  });

  it('resolves each flag from the command line, then the environment, then the config file, then the default', async () => {
    const config = join(dir, 'config.json');
    await writeFile(
      config,
      JSON.stringify({
        'key-file': keyFile,
        'listen-addr': `unix://${dir}/file.sock`,
        'status-version': 'v2beta1',
        'socket-mode': '0660',
        'health-addr': 'off',
      }),
    );
    const c = start(['--config', config, '--socket-mode', '0640'], { KMS_PLUGIN_LISTEN_ADDR: `unix://${dir}/env.sock` });
    await socketUp(join(dir, 'env.sock'));
    expect((await stat(join(dir, 'env.sock'))).mode & 0o777).toBe(0o640); // flag beats file
    const client = createPluginClient(`unix://${dir}/env.sock`); // env beats file
    expect((await client.status()).version).toBe('v2beta1'); // file beats default
    client.close();
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
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
    const r = runToExit(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', `127.0.0.1:${port}`]);
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
    const c = start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', 'off']);
    await socketUp(sock);
    const client = createPluginClient(`unix://${sock}`);
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
      const c = start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', '127.0.0.1:0']);
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

  it.each(['removed', 'renamed'])('exits 1 when its socket file is %s while serving, so that its supervisor restarts it', async (how) => {
    const sock = join(dir, `${how}.sock`);
    const c = start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', 'off']);
    await socketUp(sock);
    if (how === 'removed') await rm(sock);
    else await import('node:fs/promises').then((fs) => fs.rename(sock, join(dir, 'moved-aside.sock')));
    expect(await exited(c)).toBe(1);
    expect(output).toContain(`socket file ${sock} was removed`);
    expect(output).toContain('exiting so that the supervisor starts a fresh plugin');
  });

  it('writes only JSON log lines with level names and ISO times, and one start-up line that says what it serves', async () => {
    const sock = join(dir, 'logs.sock');
    const c = start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', '127.0.0.1:0', '--log-level', 'debug']);
    await socketUp(sock);
    c.kill('SIGTERM');
    expect(await exited(c)).toBe(0);
    const lines = output.trim().split('\n');
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) {
      expect(r.level).toMatch(/^(trace|debug|info|warn|error|fatal)$/);
      expect(r.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(records.find((r) => r.msg === 'serving')).toMatchObject({
      version: expect.stringMatching(/^kms-plugin-local 0\.1\.0 \(commit /),
      backend: 'local',
      target: { keyFile, keyVersions: 1 },
      keyId: expect.stringMatching(/^local:/),
      listenAddr: `unix://${sock}`,
      socketMode: '0600',
      kekMode: 'local',
      kekLimits: { maxAgeMs: 86_400_000, maxUses: 1_048_576 },
      remote: { timeoutMs: 2000, breakerThreshold: 5, breakerHalfOpenAfterMs: 5000, rateLimit: { perSecond: 100 } },
    });
  });

  it('uses a key added by `rotate` from its next refresh, without a restart, and reads older data', async () => {
    const sock = join(dir, 's.sock');
    start(['--key-file', keyFile, '--listen-addr', `unix://${sock}`, '--health-addr', '127.0.0.1:0', '--refresh-interval', '200ms']);
    const client = createPluginClient(`unix://${sock}`);
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
