import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import type { ErrorClass, KeyProvider } from '@k8s-kms/core';
import { codeOf, kmsErrorOf, leaked, startPlugin, waitFor, waitHealthy } from '@k8s-kms/testkit';
import { CloudKmsStandIn } from './stand-in/index.js';
import { StandInFixture } from './support/stand-in.js';

let fx: StandInFixture;
beforeAll(async () => {
  fx = await StandInFixture.start();
});
afterAll(async () => fx.stop());

const signal = (): AbortSignal => new AbortController().signal;

/** A wrapped key of `provider` for `plaintext`, under its current key, with `aad`. */
async function wrapped(provider: KeyProvider, plaintext: Uint8Array, aad: Uint8Array): Promise<Uint8Array> {
  return provider.wrap(plaintext, { key: await provider.currentKey({ signal: signal() }), aad, signal: signal() });
}

describe('Cloud KMS provider against the stand-in', () => {
  it('reads the primary version at currentKey (GetCryptoKey, no crypto call) and wraps under exactly that version', async () => {
    const key = fx.key('primary');
    const provider = await fx.provider(key);
    const before = { get: fx.standIn.count('GetCryptoKey'), encrypt: fx.standIn.count('Encrypt') };
    const version = await provider.currentKey({ signal: signal() });
    expect(version.id).toMatch(new RegExp(`^${key}/cryptoKeyVersions/1@\\d+\\.\\d+$`));
    expect(version.unusableReason).toBeUndefined();
    expect(fx.standIn.count('GetCryptoKey') - before.get).toBe(1);
    expect(fx.standIn.count('Encrypt') - before.encrypt).toBe(0);
    // A rotation between currentKey and wrap does not move the wrap to the new primary.
    fx.standIn.rotate(key);
    const seed = randomBytes(32);
    const w = await provider.wrap(seed, { key: version, aad: Buffer.from('aad'), signal: signal() });
    expect(Buffer.from(w).includes(Buffer.from(`${key}/cryptoKeyVersions/1`))).toBe(true);
    expect(fx.standIn.routing.Encrypt).toBe(`name=${encodeURIComponent(`${key}/cryptoKeyVersions/1`)}`);
    expect(await provider.unwrap(w, { aad: Buffer.from('aad'), signal: signal() })).toEqual(seed);
    expect(fx.standIn.routing.Decrypt).toBe(`name=${encodeURIComponent(key)}`);
    await provider.close?.();
  });

  it('calls a key unusable when its primary is not ENABLED or its purpose is not ENCRYPT_DECRYPT', async () => {
    const key = fx.key('unusable');
    const provider = await fx.provider(key);
    fx.standIn.keys.setState(`${key}/cryptoKeyVersions/1`, 'DISABLED');
    expect((await provider.currentKey({ signal: signal() })).unusableReason).toBe('primary version 1 is DISABLED');
    const signing = `${key}-sign`;
    fx.standIn.createKey(signing, 'ASYMMETRIC_SIGN');
    const other = await fx.provider(signing);
    expect((await other.currentKey({ signal: signal() })).unusableReason).toBe('key purpose is ASYMMETRIC_SIGN, not ENCRYPT_DECRYPT');
    await Promise.all([provider.close?.(), other.close?.()]);
  });

  it('checks every CRC32C field: a damaged answer is retried (unavailable), never returned', async () => {
    const key = fx.key('crc');
    const provider = await fx.provider(key);
    const seed = randomBytes(32);
    const aad = Buffer.from('aad');
    fx.standIn.inject('Encrypt', { kind: 'corrupt' });
    const bad = await kmsErrorOf(wrapped(provider, seed, aad));
    expect([bad.errorClass, bad.retryable, bad.message]).toEqual([
      'unavailable',
      true,
      'Cloud KMS Encrypt: the ciphertext does not match its ciphertext_crc32c (damaged in transit)',
    ]);
    fx.standIn.inject('Encrypt', { kind: 'unverified' });
    expect((await kmsErrorOf(wrapped(provider, seed, aad))).message).toMatch(/did not verify the request checksums/);
    const w = await wrapped(provider, seed, aad);
    fx.standIn.inject('Decrypt', { kind: 'corrupt' });
    const damaged = await kmsErrorOf(provider.unwrap(w, { aad, signal: signal() }));
    expect([damaged.errorClass, damaged.message]).toEqual([
      'unavailable',
      'Cloud KMS Decrypt: the plaintext does not match its plaintext_crc32c (damaged in transit)',
    ]);
    expect(await provider.unwrap(w, { aad, signal: signal() })).toEqual(seed);
    await provider.close?.();
  });

  it('a CRC32C mismatch through the plugin is retried by core and no wrong plaintext reaches the caller', async () => {
    const key = fx.key('crc-plugin');
    const provider = await fx.provider(key);
    const plugin = await startPlugin(provider, { kekMode: 'direct', remote: { retries: 2, retryBaseMs: 10, retryMaxMs: 20 } });
    try {
      await waitHealthy(plugin.client);
      const seed = randomBytes(32);
      const encrypts = fx.standIn.count('Encrypt');
      fx.standIn.inject('Encrypt', { kind: 'corrupt' });
      const enc = await plugin.client.encrypt(seed);
      expect(fx.standIn.count('Encrypt') - encrypts).toBe(2);
      const decrypts = fx.standIn.count('Decrypt');
      fx.standIn.inject('Decrypt', { kind: 'corrupt' });
      expect(await plugin.client.decrypt(enc)).toEqual(seed);
      expect(fx.standIn.count('Decrypt') - decrypts).toBe(2);
      // Damaged every time: the caller gets UNAVAILABLE, never the flipped plaintext.
      fx.standIn.inject('Decrypt', { kind: 'corrupt' }, 10);
      expect(await codeOf(plugin.client.decrypt(enc))).toBe(status.UNAVAILABLE);
      fx.standIn.clearFaults();
      expect(leaked(plugin.logs.text, [seed.toString('base64'), fx.privateKey])).toEqual([]);
    } finally {
      await plugin.stop();
    }
  });

  it.each<[string, status, string | undefined, ErrorClass]>([
    ['Encrypt', status.PERMISSION_DENIED, undefined, 'user-induced'],
    ['Encrypt', status.FAILED_PRECONDITION, undefined, 'user-induced'],
    ['Encrypt', status.NOT_FOUND, undefined, 'user-induced'],
    ['Encrypt', status.UNAUTHENTICATED, undefined, 'user-induced'],
    ['Encrypt', status.RESOURCE_EXHAUSTED, 'Quota exceeded for quota metric cryptographic requests', 'throttled'],
    ['Encrypt', status.UNAVAILABLE, undefined, 'unavailable'],
    ['Encrypt', status.DEADLINE_EXCEEDED, undefined, 'unavailable'],
    ['Encrypt', status.INTERNAL, undefined, 'unavailable'],
    [
      'Encrypt',
      status.INVALID_ARGUMENT,
      'The checksum in field plaintext_crc32c did not match the data in field plaintext.',
      'unavailable',
    ],
    ['Encrypt', status.INVALID_ARGUMENT, 'Invalid resource name', 'invalid-input'],
    ['Decrypt', status.INVALID_ARGUMENT, "Decryption failed: verify that 'name' refers to the correct CryptoKey.", 'corrupt-ciphertext'],
    [
      'Decrypt',
      status.INVALID_ARGUMENT,
      'The checksum in field ciphertext_crc32c did not match the data in field ciphertext.',
      'unavailable',
    ],
    ['Decrypt', status.RESOURCE_EXHAUSTED, undefined, 'throttled'],
    ['GetCryptoKey', status.PERMISSION_DENIED, "Permission 'cloudkms.cryptoKeys.get' denied", 'user-induced'],
  ])('%s answering %s (%s) is %s, once, with the service message quoted', async (method, code, message, errorClass) => {
    const key = fx.key(`errors-${method}-${code}-${errorClass}`.toLowerCase());
    const provider = await fx.provider(key);
    const seed = randomBytes(32);
    const aad = Buffer.from('aad');
    const w = method === 'Decrypt' ? await wrapped(provider, seed, aad) : undefined;
    const calls = fx.standIn.count(method);
    fx.standIn.inject(method, { kind: 'status', code, ...(message ? { message } : {}) });
    const run =
      method === 'GetCryptoKey'
        ? provider.currentKey({ signal: signal() })
        : method === 'Decrypt'
          ? provider.unwrap(w!, { aad, signal: signal() })
          : wrapped(provider, seed, aad);
    const err = await kmsErrorOf(run);
    expect(err.errorClass).toBe(errorClass);
    expect(err.message).toContain(`Cloud KMS ${method}: ${status[code]}`);
    expect(err.message).toContain(message ?? `stand-in fault: ${status[code]}`);
    // The client's own retries are off: core's policy is the only retry layer.
    expect(fx.standIn.count(method) - calls).toBe(1);
    expect(err.message).not.toContain(seed.toString('base64'));
    await provider.close?.();
  });

  it('refuses a ciphertext of another key relabelled as this key as corrupt, and a changed version reference too', async () => {
    const a = fx.key('relabel-a');
    const b = fx.key('relabel-b');
    const [pa, pb] = [await fx.provider(a), await fx.provider(b)];
    const aad = Buffer.from('aad');
    const w = Buffer.from(await wrapped(pa, randomBytes(32), aad));
    const relabelled = Buffer.from(w.toString('latin1').replace(a, b), 'latin1');
    expect((await kmsErrorOf(pb.unwrap(relabelled, { aad, signal: signal() }))).errorClass).toBe('corrupt-ciphertext');
    fx.standIn.rotate(a);
    const otherVersion = Buffer.from(w.toString('latin1').replace(`${a}/cryptoKeyVersions/1`, `${a}/cryptoKeyVersions/2`), 'latin1');
    expect((await kmsErrorOf(pa.unwrap(otherVersion, { aad, signal: signal() }))).errorClass).toBe('corrupt-ciphertext');
    await Promise.all([pa.close?.(), pb.close?.()]);
  });

  it('refuses data under a key not allowed before asking Cloud KMS, naming --decrypt-key', async () => {
    const a = fx.key('allow-a');
    const b = fx.key('allow-b');
    const [pa, pb] = [await fx.provider(a), await fx.provider(b)];
    const aad = Buffer.from('aad');
    const w = await wrapped(pa, randomBytes(32), aad);
    const decrypts = fx.standIn.count('Decrypt');
    const err = await kmsErrorOf(pb.unwrap(w, { aad, signal: signal() }));
    expect([err.errorClass, err.message]).toEqual([
      'user-induced',
      `data was encrypted under ${a}, which is not --key; list it with --decrypt-key to read it`,
    ]);
    expect(fx.standIn.count('Decrypt')).toBe(decrypts);
    await Promise.all([pa.close?.(), pb.close?.()]);
  });

  it('a principal without the role on the key gets PERMISSION_DENIED as user-induced, naming the permission', async () => {
    const key = fx.key('iam');
    const provider = await fx.provider(key);
    fx.standIn.keys.key(key).users = new Set(['someone-else@stand-in-project.iam.gserviceaccount.com']);
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect(err.errorClass).toBe('user-induced');
    expect(err.message).toContain("PERMISSION_DENIED: Permission 'cloudkms.cryptoKeys.get' denied");
    await provider.close?.();
  });

  it('a certificate the CA file does not vouch for is user-induced (not retried): another CA, same endpoint', async () => {
    const other = await new CloudKmsStandIn().start();
    const otherCa = join(fx.dir, 'other-ca.pem');
    await writeFile(otherCa, other.caPem);
    await other.stop();
    const key = fx.key('wrong-ca');
    const provider = await fx.provider(key, { 'tls-ca-file': otherCa });
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([err.errorClass, err.message]).toEqual(['user-induced', expect.stringContaining('Cloud KMS GetCryptoKey: UNAVAILABLE')]);
    await provider.close?.();
  });

  it('reaches an endpoint given as an IPv6 literal', async () => {
    const key = fx.key('ipv6');
    const provider = await fx.provider(key, { endpoint: `[::1]:${fx.standIn.endpoint.split(':')[1]}` });
    // The stand-in listens on 127.0.0.1 only: what matters is that the client dialled [::1]
    // (connection refused: unavailable), not that it failed to parse the target.
    const err = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect(err.message).not.toContain('Name resolution failed');
    expect(err.errorClass).toBe('unavailable');
    await provider.close?.();
  });

  it('abandons a call when its signal aborts', async () => {
    const key = fx.key('abort');
    const provider = await fx.provider(key);
    const version = await provider.currentKey({ signal: signal() });
    fx.standIn.latencyMs = 5_000;
    try {
      const ac = new AbortController();
      const started = Date.now();
      const pending = kmsErrorOf(provider.wrap(randomBytes(32), { key: version, aad: Buffer.from('a'), signal: ac.signal }));
      setTimeout(() => ac.abort(), 100);
      const err = await pending;
      expect(Date.now() - started).toBeLessThan(4_000);
      expect(err.errorClass).toBe('unavailable');
    } finally {
      fx.standIn.latencyMs = 0;
    }
    await provider.close?.();
  });

  it('rotation: a new primary gives a new key_id within one refresh, old data decrypts; a disabled or destroyed old version fails FAILED_PRECONDITION naming it', async () => {
    const key = fx.key('rotation');
    const provider = await fx.provider(key);
    const plugin = await startPlugin(provider, { kekMode: 'direct', refresh: { intervalMs: 200 } });
    try {
      const first = await waitFor(async () => (await plugin.client.status()).keyId || undefined, 'a key_id');
      const seed = randomBytes(32);
      const old = await plugin.client.encrypt(seed);
      const rotated = fx.standIn.rotate(key);
      const second = await waitFor(
        async () => {
          const id = (await plugin.client.status()).keyId;
          return id !== first ? id : undefined;
        },
        'a new key_id',
        3_000,
      );
      expect(second).not.toBe(first);
      const fresh = await plugin.client.encrypt(seed);
      expect(fresh.keyId).toBe(second);
      expect(await plugin.client.decrypt(old)).toEqual(seed);
      expect(await plugin.client.decrypt(fresh)).toEqual(seed);
      expect(rotated.name).toBe(`${key}/cryptoKeyVersions/2`);
      fx.standIn.keys.setState(`${key}/cryptoKeyVersions/1`, 'DISABLED');
      const err = await plugin.client.decrypt(old).then(
        () => undefined,
        (e: { code?: number; details?: string }) => e,
      );
      expect(err?.code).toBe(status.FAILED_PRECONDITION);
      expect(err?.details).toContain(`${key}/cryptoKeyVersions/1`);
      fx.standIn.keys.destroy(`${key}/cryptoKeyVersions/1`);
      const gone = await plugin.client.decrypt(old).then(
        () => undefined,
        (e: { code?: number; details?: string }) => e,
      );
      expect([gone?.code, gone?.details?.includes(`${key}/cryptoKeyVersions/1 is not enabled, current state is: DESTROYED`)]).toEqual([
        status.FAILED_PRECONDITION,
        true,
      ]);
      expect(await plugin.client.decrypt(fresh)).toEqual(seed);
    } finally {
      await plugin.stop();
    }
  });
});
