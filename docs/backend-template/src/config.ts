import { z } from 'zod';
import { ConfigError } from '@k8s-kms/core';
import { defineOptions, parseOptions, type OptionValues } from '@k8s-kms/core/kit';

// TEMPLATE: rename "example" everywhere (EXAMPLE_OPTIONS, parseExampleConfig, kms-plugin-example).

/** The options of kms-plugin-example, beyond the common ones. */
export const EXAMPLE_OPTIONS = defineOptions({
  address: {
    value: 'url',
    required: true,
    help: 'the KMS endpoint, e.g. https://kms.example.com',
    schema: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  },
  'key-name': {
    value: 'name',
    required: true,
    help: 'the key that encrypts',
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'must be a key name (letters, digits, _ . -)'),
  },
  'decrypt-key-name': {
    value: 'name',
    repeatable: true,
    help: 'an older key whose data must stay readable (repeatable)',
    schema: z.array(z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'each must be a key name')),
  },
  'token-file': { value: 'path', help: 'file holding the API token, read at each call', schema: z.string().min(1).optional() },
});

/** The validated options of kms-plugin-example. */
export type ExampleConfig = OptionValues<typeof EXAMPLE_OPTIONS>;

/** Validate the options (defaults for those left out); a ConfigError names each bad one. */
export function parseExampleConfig(values: Readonly<Record<string, unknown>>): ExampleConfig {
  const config = parseOptions(EXAMPLE_OPTIONS, values);
  // TEMPLATE: checks across options go here, e.g.
  if (config['decrypt-key-name'].includes(config['key-name'])) {
    throw new ConfigError('--decrypt-key-name: lists --key-name, which is always readable');
  }
  return config;
}
