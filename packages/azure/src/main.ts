#!/usr/bin/env node
import { installedVersion, ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { AZURE_OPTIONS, parseAzureConfig } from './config.js';
import { azureKeyVaultProviderFrom } from './create.js';

await runPluginCli({
  name: 'kms-plugin-azure',
  version: ownVersion(import.meta.url),
  components: {
    '@azure/keyvault-keys': installedVersion('@azure/keyvault-keys', import.meta.url),
    '@azure/identity': installedVersion('@azure/identity', import.meta.url),
  },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in Azure Key Vault or Managed HSM.',
  options: AZURE_OPTIONS,
  parseConfig: parseAzureConfig,
  buildProvider: azureKeyVaultProviderFrom,
});
