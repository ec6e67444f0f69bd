#!/usr/bin/env node
import { installedVersion, ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { GCP_OPTIONS, parseGcpConfig } from './config.js';
import { gcpKmsProviderFrom } from './create.js';

await runPluginCli({
  name: 'kms-plugin-gcp',
  version: ownVersion(import.meta.url),
  components: { '@google-cloud/kms': installedVersion('@google-cloud/kms', import.meta.url) },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in Google Cloud KMS.',
  options: GCP_OPTIONS,
  parseConfig: parseGcpConfig,
  buildProvider: gcpKmsProviderFrom,
});
