import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { ConfigError } from '../src/index.js';
import { defineOptions, parseOptions, schemas, type OptionDef } from '../src/kit.js';
import { resolveValues } from '../src/cli/resolve-values.js';

const defs: OptionDef[] = [
  { name: 'encryption-context', value: 'k=v', repeatable: true, help: '' },
  { name: 'timeout', value: 'duration', default: '2s', help: '' },
  { name: 'verbose', help: '' },
];
const none = () => undefined;

describe('resolving flag values', () => {
  it('reads a repeatable option the same from a flag, repeated flags, the environment and the config file', () => {
    const want = ['a=b', 'c=d'];
    const fromFlag = resolveValues(defs, (n) => (n === 'encryption-context' ? ['a=b,c=d'] : undefined), {}, {});
    const fromFlags = resolveValues(defs, (n) => (n === 'encryption-context' ? ['a=b', 'c=d'] : undefined), {}, {});
    const fromEnv = resolveValues(defs, none, { KMS_PLUGIN_ENCRYPTION_CONTEXT: 'a=b,c=d' }, {});
    const fromFile = resolveValues(defs, none, {}, { 'encryption-context': ['a=b', 'c=d'] });
    const fromFileList = resolveValues(defs, none, {}, { 'encryption-context': ['a=b,c=d'] });
    for (const values of [fromFlag, fromFlags, fromEnv, fromFile, fromFileList]) expect(values['encryption-context']).toEqual(want);
  });

  it('drops empty items and spaces around them', () => {
    expect(resolveValues(defs, none, { KMS_PLUGIN_ENCRYPTION_CONTEXT: ' a=b , ,c=d,' }, {})['encryption-context']).toEqual(['a=b', 'c=d']);
  });

  it('throws ConfigError (exit 2) naming the file key of a bad config-file type', () => {
    let err: unknown;
    try {
      resolveValues(defs, none, {}, { verbose: 'yes' });
    } catch (e) {
      err = e;
    }
    expect(ConfigError.is(err)).toBe(true);
    expect((err as Error).message).toBe('--config: "verbose" must be true or false');
  });
});

describe('validating option values', () => {
  const options = defineOptions({
    key: { value: 'key', required: true, help: '', schema: z.string().regex(/^k/, 'must start with k') },
    wait: { value: 'duration', default: '2s', help: '', schema: schemas.duration(10) },
    tries: { value: 'n', default: '3', help: '', schema: schemas.count(0, 10) },
    mode: { value: 'mode', default: 'a', help: '', schema: schemas.choice(['a', 'b']) },
    token: { value: 'token', secret: true, help: '', schema: z.string().regex(/^s\./, 'must start with s.').optional() },
    tags: { value: 'tag', repeatable: true, help: '', schema: z.array(z.string()) },
    fast: { help: '', schema: schemas.switch() },
  });

  it('reads a duration with spaces around it', () => {
    expect(parseOptions(options, { key: 'k1', wait: ' 5s ' }).wait).toBe(5000);
  });

  it('applies the defaults of options left out, as a library caller passes them', () => {
    expect(parseOptions(options, { key: 'k1' })).toEqual({
      key: 'k1',
      wait: 2000,
      tries: 3,
      mode: 'a',
      token: undefined,
      tags: [],
      fast: false,
    });
  });

  it('reports every bad option in one ConfigError, a line naming each, and never echoes a secret', () => {
    let err: unknown;
    try {
      parseOptions(options, { wait: 'forever', tries: '11', mode: 'c', token: 'hunter2-not-a-token' });
    } catch (e) {
      err = e;
    }
    expect(ConfigError.is(err)).toBe(true);
    const lines = (err as Error).message.split('\n');
    expect(lines).toEqual([
      '--key is required (or set KMS_PLUGIN_KEY, or "key" in the config file)',
      '--wait: must be a duration like 250ms, 30s, 5m, 1h30m or 24h',
      '--tries: must be at most 10',
      expect.stringMatching(/^--mode: /),
      '--token: invalid value',
    ]);
    expect((err as Error).message).not.toContain('hunter2');
  });
});
