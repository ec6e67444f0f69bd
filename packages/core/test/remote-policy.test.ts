import { spawnSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { KmsError, type ErrorClass } from '../src/index.js';
import { RemotePolicy, DEFAULT_REMOTE_POLICY, type RemotePolicyOptions, type RemoteCallObserver } from '../src/remote-policy.js';

class RecordingObserver implements RemoteCallObserver {
  calls: string[] = [];
  rejections: string[] = [];
  states: string[] = [];
  call(op: string, result: string): void {
    this.calls.push(`${op}:${result}`);
  }
  rejected(_op: string, reason: string): void {
    this.rejections.push(reason);
  }
  breaker(state: string): void {
    this.states.push(state);
  }
}

const policy = (opts: Partial<RemotePolicyOptions> = {}) => {
  const observer = new RecordingObserver();
  const p = new RemotePolicy(
    {
      ...DEFAULT_REMOTE_POLICY,
      retryBaseMs: 1,
      retryMaxMs: 5,
      breakerThreshold: 1000,
      ...opts,
      rateLimit: { ...DEFAULT_REMOTE_POLICY.rateLimit, perSecond: 0, ...opts.rateLimit },
    },
    observer,
  );
  return { p, observer };
};

const failing = (errorClass: ErrorClass, failures: number) => {
  let n = 0;
  return {
    get count() {
      return n;
    },
    fn: async () => {
      n += 1;
      if (n <= failures) throw new KmsError(errorClass, `attempt ${n} failed`);
      return 'done';
    },
  };
};

describe('the remote call policy', () => {
  it.each<ErrorClass>(['unavailable', 'throttled'])('retries %s failures with backoff until one succeeds', async (cls) => {
    const { p } = policy({ retries: 2 });
    const op = failing(cls, 2);
    await expect(p.execute('wrap', op.fn)).resolves.toBe('done');
    expect(op.count).toBe(3);
  });

  it('gives up after the configured retries, with the last error', async () => {
    const { p } = policy({ retries: 2 });
    const op = failing('unavailable', 10);
    await expect(p.execute('wrap', op.fn)).rejects.toMatchObject({ errorClass: 'unavailable', message: 'attempt 3 failed' });
    expect(op.count).toBe(3);
  });

  it.each<ErrorClass>(['invalid-input', 'corrupt-ciphertext', 'user-induced', 'internal'])('never retries %s failures', async (cls) => {
    const { p } = policy({ retries: 3 });
    const op = failing(cls, 1);
    await expect(p.execute('unwrap', op.fn)).rejects.toMatchObject({ errorClass: cls });
    expect(op.count).toBe(1);
  });

  it('turns a hung call into a retryable timeout and abandons it through its signal', async () => {
    const { p } = policy({ retries: 0, timeoutMs: 30 });
    let aborted = false;
    const hang = (signal: AbortSignal) =>
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => ((aborted = true), reject(new Error('aborted')))));
    await expect(p.execute('current-key', hang)).rejects.toMatchObject({
      errorClass: 'unavailable',
      message: 'backend call timed out after 30 ms',
    });
    expect(aborted).toBe(true);
  });

  it('classifies foreign errors as internal without repeating their message', async () => {
    const { p } = policy({ retries: 0 });
    const err = await p
      .execute('wrap', async () => {
        throw new TypeError('secret-token-123 is not a function');
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KmsError);
    expect(err).toMatchObject({ errorClass: 'internal' });
    expect(String((err as Error).message)).not.toContain('secret-token-123');
  });

  it('holds the rate limit: a burst beyond it fails fast as throttled instead of queueing', async () => {
    const { p, observer } = policy({ retries: 2, rateLimit: { perSecond: 10, burst: 5, maxWaitMs: 0 } });
    let calls = 0;
    const started = performance.now();
    const results = await Promise.allSettled(Array.from({ length: 50 }, () => p.execute('wrap', async () => ++calls)));
    const elapsed = performance.now() - started;
    expect(calls).toBe(5);
    const rejected = results.filter((r) => r.status === 'rejected');
    expect(rejected).toHaveLength(45);
    for (const r of rejected) expect(r).toMatchObject({ reason: { errorClass: 'throttled' } });
    expect(observer.rejections.filter((r) => r === 'rate-limit')).toHaveLength(45);
    expect(elapsed).toBeLessThan(5000); // sanity bound, not a performance target: nothing queued
  });

  it('lets callers wait their turn within the maximum wait, never beyond the rate', async () => {
    const { p } = policy({ retries: 0, rateLimit: { perSecond: 50, burst: 1, maxWaitMs: 1000 } });
    const stamps: number[] = [];
    await Promise.all(Array.from({ length: 6 }, () => p.execute('wrap', async () => stamps.push(performance.now()))));
    const span = Math.max(...stamps) - Math.min(...stamps);
    expect(span).toBeGreaterThanOrEqual(5 * 20 - 5); // 5 intervals of 20 ms after the burst of 1
  });

  it("lets 30 calls without a signal of their own wait on the rate limit without Node's listener-leak warning", () => {
    // Shared backend calls (a coalesced unwrap, a new local KEK) run without a caller's signal.
    // Node's warnings reach only the real process object, not jest's, so this runs in a child on
    // the built module.
    const script = `
      const { RemotePolicy, DEFAULT_REMOTE_POLICY } = await import(${JSON.stringify(new URL('../dist/src/remote-policy.js', import.meta.url).href)});
      process.on('warning', (w) => console.log(w.name));
      const p = new RemotePolicy({ ...DEFAULT_REMOTE_POLICY, retries: 0, rateLimit: { perSecond: 1000, burst: 1, maxWaitMs: 1000 } },
        { call() {}, rejected() {}, breaker() {} });
      await Promise.all(Array.from({ length: 30 }, () => p.execute('unwrap', async () => 'ok')));
      await new Promise((r) => setImmediate(r));
      console.log('done');`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stdout.trim().split('\n')).toEqual(['done']);
  });

  it('opens the breaker after consecutive failures, fails fast while open, and closes after a good trial call', async () => {
    const { p, observer } = policy({ retries: 0, breakerThreshold: 3, breakerHalfOpenAfterMs: 100 });
    let calls = 0;
    let healthy = false;
    const fn = async () => {
      calls += 1;
      if (!healthy) throw new KmsError('unavailable', 'down');
      return 'up';
    };
    for (let i = 0; i < 3; i++) await expect(p.execute('wrap', fn)).rejects.toMatchObject({ errorClass: 'unavailable' });
    expect(observer.states).toEqual(['open']);
    await expect(p.execute('wrap', fn)).rejects.toMatchObject({
      message: expect.stringMatching(
        /^backend circuit breaker open for \d+s after 3 consecutive failures; last: down$/,
      ) as unknown as string,
    });
    expect(p.health()).toMatchObject({ breaker: 'open', problem: { errorClass: 'unavailable' } });
    expect(calls).toBe(3);
    expect(observer.rejections).toEqual(['circuit-open']);
    healthy = true;
    await new Promise((r) => setTimeout(r, 120));
    await expect(p.execute('wrap', fn)).resolves.toBe('up');
    expect(observer.states).toEqual(['open', 'closed']); // not each trial in between
    expect(calls).toBe(4);
    expect(p.health()).toEqual({ breaker: 'closed' });
  });

  it('does not open the breaker on its own rate-limit refusals', async () => {
    const { p, observer } = policy({ retries: 0, breakerThreshold: 2, rateLimit: { perSecond: 1, burst: 1, maxWaitMs: 0 } });
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => p.execute('wrap', async () => 'ok')));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(observer.states).toEqual([]);
  });

  it('does not open the breaker on user-induced failures', async () => {
    const { p, observer } = policy({ retries: 0, breakerThreshold: 2 });
    for (let i = 0; i < 5; i++) {
      await expect(p.execute('wrap', async () => Promise.reject(new KmsError('user-induced', 'denied')))).rejects.toMatchObject({
        errorClass: 'user-induced',
      });
    }
    expect(observer.states).toEqual([]);
  });

  it('opens the breaker on throttling without a Retry-After, not on throttling that says when to come back', async () => {
    const throttle = (retryAfterMs?: number) => async () =>
      Promise.reject(new KmsError('throttled', 'slow down', retryAfterMs === undefined ? {} : { retryAfterMs }));
    const paced = policy({ retries: 0, breakerThreshold: 2 });
    for (let i = 0; i < 5; i++) await expect(paced.p.execute('wrap', throttle(1))).rejects.toMatchObject({ errorClass: 'throttled' });
    expect(paced.observer.states).toEqual([]);
    // Still reported: the backend is throttling.
    expect(paced.p.health()).toMatchObject({ breaker: 'closed', problem: { errorClass: 'throttled' } });
    const blind = policy({ retries: 0, breakerThreshold: 2 });
    for (let i = 0; i < 2; i++) await expect(blind.p.execute('wrap', throttle())).rejects.toMatchObject({ errorClass: 'throttled' });
    expect(blind.observer.states).toEqual(['open']);
  });

  it('caps concurrent backend calls and refuses beyond the queue', async () => {
    const { p } = policy({ retries: 0, maxConcurrency: 2, maxQueue: 1 });
    let inFlight = 0;
    let peak = 0;
    const slow = async () => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, 30));
      inFlight -= 1;
    };
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => p.execute('unwrap', slow)));
    expect(peak).toBe(2);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    expect(results.filter((r) => r.status === 'rejected')).toEqual([
      expect.objectContaining({ reason: expect.objectContaining({ errorClass: 'throttled' }) }),
      expect.objectContaining({ reason: expect.objectContaining({ errorClass: 'throttled' }) }),
    ]);
  });
});
