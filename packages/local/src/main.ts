#!/usr/bin/env node
import { ConfigError, ownVersion, runPluginCli } from '@k8s-kms/core';
import { LOCAL_OPTIONS, parseLocalConfig } from './config.js';
import { createKeyringIfMissing, initKeyring, KeyFileError, rotateKeyring } from './keyring.js';
import { LocalKeyProvider } from './provider.js';

await runPluginCli({
  name: 'kms-plugin-local',
  version: ownVersion(import.meta.url),
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in a local keyring file.',
  options: LOCAL_OPTIONS,
  parseConfig: parseLocalConfig,
  async buildProvider(config, { log }) {
    const keyFile = config['key-file'];
    if (config['require-key-file']) log.warn('--require-key-file is the default now and can be removed');
    if (config['create-key-file'] && (await createKeyringIfMissing(keyFile))) {
      log.warn({ keyFile }, 'created a new key file with a new root key (--create-key-file); back it up');
    }
    try {
      return await LocalKeyProvider.open(keyFile);
    } catch (err) {
      // A missing key file is never replaced silently: a new root key cannot decrypt the data
      // written under the old one, so starting with one would lose every Secret.
      if (err instanceof KeyFileError && err.code === 'ENOENT') {
        throw new ConfigError(
          `${err.message}: create it with "kms-plugin-local init --key-file ${keyFile}" (or pass --create-key-file); ` +
            'check the path first: a new key file holds a new root key, which cannot decrypt data written under another',
        );
      }
      throw err;
    }
  },
  addCommands(program) {
    const keyFileCommand = (name: string, description: string, run: (keyFile: string) => Promise<string>): void => {
      program
        .command(name)
        .description(description)
        .requiredOption('--key-file <path>', 'keyring file')
        .action(async (opts: { keyFile: string }) => {
          try {
            process.stdout.write(`${await run(opts.keyFile)}\n`);
          } catch (err) {
            process.stderr.write(`kms-plugin-local ${name}: ${(err as Error).message}\n`);
            process.exitCode = 1;
          }
        });
    };
    keyFileCommand('init', 'create a new keyring file (mode 0600, directory 0700) with one new key; never overwrites', async (keyFile) => {
      await initKeyring(keyFile);
      return `created key file ${keyFile} (mode 0600) with key version 1; back it up: losing it loses every Secret encrypted under it`;
    });
    keyFileCommand('rotate', 'add a new key version to the keyring; a running plugin uses it from its next refresh', async (keyFile) => {
      const key = await rotateKeyring(keyFile);
      return `added key version ${key.version} to ${keyFile}`;
    });
  },
});
