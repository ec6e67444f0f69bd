import { setTimeout as sleep } from 'node:timers/promises';
import { KmsError } from './errors.js';

/** Options of the client-side rate limit on backend calls. */
export interface RateLimitOptions {
  /** Sustained calls per second; 0 turns the limit off. */
  readonly perSecond: number;
  /** Calls allowed at once above the sustained rate. */
  readonly burst: number;
  /** Longest a call may wait for its turn before it fails as `throttled` instead of piling up. */
  readonly maxWaitMs: number;
}

/**
 * A token bucket with reservations. A call that would wait longer than `maxWaitMs` fails at once
 * with `throttled` (RESOURCE_EXHAUSTED), so a burst from kube-apiserver never exceeds the backend
 * rate and never queues without bound. cockatiel (used for the rest of the policy) has no rate
 * limiter, and this is small enough not to warrant another dependency.
 */
export class RateLimiter {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = opts.burst;
    this.updatedAt = this.now();
  }

  /** Wait for a turn, or throw `throttled` when the wait would exceed `maxWaitMs`. */
  async take(signal?: AbortSignal): Promise<void> {
    if (this.opts.perSecond <= 0) return;
    const now = this.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.updatedAt) * this.opts.perSecond) / 1000);
    this.updatedAt = now;
    const waitMs = this.tokens >= 1 ? 0 : ((1 - this.tokens) * 1000) / this.opts.perSecond;
    if (waitMs > this.opts.maxWaitMs) {
      throw new KmsError('throttled', `backend rate limit of ${this.opts.perSecond}/s reached`, { retryable: false });
    }
    this.tokens -= 1; // reserve now: later callers queue behind this one
    if (waitMs > 0) await sleep(waitMs, undefined, signal ? { signal } : undefined);
  }
}
