#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { runPluginCli } from '@k8s-kms/core';
import { LOCAL_OPTIONS, parseLocalConfig } from './config.js';
import { createKeyringIfMissing, rotateKeyring } from './keyring.js';
import { LocalKeyProvider } from './provider.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

await runPluginCli({
  name: 'kms-plugin-local',
  version,
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in a local keyring file.',
  options: LOCAL_OPTIONS,
  async buildProvider(values, log) {
    const config = parseLocalConfig(values);
    if (config.create && (await createKeyringIfMissing(config.keyFile))) {
      log.info({ keyFile: config.keyFile }, 'created a new keyring with one fresh key (mode 0600)');
    }
    return LocalKeyProvider.open(config.keyFile);
  },
  addCommands(program) {
    program.enablePositionalOptions(); // `rotate --key-file` belongs to rotate, not to the server
    program
      .command('rotate')
      .description('add a new key version to the keyring; a running plugin uses it from its next refresh')
      .requiredOption('--key-file <path>', 'keyring file')
      .action(async (opts: { keyFile: string }) => {
        try {
          const key = await rotateKeyring(opts.keyFile);
          process.stdout.write(`added key version ${key.version} to ${opts.keyFile}\n`);
        } catch (err) {
          process.stderr.write(`kms-plugin-local rotate: ${(err as Error).message}\n`);
          process.exitCode = 1;
        }
      });
  },
});
