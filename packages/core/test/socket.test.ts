import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { codeOf, InstrumentedProvider, LogCapture } from '@k8s-kms/testkit';
import { createKmsClient, createLogger, createPluginServer, type PluginServer } from '../src/index.js';
import { FakeMemoryProvider } from './support/fake-memory-provider.js';

describe('the socket server', () => {
  let dir: string;
  let server: PluginServer | undefined;
  const make = (listenAddr: string, extra: { socketMode?: number; disableV1?: boolean; provider?: InstrumentedProvider } = {}) =>
    createPluginServer({
      provider: extra.provider ?? new FakeMemoryProvider(),
      listenAddr,
      logger: createLogger({ level: 'silent', name: 't' }),
      ...(extra.socketMode === undefined ? {} : { socketMode: extra.socketMode }),
      ...(extra.disableV1 ? { disableV1: true } : {}),
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
    const client = createKmsClient(server.socketAddress);
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

  it('serves on an abstract socket', async () => {
    const name = `k8s-kms-test-${process.pid}-${Date.now()}`;
    server = make(`unix:///@${name}`);
    await server.start();
    const client = createKmsClient(`unix:///@${name}`);
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
    const client = createKmsClient(server.socketAddress);
    expect(await codeOf(client.v1Version())).toBe(status.UNIMPLEMENTED);
    expect((await client.status()).healthz).toBe('ok');
    client.close();
  });

  it('drains an in-flight call on stop, then removes the socket and refuses new calls', async () => {
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    server = make(`unix://${dir}/drain.sock`, { provider });
    await server.start();
    const client = createKmsClient(server.socketAddress);
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
    const client = createKmsClient(old.socketAddress);
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
    const next = createKmsClient(server.socketAddress);
    expect((await next.status()).healthz).toBe('ok');
    next.close();
  });

  it('counts a request whose caller gave up as UNAVAILABLE, not INTERNAL', async () => {
    const provider = new InstrumentedProvider(new FakeMemoryProvider());
    server = make(`unix://${dir}/deadline.sock`, { provider });
    await server.start();
    provider.latencyMs = 500;
    const impatient = createKmsClient(server.socketAddress, { timeoutMs: 100 });
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
    const client = createKmsClient(server.socketAddress);
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
