import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import type { ErrorClass, KeyProvider } from '@k8s-kms/core';
import { codeOf, kmsErrorOf, leaked, startPlugin, waitFor, waitHealthy } from '@k8s-kms/testkit';
import { parseAzureConfig } from '../src/config.js';
import { azureKeyVaultProviderFrom } from '../src/create.js';
import { StandInFixture } from './support/stand-in.js';

let fx: StandInFixture;
beforeAll(async () => {
  fx = await StandInFixture.start();
});
afterAll(async () => fx.stop());

const signal = (): AbortSignal => new AbortController().signal;
const AAD = Buffer.from('aad');

async function wrapped(provider: KeyProvider, plaintext: Uint8Array): Promise<Uint8Array> {
  return provider.wrap(plaintext, { key: await provider.currentKey({ signal: signal() }), aad: AAD, signal: signal() });
}

describe('Key Vault provider against the stand-in', () => {
  it('reads the current version at currentKey (get key, no crypto call) and wraps under exactly that version', async () => {
    const key = fx.key('current');
    const provider = await fx.provider(key);
    const before = { ...fx.standIn.calls };
    const version = await provider.currentKey({ signal: signal() });
    const v1 = fx.standIn.keys.current(key).version;
    expect(version).toEqual({ id: `${key}/${v1}` });
    expect([fx.standIn.calls.get - before.get, fx.standIn.calls.wrapKey - before.wrapKey]).toEqual([1, 0]);
    // A rotation between currentKey and wrap does not move the wrap to the new version.
    fx.standIn.rotate(key);
    const seed = randomBytes(32);
    const w = await provider.wrap(seed, { key: version, aad: AAD, signal: signal() });
    expect(Buffer.from(w).includes(Buffer.from(`${key}/${v1}`))).toBe(true);
    expect(await provider.unwrap(w, { aad: AAD, signal: signal() })).toEqual(seed);
    // One cryptography client per version: its challenge once, then one request per operation.
    const challenges = fx.standIn.calls.challenge;
    for (let i = 0; i < 5; i++) await provider.unwrap(w, { aad: AAD, signal: signal() });
    expect(fx.standIn.calls.challenge - challenges).toBe(0);
    await provider.close?.();
  });

  it('follows a rotation (new key_id), keeps old data readable, and a disabled old version fails naming it', async () => {
    const key = fx.key('rotation');
    const provider = await fx.provider(key);
    const seed = randomBytes(32);
    const old = await wrapped(provider, seed);
    const v1 = fx.standIn.keys.current(key);
    const v2 = fx.standIn.rotate(key);
    expect((await provider.currentKey({ signal: signal() })).id).toBe(`${key}/${v2.version}`);
    expect(await provider.unwrap(old, { aad: AAD, signal: signal() })).toEqual(seed);
    fx.standIn.keys.update(v1, { enabled: false });
    const e = await kmsErrorOf(provider.unwrap(old, { aad: AAD, signal: signal() }));
    expect([e.errorClass, e.message]).toEqual([
      'user-induced',
      `Key Vault unwrapKey: Forbidden/KeyDisabled (HTTP 403): Operation unwrapKey is not allowed on a disabled key. (the data is under key ${key} version ${v1.version})`,
    ]);
    await provider.close?.();
  });

  it('through the plugin: a rotation changes the key_id within one refresh, and a disabled old version is FAILED_PRECONDITION', async () => {
    const key = fx.key('rotation-plugin');
    const plugin = await startPlugin(await fx.provider(key), { kekMode: 'direct', refresh: { intervalMs: 200 } });
    try {
      const first = await waitFor(async () => {
        const s = await plugin.client.status();
        return s.healthz === 'ok' ? s.keyId : undefined;
      }, 'healthy');
      const seed = randomBytes(32);
      const enc = await plugin.client.encrypt(seed);
      const v1 = fx.standIn.keys.current(key);
      fx.standIn.rotate(key);
      await waitFor(async () => ((await plugin.client.status()).keyId !== first ? true : undefined), 'a new key_id');
      expect(await plugin.client.decrypt(enc)).toEqual(seed);
      fx.standIn.keys.update(v1, { enabled: false });
      expect(await codeOf(plugin.client.decrypt(enc))).toBe(status.FAILED_PRECONDITION);
      expect(plugin.logs.text).toContain(`the data is under key ${key} version ${v1.version}`);
      expect(leaked(plugin.logs.text, [seed, ...fx.secrets()])).toEqual([]);
    } finally {
      await plugin.stop();
    }
  });

  it('a pinned --key-version keeps its key_id through a rotation', async () => {
    const key = fx.key('pinned');
    const v1 = fx.standIn.keys.current(key).version;
    const provider = await fx.provider(key, { 'key-version': v1 });
    expect((await provider.currentKey({ signal: signal() })).id).toBe(`${key}/${v1}`);
    fx.standIn.rotate(key);
    const seed = randomBytes(32);
    const w = await wrapped(provider, seed);
    expect(Buffer.from(w).includes(Buffer.from(`${key}/${v1}`))).toBe(true);
    expect(await provider.unwrap(w, { aad: AAD, signal: signal() })).toEqual(seed);
    await provider.close?.();
  });

  it('calls a version unusable when it is disabled, not yet valid, expired or may not wrap, and an expired key still unwraps', async () => {
    const key = fx.key('unusable');
    const provider = await fx.provider(key);
    const v = fx.standIn.keys.current(key);
    const seed = randomBytes(32);
    const w = await wrapped(provider, seed);
    const reason = async (): Promise<string | undefined> => (await provider.currentKey({ signal: signal() })).unusableReason;
    const now = Math.floor(Date.now() / 1000);
    fx.standIn.keys.update(v, { enabled: false });
    const versions = fx.standIn.calls.versions;
    expect(await reason()).toBe(`version ${v.version} is disabled`);
    expect(fx.standIn.calls.versions - versions).toBe(1); // get refuses a disabled version: the list says which is current
    fx.standIn.keys.update(v, { enabled: true, nbf: now + 3600 });
    expect(await reason()).toMatch(new RegExp(`^version ${v.version} is not valid before \\d{4}-`));
    fx.standIn.keys.update(v, { nbf: null, exp: now - 10 });
    expect(await reason()).toMatch(new RegExp(`^version ${v.version} expired at \\d{4}-`));
    // Key Vault lets an expired key unwrap, so the data it protects stays readable.
    expect(await provider.unwrap(w, { aad: AAD, signal: signal() })).toEqual(seed);
    fx.standIn.keys.update(v, { exp: null, keyOps: ['encrypt', 'decrypt'] });
    expect(await reason()).toBe(`version ${v.version} does not permit wrapKey and unwrapKey (key_ops encrypt,decrypt)`);
    fx.standIn.keys.update(v, { keyOps: ['wrapKey', 'unwrapKey'] });
    expect(await reason()).toBeUndefined();
    await provider.close?.();
  });

  it('refuses data of a key that is not --key-name before any call, and reads it with --decrypt-key-name', async () => {
    const old = fx.key('old-key');
    const next = fx.key('new-key');
    const seed = randomBytes(32);
    const w = await wrapped(await fx.provider(old), seed);
    const calls = fx.standIn.calls.unwrapKey;
    const e = await kmsErrorOf((await fx.provider(next)).unwrap(w, { aad: AAD, signal: signal() }));
    expect([e.errorClass, e.message, fx.standIn.calls.unwrapKey - calls]).toEqual([
      'user-induced',
      'data was wrapped by key old-key, which is not --key-name; list it with --decrypt-key-name to read it',
      0,
    ]);
    expect(await (await fx.provider(next, { 'decrypt-key-name': [old] })).unwrap(w, { aad: AAD, signal: signal() })).toEqual(seed);
  });

  it.each<[number, string | undefined, ErrorClass, number | undefined]>([
    [429, '3', 'throttled', 3000],
    [500, undefined, 'unavailable', undefined],
    [503, '2', 'unavailable', 2000],
    [404, undefined, 'user-induced', undefined],
    [403, undefined, 'user-induced', undefined],
    [400, undefined, 'corrupt-ciphertext', undefined],
  ])('an unwrapKey answer of HTTP %d (Retry-After %s) is %s', async (code, retryAfter, errorClass, retryAfterMs) => {
    const key = fx.key(`status-${code}`);
    const provider = await fx.provider(key);
    const w = await wrapped(provider, randomBytes(32));
    fx.standIn.inject('unwrapKey', {
      kind: 'status',
      status: code,
      code: code === 404 ? 'KeyNotFound' : undefined,
      ...(retryAfter ? { retryAfter } : {}),
    });
    const e = await kmsErrorOf(provider.unwrap(w, { aad: AAD, signal: signal() }));
    expect([e.errorClass, e.retryAfterMs]).toEqual([errorClass, retryAfterMs]);
    expect(e.message).toContain(`(HTTP ${code})`);
  });

  it('a stalled vault is abandoned when the signal aborts (unavailable), and an unreachable one is unavailable', async () => {
    const key = fx.key('stall');
    const provider = await fx.provider(key);
    fx.standIn.inject('get', { kind: 'stall', ms: 5000 });
    const e = await kmsErrorOf(provider.currentKey({ signal: AbortSignal.timeout(200) }));
    expect(e.errorClass).toBe('unavailable');
    fx.standIn.clearFaults();
    await fx.proxy.down();
    try {
      const down = await kmsErrorOf(provider.currentKey({ signal: signal() }));
      expect([down.errorClass, down.message]).toEqual(['unavailable', expect.stringMatching(/ECONNREFUSED/)]);
    } finally {
      await fx.proxy.up();
    }
  });

  it('a 429 storm is absorbed: Retry-After honoured within the budget, no call fails, the rate limit holds', async () => {
    const key = fx.key('storm');
    const plugin = await startPlugin(await fx.provider(key), { kekMode: 'direct' });
    try {
      await waitHealthy(plugin.client);
      const n = 20;
      fx.standIn.inject('wrapKey', { kind: 'status', status: 429, retryAfter: '1' }, n);
      const wraps = fx.standIn.calls.wrapKey;
      const seeds = Array.from({ length: n }, () => randomBytes(32));
      const started = Date.now();
      const out = await Promise.all(seeds.map((s) => plugin.client.encrypt(s)));
      expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // each waited the second it was asked to
      expect(fx.standIn.calls.wrapKey - wraps).toBe(2 * n);
      for (const [i, enc] of out.entries()) expect(await plugin.client.decrypt(enc)).toEqual(seeds[i]);
    } finally {
      await plugin.stop();
    }
  });

  it("an unknown key is user-induced at currentKey, naming Key Vault's KeyNotFound", async () => {
    const provider = await azureKeyVaultProviderFrom(parseAzureConfig({ ...fx.flags('no-such-key') }));
    const e = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([e.errorClass, e.message]).toEqual([
      'user-induced',
      expect.stringMatching(/^Key Vault get key: KeyNotFound \(HTTP 404\): A key with \(name\/id\) no-such-key was not found/),
    ]);
  });
});
