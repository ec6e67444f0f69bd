import { describe, expect, it } from '@jest/globals';
import { ConfigError } from '../src/index.js';
import { resolveValues } from '../src/cli/resolve-values.js';
import type { OptionDef } from '../src/cli/option-defs.js';

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

  it('throws ConfigError (exit 2) naming the flag for a missing required value and a bad config-file type', () => {
    const required: OptionDef[] = [{ name: 'key', value: 'key', required: true, help: '' }];
    let missing: unknown;
    try {
      resolveValues(required, none, {}, {});
    } catch (err) {
      missing = err;
    }
    expect(ConfigError.is(missing)).toBe(true);
    expect((missing as Error).message).toBe('--key is required (or set KMS_PLUGIN_KEY, or "key" in the config file)');
    expect(() => resolveValues(defs, none, {}, { verbose: 'yes' })).toThrow('--config: "verbose" must be true or false');
  });
});
