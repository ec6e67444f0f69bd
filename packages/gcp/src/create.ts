import type { LibraryOptions } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { createGcpKmsClient } from './client.js';
import { GCP_OPTIONS, parseGcpConfig, type GcpConfig } from './config.js';
import { GcpKmsProvider } from './provider.js';

/** The options of {@link createGcpKmsProvider}: kms-plugin-gcp's flags in camelCase, with the same defaults. */
export type GcpKmsOptions = LibraryOptions<typeof GCP_OPTIONS>;

/**
 * The Cloud KMS provider as kms-plugin-gcp builds it, from the same options in camelCase
 * (`{ key: 'projects/p/locations/l/keyRings/r/cryptoKeys/k', credentialsFile: '/etc/kms/wif.json' }`).
 * Credential and CA files are read now: a bad one is a ConfigError naming it.
 */
export async function createGcpKmsProvider(options: GcpKmsOptions): Promise<GcpKmsProvider> {
  return gcpKmsProviderFrom(parseGcpConfig(flagKeyed(GCP_OPTIONS, options)));
}

/** The provider from parsed options (the binary's path). */
export async function gcpKmsProviderFrom(config: GcpConfig): Promise<GcpKmsProvider> {
  const client = await createGcpKmsClient(config);
  return new GcpKmsProvider({
    client: client.kms,
    key: config.key,
    decryptKeys: config['decrypt-key'],
    ...(config['quota-project'] ? { quotaProject: config['quota-project'] } : {}),
    facts: { endpoint: client.endpoint, auth: client.auth, quotaProject: config['quota-project'] },
  });
}
