import { randomBytes } from 'node:crypto';
import { raceAbort } from '../abortable.js';
import type { KeyState } from '../key-state.js';
import { needs } from '../errors.js';
import { KEY_BYTES } from './aead.js';

/** When the active local KEK is replaced by a fresh one (each replacement is one backend wrap). */
export interface LocalKekLimits {
  /** Maximum age of a local KEK, in milliseconds. */
  readonly maxAgeMs: number;
  /** Maximum number of seals under one local KEK. */
  readonly maxUses: number;
}

/**
 * Defaults. Each seal uses a random 96-bit GCM nonce; NIST SP 800-38D §8.3 caps a key at 2^32
 * such invocations. 2^20 uses keeps the nonce-collision probability below 2^-57, while costing
 * one backend wrap per million Encrypts. kube-apiserver's KMS v2 encrypts a seed only at start
 * and on key_id change, so the one-day age limit is what normally rotates the KEK: it bounds
 * how much data one leaked local KEK exposes without adding backend calls worth counting.
 */
export const DEFAULT_KEK_LIMITS: LocalKekLimits = { maxAgeMs: 24 * 60 * 60 * 1000, maxUses: 1 << 20 };

/** The local KEK that currently seals new data. */
export interface ActiveKek {
  readonly keyId: string;
  readonly kek: Buffer;
  readonly wrapped: Buffer;
  readonly createdAt: number;
  uses: number;
}

export type KekRotationReason = 'first' | 'key-rotated' | 'max-age' | 'max-uses';

/**
 * Holds the active local KEK and decides when it must be replaced: when the backend key version
 * (key_id) changes, after the maximum age and after the maximum number of uses. Concurrent callers
 * that find it due share one creation (one backend wrap).
 */
export class LocalKekManager {
  private active: ActiveKek | undefined;
  private creating: { keyId: string; promise: Promise<ActiveKek> } | undefined;
  private generation = 0;

  constructor(
    private readonly limits: LocalKekLimits,
    private readonly wrap: (kek: Buffer, key: KeyState) => Promise<Uint8Array>,
    private readonly onCreated: (kek: ActiveKek, reason: KekRotationReason) => void,
    private readonly now: () => number = Date.now,
  ) {
    // A KEK with no use or no age left would be replaced at every seal, one backend wrap each.
    needs(
      Number.isInteger(limits.maxUses) && limits.maxUses >= 1,
      'invalid-input',
      'kekLimits.maxUses must be a whole number of at least 1',
    );
    needs(limits.maxAgeMs > 0, 'invalid-input', 'kekLimits.maxAgeMs must be positive');
  }

  /**
   * A KEK for one seal under `key`, counting the use. `signal` ends this caller's wait. The limits
   * hold for every caller: when more callers wait for a new KEK than it has uses left, the later
   * ones wait for the next one instead of sealing beyond `maxUses`.
   */
  async take(key: KeyState, signal: AbortSignal): Promise<ActiveKek> {
    for (;;) {
      const active = this.active;
      const reason = this.dueReason(active, key.keyId);
      if (active && !reason) {
        active.uses += 1;
        return active;
      }
      const created = await raceAbort(this.create(key, reason ?? 'first'), signal);
      // Counted in the same tick as the check, so no two callers take the last use.
      if (created.uses < this.limits.maxUses) {
        created.uses += 1;
        return created;
      }
    }
  }

  /** Whether a seal under `keyId` could be served now without a backend call. */
  canSealWithoutBackend(keyId: string): boolean {
    return this.dueReason(this.active, keyId) === undefined;
  }

  /** Drop the active KEK (the backend key was revoked or disabled); creations in flight are discarded. */
  clear(): void {
    this.active = undefined;
    this.creating = undefined;
    this.generation += 1;
  }

  private dueReason(kek: ActiveKek | undefined, keyId: string): KekRotationReason | undefined {
    if (!kek) return 'first';
    if (kek.keyId !== keyId) return 'key-rotated';
    if (this.now() - kek.createdAt >= this.limits.maxAgeMs) return 'max-age';
    if (kek.uses >= this.limits.maxUses) return 'max-uses';
    return undefined;
  }

  private create(key: KeyState, reason: KekRotationReason): Promise<ActiveKek> {
    const keyId = key.keyId;
    if (this.creating?.keyId === keyId) return this.creating.promise;
    const generation = this.generation;
    // Assigned before the first await below completes, so the body can compare against it.
    let promise: Promise<ActiveKek> | undefined = undefined;
    promise = (async () => {
      const kek = randomBytes(KEY_BYTES);
      const wrapped = Buffer.from(await this.wrap(kek, key));
      const created: ActiveKek = { keyId, kek, wrapped, createdAt: this.now(), uses: 0 };
      if (generation === this.generation) {
        // Its callers seal with it either way; it becomes the active KEK only if no newer
        // creation was started meanwhile (and nothing was revoked).
        if (this.creating?.promise === promise) this.active = created;
        this.onCreated(created, reason);
      }
      return created;
    })().finally(() => {
      if (this.creating?.promise === promise) this.creating = undefined;
    });
    this.creating = { keyId, promise };
    return promise;
  }
}
