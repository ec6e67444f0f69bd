#!/usr/bin/env node
import { ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { EXAMPLE_OPTIONS, parseExampleConfig } from './config.js';
import { ExampleKmsProvider } from './provider.js';

await runPluginCli({
  name: 'kms-plugin-example',
  version: ownVersion(import.meta.url),
  // TEMPLATE: components: { '<the SDK>': installedVersion('<the SDK>', import.meta.url) },
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in Example KMS.',
  options: EXAMPLE_OPTIONS,
  parseConfig: parseExampleConfig,
  buildProvider: (config) => new ExampleKmsProvider(config),
});
