import type { LibraryOptions } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { EXAMPLE_OPTIONS, parseExampleConfig } from './config.js';
import { ExampleKmsProvider } from './provider.js';

/** The options of {@link createExampleKmsProvider}: the binary's flags in camelCase, with the same defaults. */
export type ExampleKmsOptions = LibraryOptions<typeof EXAMPLE_OPTIONS>;

/** The provider as kms-plugin-example builds it, from the same options in camelCase (`{ address, keyName }`). */
export async function createExampleKmsProvider(options: ExampleKmsOptions): Promise<ExampleKmsProvider> {
  return new ExampleKmsProvider(parseExampleConfig(flagKeyed(EXAMPLE_OPTIONS, options)));
}
