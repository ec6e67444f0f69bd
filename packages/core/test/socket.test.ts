import { chmod, chown, mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { codeOf, InstrumentedProvider, LogCapture } from '@k8s-kms/testkit';
import { waitFor } from '@k8s-kms/testkit';
import { ConfigError, createPluginClient, createLogger, createPluginServer, type PluginServer } from '../src/index.js';
import { FakeMemoryProvider } from '@k8s-kms/testkit';

describe('the socket server', () => {
  let dir: string;
  let server: PluginServer | undefined;
  const make = (
    listenAddr: string,
    extra: { socketMode?: number; disableV1?: boolean; provider?: InstrumentedProvider; onSocketLost?: (r: string) => void } = {},
  ) =>
    createPluginServer({
      provider: extra.provider ?? new FakeMemoryProvider(),
      listenAddr,
      logger: createLogger({ level: 'silent', name: 't' }),
      ...(extra.socketMode === undefined ? {} : { socketMode: extra.socketMode }),
      ...(extra.disableV1 ? { disableV1: true } : {}),
      ...(extra.onSocketLost ? { onSocketLost: extra.onSocketLost, healthAddr: '127.0.0.1:0' } : {}),
    });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'k8s-kms-sock-'));
  });
  afterEach(async () => {
    await server?.stop(500);
    server = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the socket with mode 0600 by default and 0660 when asked', async () => {
    server = make(`unix://${dir}/a.sock`);
    await server.start();
    expect((await stat(`${dir}/a.sock`)).mode & 0o777).toBe(0o600);
    const group = make(`unix://${dir}/b.sock`, { socketMode: 0o660 });
    await group.start();
    expect((await stat(`${dir}/b.sock`)).mode & 0o777).toBe(0o660);
    await group.stop(100);
  });

  it('removes a stale socket file left by a crashed plugin', async () => {
    const path = `${dir}/stale.sock`;
    // A process that binds the socket and is killed with SIGKILL leaves the file behind.
    spawnSync(process.execPath, [
      '-e',
      `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`,
    ]);
    expect((await stat(path)).isSocket()).toBe(true);
    server = make(`unix://${path}`);
    await server.start();
    const client = createPluginClient(server.socketAddress);
    expect((await client.status()).healthz).toBe('ok');
    client.close();
  });

  it('refuses to replace a path that is not a socket, naming it', async () => {
    const path = `${dir}/regular-file`;
    await writeFile(path, 'not a socket');
    server = make(`unix://${path}`);
    await expect(server.start()).rejects.toThrow(`socket path ${path} exists and is not a socket; refusing to replace it`);
    server = undefined;
  });

  it('refuses to take over a socket another live plugin serves', async () => {
    server = make(`unix://${dir}/live.sock`);
    await server.start();
    const second = make(`unix://${dir}/live.sock`);
    await expect(second.start()).rejects.toThrow('is in use by another running process');
  });

  it.each(['0770', '0777', '01777', '0720', '0702'])(
    'refuses a socket directory of mode %s, which others could write to put an impostor in its place',
    async (octal) => {
      const mode = parseInt(octal, 8);
      const shared = join(dir, 'shared');
      await mkdir(shared);
      await chmod(shared, mode);
      server = make(`unix://${shared}/kms.sock`);
      const err = await server.start().catch((e: unknown) => e);
      server = undefined;
      expect(ConfigError.is(err)).toBe(true);
      expect((err as Error).message).toContain(`socket directory ${shared} has mode 0${mode.toString(8)}: others can write it`);
      await expect(stat(`${shared}/kms.sock`)).rejects.toMatchObject({ code: 'ENOENT' });
    },
  );

  // Only root can give a directory away to another user.
  (process.getuid?.() === 0 ? it : it.skip)('refuses a socket directory that belongs to another user', async () => {
    const theirs = join(dir, 'theirs');
    await mkdir(theirs, { mode: 0o755 });
    await chown(theirs, 4242, 4242);
    server = make(`unix://${theirs}/kms.sock`);
    await expect(server.start()).rejects.toThrow(`socket directory ${theirs} belongs to uid 4242`);
    server = undefined;
  });

  it('refuses a socket whose parent directory sits in a directory others may rename it out of', async () => {
    const open = join(dir, 'open');
    await mkdir(join(open, 'sub'), { recursive: true });
    await chmod(open, 0o777); // not sticky: anyone could rename "sub" away and put their own
    server = make(`unix://${open}/sub/kms.sock`);
    await expect(server.start()).rejects.toThrow(`directory ${open} above the socket belongs to uid`);
    server = undefined;
  });

  it('refuses a socket path through a symlink that sits in a directory others can write', async () => {
    const safe = join(dir, 'safe');
    const open = join(dir, 'open');
    await mkdir(safe, { mode: 0o700 });
    await mkdir(open);
    await chmod(open, 0o777);
    const { symlink } = await import('node:fs/promises');
    await symlink(safe, join(open, 'link'));
    server = make(`unix://${open}/link/kms.sock`);
    await expect(server.start()).rejects.toThrow(`directory ${open} above the socket`);
    server = undefined;
  });

  it('accepts a shared socket directory with allowSharedSocketDir, warning at start', async () => {
    const shared = join(dir, 'shared-on-purpose');
    await mkdir(shared);
    await chmod(shared, 0o770);
    const logs = new LogCapture();
    server = createPluginServer({
      provider: new FakeMemoryProvider(),
      listenAddr: `unix://${shared}/kms.sock`,
      allowSharedSocketDir: true,
      logger: createLogger({ level: 'warn', name: 't', destination: logs }),
    });
    await server.start();
    expect(logs.text).toContain(`socket directory ${shared} has mode 0770`);
    expect(logs.text).toContain('(allowed by --allow-shared-socket-dir)');
  });

  it('refuses socket paths longer than sun_path holds instead of binding a truncated one', () => {
    const long = `unix://${dir}/${'s'.repeat(120)}.sock`;
    expect(() => make(long)).toThrow(/--listen-addr: the socket path is \d+ bytes; a unix socket address holds at most 107 \(sun_path\)/);
    expect(() => make(`unix:///@${'a'.repeat(108)}`)).toThrow('--listen-addr: the abstract socket name is 108 bytes');
  });

  it.each(['removed', 'renamed'])('notices its socket file %s while serving: /livez fails and the owner is told', async (how) => {
    const path = `${dir}/watched.sock`;
    let lost: string | undefined;
    server = make(`unix://${path}`, { onSocketLost: (reason) => (lost = reason) });
    await server.start();
    const livez = async () => (await fetch(`http://${server?.healthAddress}/livez`)).status;
    expect(await livez()).toBe(200);
    if (how === 'removed') await rm(path);
    else await rename(path, `${dir}/aside.sock`);
    expect(await waitFor(async () => lost, 'the socket loss to be noticed', 5000)).toBe(`socket file ${path} was removed`);
    expect(await livez()).toBe(503);
  });

  it('notices an impostor bound at its socket path', async () => {
    const path = `${dir}/impostor.sock`;
    let lost: string | undefined;
    server = make(`unix://${path}`, { onSocketLost: (reason) => (lost = reason) });
    await server.start();
    await rm(path);
    const { createServer } = await import('node:net');
    const impostor = createServer();
    await new Promise<void>((r) => impostor.listen(path, r));
    try {
      expect(await waitFor(async () => lost, 'the impostor to be noticed', 5000)).toBe(`socket file ${path} was replaced`);
    } finally {
      impostor.close();
    }
  });

  it('serves on an abstract socket, warning once in a well-formed log line', async () => {
    const name = `k8s-kms-test-${process.pid}-${Date.now()}`;
    const logs = new LogCapture();
    server = createPluginServer({
      provider: new FakeMemoryProvider(),
      listenAddr: `unix:///@${name}`,
      logger: createLogger({ level: 'warn', name: 't', destination: logs }),
    });
    await server.start();
    const line = logs.text.split('\n').find((l) => l.includes('abstract socket')) ?? '';
    expect(line.match(/"name":/g)).toHaveLength(1); // the logger's name only, not a second key of the same name
    expect(JSON.parse(line)).toMatchObject({ level: 'warn', abstractName: name });
    const client = createPluginClient(`unix:///@${name}`);
    expect((await client.status()).version).toBe('v2');
    client.close();
  });

  it('rejects listen addresses that kube-apiserver could not use, naming the flag', () => {
    expect(() => make('/var/run/kms.sock')).toThrow('--listen-addr must look like unix:///path/to/socket.sock');
    expect(() => make('tcp://127.0.0.1:9000')).toThrow('--listen-addr');
  });

  it('turns v1beta1 off with disableV1', async () => {
    server = make(`unix://${dir}/v2only.sock`, { disableV1: true });
    await server.start();
    const client = createPluginClient(server.socketAddress);
    expect(await codeOf(client.v1Version())).toBe(status.UNIMPLEMENTED);
    expect((await client.status()).healthz).toBe('ok');
    client.close();
  });

  it('drains an in-flight call on stop, then removes the socket and refuses new calls', async () => {
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    server = make(`unix://${dir}/drain.sock`, { provider });
    await server.start();
    const client = createPluginClient(server.socketAddress);
    provider.latencyMs = 300; // the first Encrypt wraps a new local KEK: one slow backend call
    const inFlight = client.encrypt(Buffer.alloc(32, 5));
    await new Promise((r) => setTimeout(r, 50));
    const stopping = server.stop(5000);
    await expect(inFlight).resolves.toMatchObject({ keyId: expect.stringMatching(/^fake:/) });
    await stopping;
    server = undefined;
    await expect(stat(`${dir}/drain.sock`)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await codeOf(client.status())).toBe(status.UNAVAILABLE);
    client.close();
  });

  it("never removes a successor's socket when a draining predecessor finally stops", async () => {
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    const path = `${dir}/handover.sock`;
    const old = make(`unix://${path}`, { provider });
    await old.start();
    const client = createPluginClient(old.socketAddress);
    provider.latencyMs = 400;
    const inFlight = client.encrypt(Buffer.alloc(32, 1));
    await new Promise((r) => setTimeout(r, 50));
    const stopping = old.stop(5000); // stops listening at once, drains for up to 5 s
    await new Promise((r) => setTimeout(r, 50));
    server = make(`unix://${path}`); // the successor finds a socket nobody serves and takes over
    await server.start();
    await inFlight;
    await stopping;
    client.close();
    const next = createPluginClient(server.socketAddress);
    expect((await next.status()).healthz).toBe('ok');
    next.close();
  });

  it('counts a request whose caller gave up as UNAVAILABLE, not INTERNAL', async () => {
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    server = make(`unix://${dir}/deadline.sock`, { provider });
    await server.start();
    provider.latencyMs = 500;
    const impatient = createPluginClient(server.socketAddress, { timeoutMs: 100 });
    expect(await codeOf(impatient.encrypt(Buffer.alloc(32)))).toBe(status.DEADLINE_EXCEEDED);
    impatient.close();
    await new Promise((r) => setTimeout(r, 600));
    const text = await server.metrics.registry.getSingleMetricAsString('kms_plugin_grpc_requests_total');
    expect(text).toContain('method="Encrypt",code="UNAVAILABLE"} 1');
    expect(text).not.toContain('code="INTERNAL"');
  });

  it('logs request uids but never plaintexts or key material', async () => {
    const logs = new LogCapture();
    server = createPluginServer({
      provider: new FakeMemoryProvider(),
      listenAddr: `unix://${dir}/log.sock`,
      logger: createLogger({ level: 'trace', name: 't', destination: logs }),
    });
    await server.start();
    const client = createPluginClient(server.socketAddress);
    const seed = Buffer.from('0123456789abcdef0123456789abcdef');
    const enc = await client.encrypt(seed, 'uid-encrypt-1');
    await client.decrypt({ ...enc, uid: 'uid-decrypt-1' });
    await codeOf(client.decrypt({ ...enc, keyId: 'wrong', uid: 'uid-bad-1' }));
    client.close();
    expect(logs.text).toContain('uid-encrypt-1');
    expect(logs.text).toContain('uid-bad-1');
    for (const form of [seed.toString('utf8'), seed.toString('hex'), seed.toString('base64')]) expect(logs.text).not.toContain(form);
    expect(logs.text).not.toContain(enc.ciphertext.toString('base64'));
  });
});
