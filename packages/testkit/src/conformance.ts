import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import { KEK_ANNOTATION, type KekMode, type KeyProvider } from '@k8s-kms/core';
import { InstrumentedProvider } from './instrumented-provider.js';
import { codeOf, startPlugin, type RunningPlugin } from './harness.js';

/** A backend under test: a real provider against its real backend or emulator. */
export interface ConformanceTarget {
  /** Shown in test names. */
  readonly name: string;
  /** A provider against the backend, configured and ready. */
  createProvider(): Promise<KeyProvider>;
  /** Rotate the backend key, so that currentKey reports a new version. */
  rotate(): Promise<void>;
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
      // hundreds of tamper probes. A short backend timeout bounds the deadline test.
      plugin = await startPlugin(provider, {
        kekMode,
        remote: { retries: 0, breakerThreshold: 1000, rateLimit: { perSecond: 0 }, timeoutMs: 500 },
      });
    });
    afterAll(async () => {
      await plugin.stop();
      for (const p of plaintexts) {
        expect(plugin.logs.text).not.toContain(p.toString('hex'));
        expect(plugin.logs.text).not.toContain(p.toString('base64'));
      }
      for (const s of target.secrets?.() ?? []) expect(plugin.logs.text).not.toContain(s);
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
      provider.latencyMs = 2000;
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
        // direct: aborted at the caller's deadline; local: the shared unwrap at the 500 ms backend timeout.
        await new Promise((r) => setTimeout(r, 700));
        expect(provider.aborted).toBeGreaterThan(before);
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
