import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { COMMON_OPTIONS, optionDefs } from '../src/kit.js';
import { Format } from '../src/envelope/format.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the core README', () => {
  it.each(optionDefs(COMMON_OPTIONS).map((o) => [o.name, o] as const))('documents --%s with its default', (_name, opt) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`--${opt.name}`));
    expect(row).toBeDefined();
    if (opt.default) expect(row).toContain(`\`${opt.default}\``);
  });

  it.each(Object.entries(Format))('documents format byte %s', (_name, byte) => {
    expect(readme).toContain(`| \`0x${byte.toString(16).padStart(2, '0')}\` |`);
  });
});
