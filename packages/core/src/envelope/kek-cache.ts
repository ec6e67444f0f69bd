import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { raceAbort } from '../abortable.js';
import { KmsError } from '../errors.js';

/** Counts the cache reports (metrics wires these to prom-client). */
export interface KekCacheEvents {
  hit(): void;
  miss(): void;
  /** A wrapped KEK the backend refused as corrupt a moment ago was presented again. */
  refused(): void;
  size(n: number): void;
}

/**
 * A bounded LRU of unwrapped local KEKs, keyed by a hash of the wrapped bytes. Concurrent misses
 * for the same wrapped KEK share one backend unwrap (a cold apiserver decrypting thousands of
 * objects written under one KEK makes exactly one backend call). Keys are not zeroed on
 * eviction: a caller may still hold the buffer, and JS cannot promise erasure anyway.
 * Failures are not cached, with one exception: a wrapped KEK the backend refused as corrupt (it
 * was altered, or names a key this plugin may not use) is remembered for a minute, so a damaged
 * object that kube-apiserver or its clients read again and again costs one backend unwrap (a paid
 * call on a cloud KMS, and a share of the rate limit that legitimate cold Decrypts need), not one
 * per read. Outages are never remembered: the next request tries the backend again.
 */
export class KekCache {
  private readonly lru: LRUCache<string, Buffer>;
  private readonly inFlight = new Map<string, Promise<Buffer>>();
  private readonly refusedRecently: LRUCache<string, KmsError>;
  /** Bumped by clear(): an unwrap that started before it must not re-fill the cache. */
  private generation = 0;

  constructor(
    max: number,
    /** The backend's unwrap of a local KEK: a fresh Buffer of 32 bytes (the provider guard checks). */
    private readonly unwrap: (wrapped: Buffer) => Promise<Buffer>,
    private readonly events: KekCacheEvents,
  ) {
    this.lru = new LRUCache<string, Buffer>({ max });
    this.refusedRecently = new LRUCache<string, KmsError>({ max, ttl: REFUSED_TTL_MS });
  }

  /**
   * The unwrapped KEK for `wrapped`, from memory or from one coalesced backend call. `signal`
   * ends this caller's wait; the shared call runs on under the remote policy's own deadline.
   */
  async get(wrapped: Buffer, signal: AbortSignal): Promise<Buffer> {
    const id = fingerprint(wrapped);
    const cached = this.lru.get(id);
    if (cached) {
      this.events.hit();
      return cached;
    }
    const refused = this.refusedRecently.get(id);
    if (refused) {
      this.events.refused();
      throw refused;
    }
    this.events.miss();
    let pending = this.inFlight.get(id);
    if (!pending) {
      const loading: Promise<Buffer> = this.load(id, wrapped).finally(() => {
        if (this.inFlight.get(id) === loading) this.inFlight.delete(id);
      });
      pending = loading;
      this.inFlight.set(id, pending);
    }
    return raceAbort(pending, signal);
  }

  /** Remember a KEK this process just created, so reading fresh data needs no backend call. */
  put(wrapped: Buffer, kek: Uint8Array): void {
    this.lru.set(fingerprint(wrapped), Buffer.from(kek));
    this.events.size(this.lru.size);
  }

  /** Forget every KEK (the backend key was revoked or disabled: stop serving from memory). */
  clear(): void {
    this.lru.clear();
    this.refusedRecently.clear();
    this.inFlight.clear();
    this.generation += 1;
    this.events.size(0);
  }

  /** Forget the refusals only (the backend key changed: what it refused may open now). */
  forgetRefusals(): void {
    this.refusedRecently.clear();
  }

  get size(): number {
    return this.lru.size;
  }

  private async load(id: string, wrapped: Buffer): Promise<Buffer> {
    const generation = this.generation;
    let kek: Buffer;
    try {
      kek = await this.unwrap(wrapped);
    } catch (err) {
      if (KmsError.is(err) && err.errorClass === 'corrupt-ciphertext' && generation === this.generation) {
        this.refusedRecently.set(id, err);
      }
      throw err;
    }
    if (generation === this.generation) {
      this.lru.set(id, kek);
      this.events.size(this.lru.size);
    }
    return kek;
  }
}

/** How long a wrapped KEK the backend refused as corrupt is answered from memory. */
const REFUSED_TTL_MS = 60_000;

function fingerprint(wrapped: Uint8Array): string {
  return createHash('sha256').update(wrapped).digest('base64url');
}
