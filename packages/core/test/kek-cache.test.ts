import { describe, expect, it } from '@jest/globals';
import { KekCache } from '../src/envelope/kek-cache.js';

const noEvents = { hit: () => undefined, miss: () => undefined, refused: () => undefined, size: () => undefined };

describe('the unwrapped-KEK cache', () => {
  it('does not keep a KEK whose unwrap finished after the cache was cleared (revocation)', async () => {
    let release: (k: Buffer) => void = () => undefined;
    const cache = new KekCache(10, () => new Promise((r) => (release = r)), noEvents);
    const pending = cache.get(Buffer.from('wrapped'), new AbortController().signal);
    cache.clear();
    release(Buffer.alloc(32, 1));
    await expect(pending).resolves.toEqual(Buffer.alloc(32, 1));
    expect(cache.size).toBe(0);
  });

  it('does not cache failures: the next lookup calls the backend again', async () => {
    let calls = 0;
    const cache = new KekCache(
      10,
      async () => {
        calls += 1;
        if (calls === 1) throw new Error('backend down');
        return Buffer.alloc(32, 2);
      },
      noEvents,
    );
    const signal = new AbortController().signal;
    await expect(cache.get(Buffer.from('w'), signal)).rejects.toThrow('backend down');
    await expect(cache.get(Buffer.from('w'), signal)).resolves.toEqual(Buffer.alloc(32, 2));
    expect(calls).toBe(2);
  });
});
