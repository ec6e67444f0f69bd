#!/usr/bin/env node
import { installedVersion, ownVersion, runPluginCli } from '@k8s-kms/core';
import { createGcpKmsClient } from './client.js';
import { GCP_OPTIONS, parseGcpConfig } from './config.js';
import { GcpKmsProvider } from './provider.js';

await runPluginCli({
  name: 'kms-plugin-gcp',
  version: ownVersion(import.meta.url),
  components: { '@google-cloud/kms': installedVersion('@google-cloud/kms', import.meta.url) },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in Google Cloud KMS.',
  options: GCP_OPTIONS,
  parseConfig: parseGcpConfig,
  async buildProvider(config) {
    const client = await createGcpKmsClient(config);
    return new GcpKmsProvider({
      client: client.kms,
      key: config.key,
      decryptKeys: config['decrypt-key'],
      ...(config['quota-project'] ? { quotaProject: config['quota-project'] } : {}),
      facts: { endpoint: client.endpoint, auth: client.auth, quotaProject: config['quota-project'] },
    });
  },
});
