import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import type { LibraryOptions } from '../src/index.js';
import { defineOptions, flagKeyed, parseOptions, schemas } from '../src/kit.js';

const OPTIONS = defineOptions({
  'key-name': { value: 'name', required: true, help: 'the key', schema: z.string().min(1) },
  'decrypt-key-name': { value: 'name', repeatable: true, help: 'older keys', schema: z.array(z.string()) },
  'refresh-after': { value: 'duration', default: '60s', help: 'how often', schema: schemas.duration() },
  'skip-verify': { help: 'a switch', schema: schemas.switch() },
});

describe('library options: the flags in camelCase', () => {
  it('maps camelCase keys to their flags, and the defaults apply as for the binary', () => {
    const options: LibraryOptions<typeof OPTIONS> = { keyName: 'k8s', decryptKeyName: ['old'] };
    expect(flagKeyed(OPTIONS, options)).toEqual({ 'key-name': 'k8s', 'decrypt-key-name': ['old'] });
    expect(parseOptions(OPTIONS, flagKeyed(OPTIONS, options))).toEqual({
      'key-name': 'k8s',
      'decrypt-key-name': ['old'],
      'refresh-after': 60_000,
      'skip-verify': false,
    });
  });

  it('refuses a key that names no option, as an unknown flag is refused', () => {
    // @ts-expect-error: not an option (the type says so too)
    expect(() => flagKeyed(OPTIONS, { keyName: 'k8s', keyname: 'typo', 'key-name': 'x' })).toThrow('unknown options: keyname, key-name');
  });

  // The type check step (tsc -p tsconfig.tests.json) fails on an @ts-expect-error that expects nothing.
  it('types required options as required and the rest as optional, as the flag takes them', () => {
    // @ts-expect-error: keyName is required
    const missing: LibraryOptions<typeof OPTIONS> = { skipVerify: true };
    // @ts-expect-error: a list, as the flag takes it
    const wrongType: LibraryOptions<typeof OPTIONS> = { keyName: 'k', decryptKeyName: 'old' };
    expect([missing, wrongType].length).toBe(2);
  });
});
