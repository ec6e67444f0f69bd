import { ConfigError, createLogger, type LibraryOptions, type Logger } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { LOCAL_OPTIONS, parseLocalConfig, type LocalConfig } from './config.js';
import { createKeyringIfMissing, KeyFileError } from './keyring.js';
import { LocalKeyProvider } from './provider.js';

/** The options of {@link createLocalKeyProvider}: kms-plugin-local's flags in camelCase, with the same defaults. */
export type LocalKeyOptions = LibraryOptions<typeof LOCAL_OPTIONS>;

/**
 * The local key-file provider as kms-plugin-local builds it (`{ keyFile: '/etc/kms/local.key' }`):
 * a missing key file is a ConfigError unless `createKeyFile` is set, never replaced silently.
 */
export async function createLocalKeyProvider(options: LocalKeyOptions, logger?: Logger): Promise<LocalKeyProvider> {
  return localKeyProviderFrom(
    parseLocalConfig(flagKeyed(LOCAL_OPTIONS, options)),
    logger ?? createLogger({ level: 'silent', name: 'local' }),
  );
}

/** The provider from parsed options (the binary's path). */
export async function localKeyProviderFrom(config: LocalConfig, log: Logger): Promise<LocalKeyProvider> {
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
}
