import { afterEach, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { codeOf, startPlugin, type RunningPlugin } from '@k8s-kms/testkit';
import { KEK_ANNOTATION } from '../src/kit.js';
import { createPluginServer, type KeyProvider, type KeyVersion, type WrapOptions, type WrapWithKeyOptions } from '../src/index.js';
import { FakeMemoryProvider } from '@k8s-kms/testkit';

/** A provider that answers one thing wrong, and otherwise works like the fake backend. */
class FakeMisbehavingProvider implements KeyProvider {
  readonly kind: string = 'fake';
  private readonly inner = new FakeMemoryProvider();
  constructor(private readonly wrong: Partial<Pick<KeyProvider, 'currentKey' | 'wrap' | 'unwrap'>> & { kind?: string } = {}) {
    if (wrong.kind !== undefined) this.kind = wrong.kind;
  }
  currentKey(opts: { signal: AbortSignal }): Promise<KeyVersion> {
    return (this.wrong.currentKey ?? this.inner.currentKey.bind(this.inner))(opts);
  }
  wrap(plaintext: Uint8Array, opts: WrapWithKeyOptions): Promise<Uint8Array> {
    return (this.wrong.wrap ?? this.inner.wrap.bind(this.inner))(plaintext, opts);
  }
  unwrap(wrapped: Uint8Array, opts: WrapOptions): Promise<Uint8Array> {
    return (this.wrong.unwrap ?? this.inner.unwrap.bind(this.inner))(wrapped, opts);
  }
}

describe('the provider guard: what core accepts from a provider', () => {
  let plugin: RunningPlugin | undefined;
  afterEach(async () => {
    await plugin?.stop();
    plugin = undefined;
  });
  const serve = async (provider: KeyProvider, kekMode: 'local' | 'direct' = 'local') =>
    (plugin = await startPlugin(provider, { kekMode, remote: { retries: 0 }, refresh: { intervalMs: 60_000, retryMs: 60_000 } }));

  it('Postcondition: kind is a short lowercase name (it is hashed into every key_id, so it never changes)', () => {
    expect(() =>
      createPluginServer({ provider: new FakeMisbehavingProvider({ kind: 'AWS KMS!' }), listenAddr: 'unix:///tmp/never.sock' }),
    ).toThrow('provider kind must be a short lowercase name');
  });

  it('Postcondition: currentKey returns a non-empty version id and, if any, a short unusable reason', async () => {
    const empty = await serve(new FakeMisbehavingProvider({ currentKey: async () => ({ id: '' }) }));
    expect((await empty.client.status()).healthz).toContain('fake provider returned an empty key version id');
    await empty.stop();
    const rambling = await serve(new FakeMisbehavingProvider({ currentKey: async () => ({ id: 'v1', unusableReason: 'x'.repeat(600) }) }));
    expect((await rambling.client.status()).healthz).toContain('unusable reason that is empty or over 512 characters');
    expect(await codeOf(rambling.client.encrypt(Buffer.alloc(32)))).toBe(status.UNAVAILABLE);
  });

  it('Postcondition: wrap returns a non-empty wrapped key of at most 64 KiB', async () => {
    for (const wrapped of [Buffer.alloc(0), Buffer.alloc(0x10000, 1)]) {
      const p = await serve(new FakeMisbehavingProvider({ wrap: async () => wrapped }));
      await expect(p.client.encrypt(Buffer.alloc(32))).rejects.toMatchObject({
        code: status.INTERNAL,
        details:
          wrapped.length === 0 ? 'fake provider returned an empty wrapped key' : 'fake provider returned a wrapped key over 65535 bytes',
      });
      await p.stop();
      plugin = undefined;
    }
  });

  it('Postcondition: an unwrapped local KEK is exactly 32 bytes (else the wrapped KEK was not one)', async () => {
    const p = await serve(new FakeMisbehavingProvider({ unwrap: async () => Buffer.alloc(16, 1) }));
    const enc = await p.client.encrypt(Buffer.alloc(32, 2));
    // A second wrapped KEK nobody has unwrapped yet sends the plugin to the provider.
    const cold = {
      ...enc,
      annotations: { [KEK_ANNOTATION]: Buffer.concat([enc.annotations[KEK_ANNOTATION] ?? Buffer.alloc(0), Buffer.of(0)]) },
    };
    await expect(p.client.decrypt(cold)).rejects.toMatchObject({
      code: status.INVALID_ARGUMENT,
      details: 'unwrapped local KEK has 16 bytes, expected 32',
    });
  });

  it('Postcondition: unwrap of a data key returns a non-empty plaintext', async () => {
    const p = await serve(new FakeMisbehavingProvider({ unwrap: async () => Buffer.alloc(0) }), 'direct');
    const enc = await p.client.encrypt(Buffer.alloc(32, 3));
    await expect(p.client.decrypt(enc)).rejects.toMatchObject({
      code: status.INTERNAL,
      details: 'fake provider returned an empty plaintext',
    });
  });

  it('Postcondition: one key_id never stands for two key versions', async () => {
    const { KeyIdRegistry } = await import('../src/provider-guard.js');
    const registry = new KeyIdRegistry();
    registry.remember('fake:abc', 'version-1');
    registry.remember('fake:abc', 'version-1');
    expect(() => registry.remember('fake:abc', 'version-2')).toThrow('key_id collision: two backend key versions map to one key_id');
  });
});
