import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { optionDefs } from '@k8s-kms/core';
import { VAULT_OPTIONS } from '../src/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('the vault README', () => {
  it.each(optionDefs(VAULT_OPTIONS).map((o) => [o.name, o] as const))('documents --%s, its env var and its default', (_name, opt) => {
    const row = readme.split('\n').find((line) => line.startsWith(`| \`--${opt.name}`));
    expect(row).toBeDefined();
    expect(row).toContain(`\`KMS_PLUGIN_${opt.name.toUpperCase().replace(/-/g, '_')}\``);
    if (opt.default) expect(row).toContain(`\`${opt.default}\``);
  });
});
