#!/usr/bin/env node
import { installedVersion, ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { awsKmsProviderFrom } from './create.js';
import { AWS_OPTIONS, parseAwsConfig } from './config.js';

await runPluginCli({
  name: 'kms-plugin-aws',
  version: ownVersion(import.meta.url),
  components: { '@aws-sdk/client-kms': installedVersion('@aws-sdk/client-kms', import.meta.url) },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in AWS KMS.',
  options: AWS_OPTIONS,
  parseConfig: parseAwsConfig,
  buildProvider: awsKmsProviderFrom,
});
