import { describe, expect, it } from '@jest/globals';
import { parseDuration } from '../src/cli/duration.js';

describe('durations', () => {
  it.each([
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['24h', 86_400_000],
    ['1h30m', 5_400_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m30s500ms', 9_930_500],
    ['.5s', 500],
    ['1500us', 2],
    ['0', 0],
  ])('reads %s as Go does (%d ms)', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '5', '-1s', '1d', '1h 30m', 'forever', 's', '1.2.3s'])('refuses %j, naming the forms it takes', (text) => {
    expect(() => parseDuration(text)).toThrow(`"${text}" is not a duration like 250ms, 30s, 5m, 1h30m or 24h`);
  });
});
