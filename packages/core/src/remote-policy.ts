import {
  BrokenCircuitError,
  BulkheadRejectedError,
  CircuitState,
  ConsecutiveBreaker,
  ExponentialBackoff,
  bulkhead,
  circuitBreaker,
  handleWhen,
  retry,
  wrap,
  type IBackoff,
  type IBackoffFactory,
  type IPolicy,
  type IRetryBackoffContext,
} from 'cockatiel';
import { raceAbort } from './abortable.js';
import { KmsError, type ErrorClass } from './errors.js';
import { RateLimiter, type RateLimitOptions } from './rate-limiter.js';

/** The backend operations core performs; metrics label by these. */
export type BackendOperation = 'current-key' | 'wrap' | 'unwrap';

/** Every knob of the remote call policy (each is a CLI flag). */
export interface RemotePolicyOptions {
  /** Deadline of one attempt. */
  readonly timeoutMs: number;
  /** Attempts after the first, for retryable classes (throttled, unavailable) only. */
  readonly retries: number;
  /** First backoff delay; later ones grow exponentially with decorrelated jitter. */
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly rateLimit: RateLimitOptions;
  /** Backend calls in flight at once; more wait in a queue of `maxQueue`, beyond that fail as throttled. */
  readonly maxConcurrency: number;
  readonly maxQueue: number;
  /** Consecutive failures (unavailable/throttled) that open the circuit breaker. */
  readonly breakerThreshold: number;
  /** How long the breaker stays open before one trial call. */
  readonly breakerHalfOpenAfterMs: number;
}

export const DEFAULT_REMOTE_POLICY: RemotePolicyOptions = {
  timeoutMs: 2000,
  retries: 2,
  retryBaseMs: 50,
  retryMaxMs: 1000,
  rateLimit: { perSecond: 100, burst: 200, maxWaitMs: 250 },
  maxConcurrency: 32,
  maxQueue: 1000,
  breakerThreshold: 5,
  // Short enough that calls and health recover within seconds of the backend's return; one trial
  // call per 5 s is nothing to a backend that is down.
  breakerHalfOpenAfterMs: 5_000,
};

/** What the policy reports (metrics implements it). */
export interface RemoteCallObserver {
  call(op: BackendOperation, result: 'ok' | ErrorClass, seconds: number): void;
  rejected(op: BackendOperation, reason: 'rate-limit' | 'concurrency' | 'circuit-open'): void;
  /** The breaker changed state; `cause` is the failure that opened it. */
  breaker(state: 'closed' | 'open' | 'half-open', cause?: KmsError): void;
}

/** The backend as the calls through the policy last saw it. */
export interface BackendHealth {
  readonly breaker: 'closed' | 'open' | 'half-open';
  /**
   * Why the backend counts as down: the breaker is open (with the failure that opened it), or the
   * latest call failed as unavailable or throttled. Undefined once a call succeeds.
   */
  readonly problem?: KmsError;
}

/**
 * The one path every backend call takes: retry (retryable classes only, exponential backoff with
 * jitter) → circuit breaker → concurrency cap → rate limit → per-attempt deadline → the call.
 * The rate limit and concurrency cap sit inside the retry so that retries count against them too.
 */
export class RemotePolicy {
  private readonly outer: IPolicy;
  private readonly limiter: RateLimiter;
  private breakerState: BackendHealth['breaker'] = 'closed';
  /** The failure that opened the breaker, and when. */
  private opened: { cause: KmsError; at: number } | undefined;
  /** The latest backend failure that says "down" (unavailable, throttled), until a call succeeds. */
  private lastDown: KmsError | undefined;

  constructor(
    private readonly opts: RemotePolicyOptions,
    private readonly observer: RemoteCallObserver,
  ) {
    // A service that asks for a longer wait than the policy's longest backoff is not retried:
    // the caller's deadline (kube-apiserver's, seconds) would pass first.
    const retryable = handleWhen((err) => KmsError.is(err) && err.retryable && (err.retryAfterMs ?? 0) <= opts.retryMaxMs);
    // Only failures of the backend itself: our own rate-limit refusals and cancelled callers are
    // not retryable and must not open the breaker while the backend is fine.
    const backendDown = handleWhen(isBackendDown);
    const breaker = circuitBreaker(backendDown, {
      halfOpenAfter: opts.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(opts.breakerThreshold),
    });
    breaker.onBreak((reason) => {
      // A failed trial call opens the breaker again: keep when it first opened; the cause is the latest.
      const cause = 'error' in reason ? KmsError.from(reason.error) : new KmsError('unavailable', 'isolated');
      this.opened = { cause, at: this.opened?.at ?? Date.now() };
    });
    breaker.onStateChange((state) => {
      const previous = this.breakerState;
      this.breakerState = breakerStateName(state);
      if (this.breakerState === 'closed') this.opened = undefined;
      // Reported when it opens after being closed, and when it closes: not each trial in between.
      if (this.breakerState !== 'half-open' && (previous === 'closed') !== (this.breakerState === 'closed')) {
        observer.breaker(this.breakerState, this.opened?.cause);
      }
    });
    this.outer = wrap(
      retry(retryable, {
        maxAttempts: opts.retries,
        backoff: new RetryAfterBackoff(new ExponentialBackoff({ initialDelay: opts.retryBaseMs, maxDelay: opts.retryMaxMs })),
      }),
      breaker,
      bulkhead(opts.maxConcurrency, opts.maxQueue),
    );
    this.limiter = new RateLimiter(opts.rateLimit);
  }

  /** What the latest calls say of the backend (for /healthz and Status). */
  health(): BackendHealth {
    if (this.opened && this.breakerState !== 'closed') {
      const { cause, at } = this.opened;
      const seconds = Math.round((Date.now() - at) / 1000);
      const problem = new KmsError(
        'unavailable',
        `backend circuit breaker open for ${seconds}s after ${this.opts.breakerThreshold} consecutive failures; last: ${cause.message}`,
        { cause },
      );
      return { breaker: this.breakerState, problem };
    }
    return { breaker: this.breakerState, ...(this.lastDown ? { problem: this.lastDown } : {}) };
  }

  /** Run `fn` under the policy. Always rejects with a {@link KmsError}. */
  async execute<T>(op: BackendOperation, fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal): Promise<T> {
    // cockatiel hands callers without a signal one shared never-aborted signal; every wait on the
    // rate limit would add a listener to it (Node warns past 10). Each execution gets its own.
    const callerSignal = signal ?? new AbortController().signal;
    try {
      return await this.outer.execute(async ({ signal: attemptSignal }) => {
        try {
          await this.limiter.take(attemptSignal);
        } catch (err) {
          if (KmsError.is(err)) this.observer.rejected(op, 'rate-limit');
          throw this.classify(err, signal);
        }
        const started = performance.now();
        const deadline = AbortSignal.timeout(this.opts.timeoutMs);
        const attempt = AbortSignal.any([attemptSignal, deadline]);
        try {
          const result = await raceAbort(fn(attempt), attempt);
          this.lastDown = undefined;
          this.observer.call(op, 'ok', (performance.now() - started) / 1000);
          return result;
        } catch (err) {
          const timedOut = deadline.aborted && !attemptSignal.aborted;
          const classified = timedOut ? this.timedOut(err) : this.classify(err, signal);
          // Throttling is reported as the backend's state even when it does not count toward the breaker.
          if (isBackendDown(classified) || classified.errorClass === 'throttled') this.lastDown = classified;
          this.observer.call(op, classified.errorClass, (performance.now() - started) / 1000);
          throw classified;
        }
      }, callerSignal);
    } catch (err) {
      if (err instanceof BrokenCircuitError) this.observer.rejected(op, 'circuit-open');
      if (err instanceof BulkheadRejectedError) this.observer.rejected(op, 'concurrency');
      throw this.classify(err, signal);
    }
  }

  private classify(err: unknown, callerSignal: AbortSignal | undefined): KmsError {
    if (KmsError.is(err)) return err;
    if (err instanceof BrokenCircuitError) {
      return (
        this.health().problem ?? new KmsError('unavailable', 'backend circuit breaker is open after repeated failures', { cause: err })
      );
    }
    if (err instanceof BulkheadRejectedError) {
      return new KmsError('throttled', `more than ${this.opts.maxConcurrency + this.opts.maxQueue} backend calls waiting`, {
        cause: err,
        retryable: false,
      });
    }
    if (callerSignal?.aborted) {
      return new KmsError('unavailable', 'request cancelled or past its deadline', { cause: err, retryable: false });
    }
    return KmsError.from(err, 'backend call failed');
  }

  private timedOut(cause: unknown): KmsError {
    return new KmsError('unavailable', `backend call timed out after ${this.opts.timeoutMs} ms`, { cause });
  }
}

type RetryContext = IRetryBackoffContext<unknown>;

/** Exponential backoff with jitter that waits at least as long as the service asked (Retry-After). */
class RetryAfterBackoff implements IBackoffFactory<RetryContext> {
  constructor(private readonly inner: IBackoffFactory<RetryContext>) {}

  next(context: RetryContext): IBackoff<RetryContext> {
    return withRetryAfter(this.inner.next(context), context);
  }
}

function withRetryAfter(backoff: IBackoff<RetryContext>, context: RetryContext): IBackoff<RetryContext> {
  const failure = 'error' in context.result ? context.result.error : undefined;
  const asked = KmsError.is(failure) ? (failure.retryAfterMs ?? 0) : 0;
  return {
    duration: Math.max(backoff.duration, asked),
    next: (next: RetryContext) => withRetryAfter(backoff.next(next), next),
  };
}

/** A failure of the backend itself (not one of the policy's own refusals, which are not retryable). */
/**
 * A failure that counts toward the breaker: the backend unavailable, or throttling without a
 * Retry-After. A throttled answer that says when to come back is a live backend pacing us: the
 * retry waits as asked, and opening the breaker on it would fail every call of a throttling storm
 * (an apiserver restart) that the wait would have served.
 */
function isBackendDown(err: unknown): boolean {
  if (!KmsError.is(err) || !err.retryable) return false;
  return err.errorClass === 'unavailable' || (err.errorClass === 'throttled' && err.retryAfterMs === undefined);
}

function breakerStateName(state: CircuitState): 'closed' | 'open' | 'half-open' {
  if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
  if (state === CircuitState.HalfOpen) return 'half-open';
  return 'closed';
}
