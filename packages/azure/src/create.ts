import { KeyClient, type CryptographyClientOptions } from '@azure/keyvault-keys';
import type { LibraryOptions } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { AZURE_OPTIONS, parseAzureConfig, type AzureConfig } from './config.js';
import { createAzureCredential, readCaFile } from './credential.js';
import { AzureKeyVaultProvider } from './provider.js';

/** The options of {@link createAzureKeyVaultProvider}: kms-plugin-azure's flags in camelCase, with the same defaults. */
export type AzureKeyVaultOptions = LibraryOptions<typeof AZURE_OPTIONS>;

/**
 * The Key Vault provider as kms-plugin-azure builds it, from the same options in camelCase
 * (`{ vaultUrl: 'https://my-vault.vault.azure.net', keyName: 'kms' }`). Secret, certificate and
 * azure.json files are read now: a bad one is a ConfigError naming it.
 */
export async function createAzureKeyVaultProvider(options: AzureKeyVaultOptions): Promise<AzureKeyVaultProvider> {
  return azureKeyVaultProviderFrom(parseAzureConfig(flagKeyed(AZURE_OPTIONS, options)));
}

/** The provider from parsed options (the binary's path). */
export async function azureKeyVaultProviderFrom(config: AzureConfig): Promise<AzureKeyVaultProvider> {
  const tls = config['tls-ca-file'] ? await readCaFile(config['tls-ca-file']) : undefined;
  const { credential, auth, authorityHost } = await createAzureCredential(config, tls);
  // The SDK's own retries are off: core's remote call policy is the one retry layer.
  const clientOptions: CryptographyClientOptions = {
    retryOptions: { maxRetries: 0 },
    disableChallengeResourceVerification: config['disable-challenge-resource-verification'],
    userAgentOptions: { userAgentPrefix: 'k8s-kms' },
    ...(tls ? { tlsOptions: tls } : {}),
  };
  const vaultUrl = config['vault-url'];
  return new AzureKeyVaultProvider({
    keys: new KeyClient(vaultUrl, credential, clientOptions),
    credential,
    clientOptions,
    vaultUrl,
    keyName: config['key-name'],
    keyVersion: config['key-version'],
    decryptKeyNames: config['decrypt-key-name'],
    facts: {
      auth,
      authorityHost,
      ...(config['disable-challenge-resource-verification'] ? { challengeResourceVerification: 'off' } : {}),
    },
  });
}
