#!/usr/bin/env node
import { ownVersion, runPluginCli } from '@k8s-kms/core/kit';
import { LOCAL_OPTIONS, parseLocalConfig } from './config.js';
import { localKeyProviderFrom } from './create.js';
import { initKeyring, rotateKeyring } from './keyring.js';

await runPluginCli({
  name: 'kms-plugin-local',
  version: ownVersion(import.meta.url),
  description: 'Kubernetes KMS plugin (v2 and v1beta1) whose root keys live in a local keyring file.',
  options: LOCAL_OPTIONS,
  parseConfig: parseLocalConfig,
  buildProvider: (config, { log }) => localKeyProviderFrom(config, log),
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
