import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { KmsError, type KekMode, type KeyProvider } from '@k8s-kms/core';
import { KEK_ANNOTATION } from '@k8s-kms/core/kit';
import { InstrumentedProvider } from './instrumented-provider.js';
import { codeOf, leaked, startPlugin, waitFor, type RunningPlugin } from './harness.js';

/** What a backend is, for the scenarios that depend on it. */
export interface ConformanceFeatures {
  /**
   * How wrap binds the AAD: `native` (the backend takes it: AES-GCM AAD, an encryption context,
   * Vault associated_data) or `digest` (core's AadDigest inside the wrapped plaintext, for
   * backends whose wrap takes none).
   */
  readonly aad: 'native' | 'digest';
}

/** A backend under test: a real provider against its real backend, emulator or stand-in. */
export interface ConformanceTarget {
  /** Shown in test names. */
  readonly name: string;
  readonly features: ConformanceFeatures;
  /** A provider against the backend, configured and ready. */
  createProvider(): Promise<KeyProvider>;
  /** Rotate the backend key, so that currentKey reports a new version. */
  rotate(): Promise<void>;
  /** Make the current key refuse to encrypt (disabled, revoked), and {@link enableKey} undo it. */
  disableKey?(): Promise<void>;
  enableKey?(): Promise<void>;
  /** Make the backend stop answering (down, sealed, unreachable), and {@link recover} undo it. */
  outage?(): Promise<void>;
  recover?(): Promise<void>;
  /**
   * Another key of the same backend: a provider that writes under it, and a provider for the
   * current key that is configured to read it too (a decrypt-key allowlist).
   */
  foreignKey?(): Promise<{ readonly writer: KeyProvider; readonly reader: KeyProvider }>;
  /** Delete the current key and create one under the same name (the key_id must never repeat). */
  recreateKey?(): Promise<void>;
  /** Credentials the provider holds, which must never reach a log line. */
  secrets?(): readonly string[];
}

/** The codes a rejected tampered ciphertext may get. */
const BAD = [status.INVALID_ARGUMENT, status.FAILED_PRECONDITION];

/**
 * The suite every backend runs (connect-es style: one suite, every transport). It starts the
 * provider behind core on a real socket and talks to it with a real gRPC client.
 */
export function describeConformance(target: ConformanceTarget): void {
  describeScenarios(target);
  describe.each<KekMode>(['local', 'direct'])(`${target.name} conformance, kek-mode %s`, (kekMode) => {
    let plugin: RunningPlugin;
    let provider: InstrumentedProvider;
    const plaintexts: Buffer[] = [];
    const fresh = (n = 32): Buffer => {
      const p = randomBytes(n);
      plaintexts.push(p);
      return p;
    };

    beforeAll(async () => {
      provider = new InstrumentedProvider(await target.createProvider());
      // The rate limit and breaker have their own tests; here they would only ration the
      // hundreds of tamper probes. The backend timeout bounds the deadline test (an emulator on a
      // busy machine can take a second to answer, so not shorter).
      plugin = await startPlugin(provider, {
        kekMode,
        remote: { retries: 0, breakerThreshold: 1000, rateLimit: { perSecond: 0 }, timeoutMs: 2000 },
      });
    });
    afterAll(async () => {
      await plugin.stop();
      expect(leaked(plugin.logs.text, plaintexts)).toEqual([]);
      expect(leaked(plugin.logs.text, target.secrets?.() ?? [])).toEqual([]);
    });

    it('answers Status healthy with a key_id, without calling the backend', async () => {
      provider.reset();
      const s = await plugin.client.status();
      expect(s).toEqual({ version: 'v2', healthz: 'ok', keyId: expect.stringMatching(/^[a-z0-9-]+:[A-Za-z0-9_-]{32}$/) });
      expect(provider.total()).toBe(0);
    });

    it('round-trips a seed through v2, returning Status key_id and no plaintext in the ciphertext', async () => {
      const seed = fresh();
      const { keyId } = await plugin.client.status();
      const enc = await plugin.client.encrypt(seed, 'uid-1');
      expect(enc.keyId).toBe(keyId);
      expect(enc.ciphertext.length).toBeLessThanOrEqual(1024);
      expect(enc.ciphertext.includes(seed)).toBe(false);
      expect(Object.keys(enc.annotations)).toEqual(kekMode === 'local' ? [KEK_ANNOTATION] : []);
      expect(await plugin.client.decrypt({ ...enc, uid: 'uid-2' })).toEqual(seed);
    });

    it('round-trips a DEK through v1beta1', async () => {
      const dek = fresh();
      const version = await plugin.client.v1Version();
      expect(version.version).toBe('v1beta1');
      expect(version.runtimeName).toBe(`k8s-kms-${provider.kind}`);
      const cipher = await plugin.client.v1Encrypt(dek);
      expect(cipher.includes(dek)).toBe(false);
      expect(await plugin.client.v1Decrypt(cipher)).toEqual(dek);
    });

    it('rejects every single-byte change of a v2 ciphertext', async () => {
      const enc = await plugin.client.encrypt(fresh());
      for (let i = 0; i < enc.ciphertext.length; i++) {
        const tampered = Buffer.from(enc.ciphertext);
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        // INVALID_ARGUMENT, or FAILED_PRECONDITION where the byte belongs to a backend key reference
        // that now names a key the plugin may not use. Never OK.
        expect([i, BAD.includes((await codeOf(plugin.client.decrypt({ ...enc, ciphertext: tampered }))) ?? -1)]).toEqual([i, true]);
      }
    });

    it('rejects every single-byte change of each annotation value', async () => {
      const enc = await plugin.client.encrypt(fresh());
      for (const [key, value] of Object.entries(enc.annotations)) {
        for (let i = 0; i < value.length; i++) {
          const tampered = Buffer.from(value);
          tampered[i] = (tampered[i] ?? 0) ^ 0x01;
          const code = await codeOf(plugin.client.decrypt({ ...enc, annotations: { ...enc.annotations, [key]: tampered } }));
          expect([key, i, BAD.includes(code ?? -1)]).toEqual([key, i, true]);
        }
      }
    });

    it('rejects every single-byte change of a v1beta1 ciphertext', async () => {
      const cipher = await plugin.client.v1Encrypt(fresh());
      for (let i = 0; i < cipher.length; i++) {
        const tampered = Buffer.from(cipher);
        tampered[i] = (tampered[i] ?? 0) ^ 0x01;
        expect([i, BAD.includes((await codeOf(plugin.client.v1Decrypt(tampered))) ?? -1)]).toEqual([i, true]);
      }
    });

    it('rejects a ciphertext presented under another key_id', async () => {
      const enc = await plugin.client.encrypt(fresh());
      expect(await codeOf(plugin.client.decrypt({ ...enc, keyId: `${enc.keyId}x` }))).toBe(status.INVALID_ARGUMENT);
    });

    it('rejects requests outside the contract limits with INVALID_ARGUMENT', async () => {
      const enc = await plugin.client.encrypt(fresh());
      const c = plugin.client;
      expect(await codeOf(c.encrypt(Buffer.alloc(0)))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.encrypt(Buffer.alloc(513, 1)))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.decrypt({ ...enc, ciphertext: Buffer.alloc(0) }))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.decrypt({ ...enc, ciphertext: Buffer.alloc(1025, 1) }))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.decrypt({ ...enc, keyId: '' }))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.decrypt({ ...enc, keyId: 'k'.repeat(1025) }))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.decrypt({ ...enc, annotations: { ...enc.annotations, not_a_domain: Buffer.of(1) } }))).toBe(
        status.INVALID_ARGUMENT,
      );
      expect(await codeOf(c.decrypt({ ...enc, annotations: { ...enc.annotations, 'big.example.com': Buffer.alloc(33 * 1024) } }))).toBe(
        status.INVALID_ARGUMENT,
      );
      expect(await codeOf(c.v1Encrypt(Buffer.alloc(0)))).toBe(status.INVALID_ARGUMENT);
      expect(await codeOf(c.v1Decrypt(Buffer.alloc(0)))).toBe(status.INVALID_ARGUMENT);
      if (kekMode === 'local') {
        expect(await codeOf(c.decrypt({ ...enc, annotations: {} }))).toBe(status.INVALID_ARGUMENT);
      }
    });

    it('gives a new key_id after a backend rotation, never repeats one, and still decrypts old data', async () => {
      const seen = new Set<string>();
      const written: { seed: Buffer; enc: Awaited<ReturnType<typeof plugin.client.encrypt>>; v1: Buffer }[] = [];
      for (let round = 0; round < 3; round++) {
        if (round > 0) {
          await target.rotate();
          await plugin.server.refreshKey();
        }
        const { keyId } = await plugin.client.status();
        expect(seen.has(keyId)).toBe(false);
        seen.add(keyId);
        const seed = fresh();
        const enc = await plugin.client.encrypt(seed);
        expect(enc.keyId).toBe(keyId);
        written.push({ seed, enc, v1: await plugin.client.v1Encrypt(seed) });
      }
      for (const { seed, enc, v1 } of written) {
        expect(await plugin.client.decrypt(enc)).toEqual(seed);
        expect(await plugin.client.v1Decrypt(v1)).toEqual(seed);
      }
    });

    it('answers DEADLINE_EXCEEDED at the caller deadline and abandons the hung backend call', async () => {
      const enc = await plugin.client.encrypt(fresh());
      const before = provider.aborted;
      provider.latencyMs = 6000;
      const { createPluginClient } = await import('@k8s-kms/core');
      const impatient = createPluginClient(plugin.server.socketAddress, { timeoutMs: 200 });
      try {
        // An annotation nobody has unwrapped yet (or a direct ciphertext) forces a backend call.
        const cold =
          kekMode === 'local'
            ? {
                ...enc,
                annotations: { [KEK_ANNOTATION]: Buffer.concat([enc.annotations[KEK_ANNOTATION] ?? Buffer.alloc(0), Buffer.of(0)]) },
              }
            : enc;
        const started = Date.now();
        expect(await codeOf(impatient.decrypt(cold))).toBe(status.DEADLINE_EXCEEDED);
        expect(Date.now() - started).toBeLessThan(1500);
        // direct: aborted at the caller's deadline; local: the shared unwrap at the 2 s backend timeout.
        await waitFor(async () => (provider.aborted > before ? true : undefined), 'the backend call to be abandoned', 5000);
      } finally {
        impatient.close();
        provider.latencyMs = 0;
      }
    });

    it('serves 64 concurrent Encrypt/Decrypt pairs correctly', async () => {
      const seeds = Array.from({ length: 64 }, () => fresh());
      const results = await Promise.all(
        seeds.map(async (seed) => {
          const enc = await plugin.client.encrypt(seed);
          return (await plugin.client.decrypt(enc)).equals(seed);
        }),
      );
      expect(results.every(Boolean)).toBe(true);
    });
  });
}

/** Status healthz, once it is no longer "ok" (or `ok` when it is again). */
async function healthzOf(plugin: RunningPlugin, want: 'ok' | 'not ok'): Promise<string> {
  return waitFor(async () => {
    await plugin.server.refreshKey();
    const { healthz } = await plugin.client.status();
    return (healthz === 'ok') === (want === 'ok') ? healthz : undefined;
  }, `Status healthz to be ${want}`);
}

/**
 * The scenarios a backend declares it can take part in (its hooks), and the ones that depend on
 * its features; each once, in local-KEK mode, on a plugin of its own with the health endpoints on.
 */
function describeScenarios(target: ConformanceTarget): void {
  // A scenario whose hook the backend does not give is listed as skipped, so that what a backend
  // is not tested for stays visible in every run.
  describe(`${target.name} conformance scenarios`, () => {
    let plugin: RunningPlugin;
    const signal = (): AbortSignal => AbortSignal.timeout(10_000);
    const http = async (path: string) => (await fetch(`http://${plugin.server.healthAddress}${path}`)).status;

    beforeAll(async () => {
      plugin = await startPlugin(await target.createProvider(), {
        healthAddr: '127.0.0.1:0',
        remote: { retries: 0, rateLimit: { perSecond: 0 }, breakerThreshold: 1000, timeoutMs: 2000 },
        refresh: { intervalMs: 60_000, retryMs: 100 },
      });
    });
    afterAll(async () => {
      await plugin.stop();
      expect(leaked(plugin.logs.text, target.secrets?.() ?? [])).toEqual([]);
    });

    it(`refuses a wrapped key presented with other AAD as corrupt (AAD bound ${target.features.aad === 'native' ? 'by the backend' : 'by digest'})`, async () => {
      const provider = await target.createProvider();
      try {
        const key = await provider.currentKey({ signal: signal() });
        const wrapped = await provider.wrap(randomBytes(32), { key, aad: Buffer.from('k8s-kms/conformance/aad-a'), signal: signal() });
        const err = await provider
          .unwrap(wrapped, { aad: Buffer.from('k8s-kms/conformance/aad-b'), signal: signal() })
          .catch((e: unknown) => e);
        expect(KmsError.is(err) && err.errorClass).toBe('corrupt-ciphertext');
        if (target.features.aad === 'digest') expect((err as Error).message).toContain('AAD digest mismatch');
      } finally {
        await provider.close?.();
      }
    });

    it('reads data written before a rotation from a provider created after it (a restarted replica)', async () => {
      const seed = randomBytes(32);
      const before = await plugin.client.encrypt(seed);
      await target.rotate();
      const replica = await startPlugin(await target.createProvider(), { kekMode: 'local' });
      try {
        expect(await replica.client.decrypt(before)).toEqual(seed);
      } finally {
        await replica.stop();
      }
    });

    (target.disableKey && target.enableKey ? it : it.skip)(
      'reports a disabled key in Status and refuses Encrypt FAILED_PRECONDITION with /livez up, and serves again once enabled',
      async () => {
        await plugin.server.refreshKey();
        await target.disableKey?.();
        try {
          expect(await healthzOf(plugin, 'not ok')).not.toBe('');
          expect(await codeOf(plugin.client.encrypt(randomBytes(32)))).toBe(status.FAILED_PRECONDITION);
          expect(await http('/livez')).toBe(200);
          expect(await http('/healthz')).toBe(503);
        } finally {
          await target.enableKey?.();
        }
        expect(await healthzOf(plugin, 'ok')).toBe('ok');
        const seed = randomBytes(32);
        expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
      },
    );

    (target.outage && target.recover ? it : it.skip)(
      'rides out an outage: cached local KEKs keep serving, /healthz says why, /livez stays up, and it recovers without a restart',
      async () => {
        const seed = randomBytes(32);
        const before = await plugin.client.encrypt(seed);
        await target.outage?.();
        try {
          await plugin.server.refreshKey();
          await waitFor(async () => ((await http('/healthz')) === 503 ? true : undefined), '/healthz to report the outage');
          expect(await http('/livez')).toBe(200);
          expect(await plugin.client.decrypt(before)).toEqual(seed);
          expect((await plugin.client.status()).healthz).toBe('ok'); // the local KEK still seals
          await plugin.client.encrypt(randomBytes(32));
        } finally {
          await target.recover?.();
        }
        await waitFor(async () => ((await http('/healthz')) === 200 ? true : undefined), '/healthz after the backend returned', 20_000);
        const after = randomBytes(32);
        expect(await plugin.client.decrypt(await plugin.client.encrypt(after))).toEqual(after);
      },
    );

    (target.foreignKey ? it : it.skip)('refuses data under a key it was not given, and reads it once that key is allowed', async () => {
      const { writer, reader } = (await target.foreignKey?.()) ?? ({} as never);
      const foreign = await startPlugin(writer, { kekMode: 'direct' });
      const allowed = await startPlugin(reader, { kekMode: 'direct' });
      try {
        const seed = randomBytes(32);
        const enc = await foreign.client.encrypt(seed);
        // The suite's plugin holds a provider for the current key only.
        const refused = await codeOf(plugin.client.decrypt(enc));
        expect([status.FAILED_PRECONDITION, status.INVALID_ARGUMENT]).toContain(refused);
        expect(await allowed.client.decrypt(enc)).toEqual(seed);
      } finally {
        await foreign.stop();
        await allowed.stop();
      }
    });

    (target.recreateKey ? it : it.skip)('gives a key deleted and re-created under the same name a key_id never seen before', async () => {
      const seen = new Set<string>();
      for (let round = 0; round < 2; round++) {
        if (round > 0) await target.recreateKey?.();
        await plugin.server.refreshKey();
        const { keyId } = await plugin.client.status();
        expect(seen.has(keyId)).toBe(false);
        seen.add(keyId);
      }
    });
  });
}
