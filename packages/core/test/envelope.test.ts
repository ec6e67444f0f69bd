import { afterEach, describe, expect, it } from '@jest/globals';
import { InstrumentedProvider, startPlugin, type RunningPlugin } from '@k8s-kms/testkit';
import { startFakePlugin } from './support/plugin.js';

describe('the local KEK envelope', () => {
  const running: RunningPlugin[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
  });

  it('makes exactly one backend unwrap for 50 concurrent Decrypts under a KEK it has not seen', async () => {
    const writer = await startFakePlugin();
    running.push(writer.plugin);
    const seeds = Array.from({ length: 50 }, (_, i) => Buffer.alloc(32, i));
    const encs = await Promise.all(seeds.map((s) => writer.plugin.client.encrypt(s)));
    // A second replica over the same backend: its cache is cold.
    const reader = new InstrumentedProvider(writer.fake);
    reader.latencyMs = 50;
    const replica = await startPlugin(reader);
    running.push(replica);
    reader.reset();
    const plains = await Promise.all(encs.map((e) => replica.client.decrypt(e)));
    expect(plains).toEqual(seeds);
    expect(reader.calls.unwrap).toBe(1);
  });

  it('wraps one local KEK for many Encrypts, and a new one after max uses', async () => {
    const { provider, plugin } = await startFakePlugin({ kekLimits: { maxUses: 10 } });
    running.push(plugin);
    provider.reset();
    const encs = [];
    for (let i = 0; i < 25; i++) encs.push(await plugin.client.encrypt(Buffer.alloc(32, i)));
    expect(provider.calls.wrap).toBe(3); // uses 1-10, 11-20, 21-25
    const kekAnnotations = new Set(encs.map((e) => Object.values(e.annotations)[0]?.toString('hex')));
    expect(kekAnnotations.size).toBe(3);
    for (const [i, e] of encs.entries()) expect(await plugin.client.decrypt(e)).toEqual(Buffer.alloc(32, i));
  });

  it('never seals more than --kek-max-uses under one KEK, however many Encrypts wait for a new one', async () => {
    const { provider, plugin } = await startFakePlugin({ kekLimits: { maxUses: 3 } });
    running.push(plugin);
    provider.latencyMs = 50; // every wait for a new KEK overlaps the next callers
    const seeds = Array.from({ length: 40 }, (_, i) => Buffer.alloc(32, i));
    const encs = await Promise.all(seeds.map((s) => plugin.client.encrypt(s)));
    const uses = new Map<string, number>();
    for (const e of encs) {
      const kek = Object.values(e.annotations)[0]?.toString('hex') ?? '';
      uses.set(kek, (uses.get(kek) ?? 0) + 1);
    }
    expect(Math.max(...uses.values())).toBeLessThanOrEqual(3);
    expect(uses.size).toBeGreaterThanOrEqual(14); // ceil(40 / 3)
    for (const [i, e] of encs.entries()) expect(await plugin.client.decrypt(e)).toEqual(seeds[i]);
  });

  it('refuses KEK limits that would make a new KEK for every seal', async () => {
    const { createPluginServer } = await import('../src/index.js');
    const { FakeMemoryProvider } = await import('@k8s-kms/testkit');
    expect(() =>
      createPluginServer({ provider: new FakeMemoryProvider(), listenAddr: 'unix:///tmp/never.sock', kekLimits: { maxUses: 0 } }),
    ).toThrow('kekLimits.maxUses must be a whole number of at least 1');
  });

  it('replaces the local KEK after its maximum age', async () => {
    const { provider, plugin } = await startFakePlugin({ kekLimits: { maxAgeMs: 100 } });
    running.push(plugin);
    const first = await plugin.client.encrypt(Buffer.alloc(32, 1));
    await new Promise((r) => setTimeout(r, 150));
    provider.reset();
    const second = await plugin.client.encrypt(Buffer.alloc(32, 2));
    expect(provider.calls.wrap).toBe(1);
    expect(second.annotations).not.toEqual(first.annotations);
    expect(await plugin.client.decrypt(first)).toEqual(Buffer.alloc(32, 1));
  });

  it('replaces the local KEK when the backend key rotates, and reads data from before', async () => {
    const { fake, plugin } = await startFakePlugin();
    running.push(plugin);
    const before = await plugin.client.encrypt(Buffer.alloc(32, 1));
    fake.rotate();
    await plugin.server.refreshKey();
    const after = await plugin.client.encrypt(Buffer.alloc(32, 2));
    expect(after.keyId).not.toBe(before.keyId);
    expect(after.annotations).not.toEqual(before.annotations);
    expect(await plugin.client.decrypt(before)).toEqual(Buffer.alloc(32, 1));
  });

  it('makes one wrap for 50 concurrent first Encrypts', async () => {
    const { provider, plugin } = await startFakePlugin();
    running.push(plugin);
    provider.latencyMs = 50;
    provider.reset();
    await Promise.all(Array.from({ length: 50 }, (_, i) => plugin.client.encrypt(Buffer.alloc(32, i))));
    expect(provider.calls.wrap).toBe(1);
  });

  it('costs one backend call per Encrypt and per Decrypt in direct mode, and reads local-mode data', async () => {
    const local = await startFakePlugin();
    running.push(local.plugin);
    const old = await local.plugin.client.encrypt(Buffer.alloc(32, 9));
    const provider = new InstrumentedProvider(local.fake);
    const direct = await startPlugin(provider, { kekMode: 'direct' });
    running.push(direct);
    provider.reset();
    const enc = await direct.client.encrypt(Buffer.alloc(32, 4));
    expect(enc.annotations).toEqual({});
    expect(await direct.client.decrypt(enc)).toEqual(Buffer.alloc(32, 4));
    expect(provider.calls).toEqual({ 'current-key': 0, wrap: 1, unwrap: 1 });
    expect(await direct.client.decrypt(old)).toEqual(Buffer.alloc(32, 9));
  });
});
