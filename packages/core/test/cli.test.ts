import { rename, rm, stat, watch, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { FAKE_PLUGIN_BIN, runBinary, startPluginBinary, startProcess, type RunningPluginBinary } from '@k8s-kms/testkit';

/**
 * The behaviour every binary gets from core's CLI runner, tested once here on kms-plugin-fake
 * (the runner over an in-memory backend): exit codes, flag forms, config-file errors, signals,
 * the socket's lifetime, the log format. What each real binary must also show is the shared
 * binary suite (@k8s-kms/testkit/binary), which every backend runs.
 */
const BIN = FAKE_PLUGIN_BIN;
const KEY = ['--fake-key-id', 'cli-test-key'];

describe("core's CLI runner (on kms-plugin-fake)", () => {
  let dir: string;
  const running: RunningPluginBinary[] = [];
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-cli-'));
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  });
  const serve = async (args: string[] = [], env: Record<string, string> = {}) => {
    const p = await startPluginBinary(BIN, { args: [...KEY, ...args], env });
    running.push(p);
    return p;
  };

  it('prints --version with the commit, core, Node.js and platform', () => {
    const r = runBinary(BIN, ['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(
      /^kms-plugin-fake 0\.1\.0 \(commit ([0-9a-f]{12}(-dirty)?|unknown); @k8s-kms\/core 0\.1\.0; node v\d+\.\d+\.\d+ linux\/x64\)$/,
    );
  });

  it.each([
    [[...KEY, '--socket-mode', '0666'], '--socket-mode: must not grant access to other users'],
    [[...KEY, '--kek-mode', 'remote'], '--kek-mode:'],
    [[...KEY, '--kek-max-age', 'forever'], '--kek-max-age: must be a duration like 250ms, 30s, 5m, 1h30m or 24h'],
    [[...KEY, '--breaker-open-for', '0s'], '--breaker-open-for: must be at least 100ms'],
    [[...KEY, '--kek-max-uses', '0'], '--kek-max-uses:'],
    [[...KEY, '--listen-addr', '/var/run/k.sock'], '--listen-addr must look like unix:///path/to/socket.sock'],
    [[...KEY, '--listen-addr', `unix:///tmp/${'d'.repeat(100)}/k.sock`], '--listen-addr: the socket path is 112 bytes'],
    [[...KEY, '--health-addr', 'localhost'], '--health-addr must be host:port'],
    [[...KEY, '--no-such-flag'], "unknown option '--no-such-flag'"],
    [['--fake-key-id'], "option '--fake-key-id <id>' argument missing"],
    [[], '--fake-key-id is required (or set KMS_PLUGIN_FAKE_KEY_ID, or "fake-key-id" in the config file)'],
  ])('refuses %j at start with exit 2 and an error naming the flag', (args, message) => {
    const r = runBinary(BIN, ['--health-addr', 'off', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('    at '); // a message, not a stack trace
  });

  it('reports every bad option at once, one line each', () => {
    const r = runBinary(BIN, [...KEY, '--kek-mode', 'remote', '--backend-retries', '99', '--refresh-interval', '1x']);
    expect(r.code).toBe(2);
    for (const flag of ['--kek-mode', '--backend-retries', '--refresh-interval']) expect(r.stderr).toContain(flag);
  });

  it('accepts Go-style durations such as 1h30m', async () => {
    const p = await serve(['--kek-max-age', '1h30m', '--refresh-interval', '1m30s']);
    const serving = JSON.parse(
      p
        .output()
        .split('\n')
        .find((l) => l.includes('"serving"')) ?? '{}',
    ) as Record<string, unknown>;
    expect(serving).toMatchObject({ kekLimits: { maxAgeMs: 5_400_000 }, refresh: { intervalMs: 90_000 } });
  });

  it('never echoes the contents of a config file that is not JSON, and names unknown keys', async () => {
    const config = join(dir, 'token.txt');
    await writeFile(config, 's3cr3t-token-value');
    const notJson = runBinary(BIN, [...KEY, '--config', config]);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toContain(`--config: ${config} is not valid JSON`);
    expect(notJson.stderr).not.toContain('s3cr3t');
    await writeFile(config, JSON.stringify({ 'fake-key-id': 'k', 'listen-adr': 'x' }));
    const unknown = runBinary(BIN, ['--config', config]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain(`--config: unknown keys in ${config}: listen-adr`);
  });

  it('never echoes a secret option in its errors', () => {
    const r = runBinary(BIN, [...KEY, '--fake-secret', 'short']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--fake-secret: invalid value');
    expect(r.stderr).not.toContain('short');
  });

  it('exits 1 and removes its socket when the health address is taken', async () => {
    const { createServer } = await import('node:net');
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    const sock = join(dir, 's.sock');
    const r = runBinary(BIN, [...KEY, '--listen-addr', `unix://${sock}`, '--health-addr', `127.0.0.1:${port}`]);
    blocker.close();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}`);
    await expect(stat(sock)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('on SIGTERM the instant its socket appears (still starting up), removes the socket and exits 0', async () => {
    // kube-apiserver's static pod may be torn down while the plugin is still starting; the signal
    // handler must be in place before the socket exists, or the default action kills the process
    // and leaves a stale socket behind.
    for (let i = 0; i < 3; i++) {
      const name = `early-${i}.sock`;
      const watcher = watch(dir);
      const { proc } = await startProcess({
        command: process.execPath,
        args: [BIN, ...KEY, '--listen-addr', `unix://${join(dir, name)}`, '--health-addr', '127.0.0.1:0'],
        installedBy: 'scripts/setup.sh',
        ready: async () => true,
      });
      for await (const event of watcher) {
        if (event.filename === name) {
          proc.signal('SIGTERM');
          break;
        }
      }
      expect(await proc.waitForExit()).toBe(0);
      await expect(stat(join(dir, name))).rejects.toMatchObject({ code: 'ENOENT' });
    }
  });

  it('on SIGTERM lets the calls in flight finish before it exits 0', async () => {
    const p = await serve(['--kek-mode', 'direct', '--fake-latency', '400ms']);
    const inFlight = Array.from({ length: 8 }, (_, i) => p.client.encrypt(Buffer.alloc(32, i)));
    await new Promise((r) => setTimeout(r, 100)); // all 8 are inside a 400 ms backend call now
    p.proc.signal('SIGTERM');
    const answers = await Promise.allSettled(inFlight);
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill('fulfilled'));
    expect(await p.proc.waitForExit()).toBe(0);
    expect(p.output()).toContain('shutting down: draining in-flight calls');
  });

  it.each(['removed', 'renamed'])('exits 1 when its socket file is %s while serving, so that its supervisor restarts it', async (how) => {
    const p = await serve();
    if (how === 'removed') await rm(p.socketPath);
    else await rename(p.socketPath, join(dir, 'moved-aside.sock'));
    expect(await p.proc.waitForExit()).toBe(1);
    expect(p.output()).toContain(`socket file ${p.socketPath} was removed`);
    expect(p.output()).toContain('exiting so that the supervisor starts a fresh plugin');
  });

  it('writes one start-up line that says what it serves and how it is set', async () => {
    const p = await serve();
    const records = p
      .output()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.find((r) => r.msg === 'serving')).toMatchObject({
      level: 'info',
      version: expect.stringMatching(/^kms-plugin-fake 0\.1\.0 \(commit /) as unknown as string,
      backend: 'fake',
      keyId: expect.stringMatching(/^fake:/) as unknown as string,
      listenAddr: p.socketAddress,
      socketMode: '0600',
      kekMode: 'local',
      kekLimits: { maxAgeMs: 86_400_000, maxUses: 1_048_576 },
      remote: { timeoutMs: 2000, breakerThreshold: 5, breakerHalfOpenAfterMs: 5000, rateLimit: { perSecond: 100 } },
    });
  });
});
