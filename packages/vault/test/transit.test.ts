import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { createLogger } from '@k8s-kms/core';
import { type RawValues } from '@k8s-kms/core/kit';
import { startPlugin, waitFor, type RunningPlugin } from '@k8s-kms/testkit';
import { OpenBao, OPENBAO_ROOT_TOKEN } from './support/openbao.js';
import { parseVaultConfig } from '../src/config.js';
import { createVaultProvider } from '../src/create.js';
import type { VaultTransitProvider } from '../src/index.js';

let bao: OpenBao;
beforeAll(async () => {
  bao = await OpenBao.start();
});
afterAll(async () => bao.dispose());

const quiet = createLogger({ level: 'silent', name: 'test' });
const opts = () => ({ signal: AbortSignal.timeout(5_000) });

function transit(key: string, extra: RawValues = {}): VaultTransitProvider {
  return createVaultProvider(parseVaultConfig({ address: bao.address, 'key-name': key, token: OPENBAO_ROOT_TOKEN, ...extra }), quiet)
    .transit;
}

/** The gRPC error of a call that must fail. */
async function failure(promise: Promise<unknown>): Promise<{ code?: number; details?: string }> {
  try {
    await promise;
  } catch (err) {
    return err as { code?: number; details?: string };
  }
  throw new Error('the call succeeded');
}

describe('transit keys on a real OpenBao', () => {
  let plugin: RunningPlugin | undefined;
  afterAll(async () => plugin?.stop());

  it('after keys/<k>/rotate: a new key_id within a refresh; old data decrypts; raising min_decryption_version refuses it, naming the cause', async () => {
    await bao.transitKey('rotating');
    plugin = await startPlugin(transit('rotating'), { kekMode: 'direct', refresh: { intervalMs: 100, retryMs: 100 } });
    const first = await waitFor(async () => (await plugin?.client.status())?.keyId || undefined, 'a key_id');
    const seed = randomBytes(32);
    const old = await plugin.client.encrypt(seed);

    await bao.must('POST', 'transit/keys/rotating/rotate');
    const second = await waitFor(async () => {
      const s = await plugin?.client.status();
      return s && s.keyId !== first ? s.keyId : undefined;
    }, 'the rotated key_id');
    const fresh = await plugin.client.encrypt(randomBytes(32));
    expect(fresh.keyId).toBe(second);
    expect(await plugin.client.decrypt(old)).toEqual(seed);

    await bao.must('POST', 'transit/keys/rotating/config', { min_decryption_version: 2 });
    const refused = await failure(plugin.client.decrypt(old));
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toContain('min_decryption_version');
    expect(await plugin.client.decrypt(fresh)).toHaveLength(32); // data under version 2 still opens
  });

  it('keeps the key version id stable between refreshes of an unchanged key', async () => {
    await bao.transitKey('stable');
    const provider = transit('stable');
    const a = await provider.currentKey(opts());
    const b = await transit('stable').currentKey(opts()); // another replica
    expect(b.id).toBe(a.id);
    expect((await provider.currentKey(opts())).id).toBe(a.id);
  });

  it('wraps under a mount other than transit/ and inside an OpenBao namespace', async () => {
    await bao.must('POST', 'sys/namespaces/team-a', {});
    const inNamespace = await bao.api('POST', 'sys/mounts/kms/transit', { type: 'transit' }, OPENBAO_ROOT_TOKEN, 'team-a');
    expect(inNamespace.status).toBeLessThan(300);
    expect((await bao.api('POST', 'kms/transit/keys/ns-key', {}, OPENBAO_ROOT_TOKEN, 'team-a')).status).toBeLessThan(300);
    const provider = transit('ns-key', { namespace: 'team-a', 'transit-mount': 'kms/transit' });
    const key = await provider.currentKey(opts());
    const aad = Buffer.from('aad');
    const wrapped = await provider.wrap(Buffer.alloc(32, 5), { key, aad, ...opts() });
    expect(await provider.unwrap(wrapped, { aad, ...opts() })).toEqual(Buffer.alloc(32, 5));
    // The same mount and key outside the namespace do not exist.
    await expect(transit('ns-key', { 'transit-mount': 'kms/transit' }).currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
    });
  });

  it('binds the AAD for an RSA key (no associated_data in transit) and for a derived key', async () => {
    for (const [name, options] of [
      ['rsa', { type: 'rsa-2048' }],
      ['derived', { derived: true }],
    ] as const) {
      await bao.transitKey(name, 'transit', options);
      const provider = transit(name);
      const key = await provider.currentKey(opts());
      expect(key.unusableReason).toBeUndefined();
      const wrapped = await provider.wrap(Buffer.alloc(32, 9), { key, aad: Buffer.from('right'), ...opts() });
      expect(await provider.unwrap(wrapped, { aad: Buffer.from('right'), ...opts() })).toEqual(Buffer.alloc(32, 9));
      await expect(provider.unwrap(wrapped, { aad: Buffer.from('wrong'), ...opts() })).rejects.toMatchObject({
        errorClass: 'corrupt-ciphertext',
      });
    }
  });

  it('refuses every change of the binding byte, and a changed RSA ciphertext, as corrupt: never a plaintext, never an outage', async () => {
    await bao.transitKey('tamper-aes');
    await bao.transitKey('tamper-rsa', 'transit', { type: 'rsa-2048' });
    const aad = Buffer.from('aad');
    for (const name of ['tamper-aes', 'tamper-rsa']) {
      const provider = transit(name);
      const wrapped = Buffer.from(await provider.wrap(Buffer.alloc(32, 4), { key: await provider.currentKey(opts()), aad, ...opts() }));
      for (let binding = 0; binding < 8; binding++) {
        if (binding === wrapped[1]) continue;
        const changed = Buffer.from(wrapped);
        changed[1] = binding;
        await expect(provider.unwrap(changed, { aad, ...opts() })).rejects.toMatchObject({ errorClass: 'corrupt-ciphertext' });
      }
      // A changed byte inside transit's ciphertext, spelled canonically so it reaches Vault.
      const text = wrapped.subarray(3 + (wrapped[2] ?? 0)).toString();
      const [prefix, body] = [text.slice(0, text.lastIndexOf(':') + 1), text.slice(text.lastIndexOf(':') + 1)];
      const raw = Buffer.from(body, 'base64');
      raw[raw.length >> 1] = (raw[raw.length >> 1] ?? 0) ^ 0x01;
      const changed = Buffer.concat([wrapped.subarray(0, 3 + (wrapped[2] ?? 0)), Buffer.from(prefix + raw.toString('base64'))]);
      await expect(provider.unwrap(changed, { aad, ...opts() })).rejects.toMatchObject({ errorClass: 'corrupt-ciphertext' });
    }
  });

  it('reports a signing-only key as unusable, and a missing key as user-induced naming the path', async () => {
    await bao.transitKey('signer', 'transit', { type: 'ed25519' });
    expect((await transit('signer').currentKey(opts())).unusableReason).toContain('ed25519');
    await expect(transit('absent').currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('transit/keys/absent'),
    });
  });
});
