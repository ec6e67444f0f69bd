#!/usr/bin/env node
import { installedVersion, ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { VAULT_OPTIONS, parseVaultConfig } from './config.js';
import { createVaultProvider } from './create.js';

await runPluginCli({
  name: 'kms-plugin-vault',
  version: ownVersion(import.meta.url),
  components: { 'node-vault': installedVersion('node-vault', import.meta.url) },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in a HashiCorp Vault or OpenBao transit engine.',
  options: VAULT_OPTIONS,
  parseConfig: parseVaultConfig,
  buildProvider(config, { log, metrics }) {
    const provider = createVaultProvider(config, log);
    metrics.backendGauge(
      'kms_plugin_vault_token_ttl_seconds',
      'Seconds until the Vault token expires (+Inf for a token without expiry, 0 before login or once expired).',
      () => provider.auth.ttlSeconds(),
    );
    return provider.transit;
  },
});
