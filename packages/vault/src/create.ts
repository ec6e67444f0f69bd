import { readFileSync } from 'node:fs';
import { createLogger, type LibraryOptions, type Logger } from '@k8s-kms/core';
import { flagKeyed } from '@k8s-kms/core/kit';
import { VaultAuth } from './auth.js';
import { parseVaultConfig, VAULT_OPTIONS, type VaultConfig } from './config.js';
import { VaultTransitProvider } from './provider.js';
import { VaultHttp } from './vault-http.js';

/** The options of {@link createVaultTransitProvider}: kms-plugin-vault's flags in camelCase, with the same defaults. */
export type VaultTransitOptions = LibraryOptions<typeof VAULT_OPTIONS>;

/**
 * The Vault / OpenBao transit provider as kms-plugin-vault builds it, from the same options in
 * camelCase (`{ address: 'https://vault:8200', keyName: 'k8s', authMethod: 'kubernetes', role: 'kms' }`).
 * `logger` receives its warnings (a token about to expire, TLS verification off); silent by default.
 */
export function createVaultTransitProvider(options: VaultTransitOptions, logger?: Logger): VaultTransitProvider {
  return createVaultProvider(
    parseVaultConfig(flagKeyed(VAULT_OPTIONS, options)),
    logger ?? createLogger({ level: 'silent', name: 'vault' }),
  ).transit;
}

/** The pieces a running plugin needs: the transit provider and its auth (for the TTL metric). */
export interface VaultProvider {
  readonly transit: VaultTransitProvider;
  readonly auth: VaultAuth;
}

/**
 * Build the provider from a parsed configuration. TLS files are read now (a missing CA is a start-up
 * error); credentials are read at each login, so Vault being down does not stop the plugin starting.
 */
export function createVaultProvider(config: VaultConfig, log: Logger): VaultProvider {
  if (config['tls-skip-verify']) {
    log.warn(
      { address: config.address },
      'TLS verification of the Vault server is OFF (--tls-skip-verify): anyone on the path can read and alter the traffic',
    );
  }
  const http = new VaultHttp({
    address: config.address,
    ...(config.namespace ? { namespace: config.namespace } : {}),
    ...(config['tls-ca-file'] ? { ca: readPem(config['tls-ca-file'], '--tls-ca-file') } : {}),
    ...(config['tls-client-cert'] ? { clientCert: readPem(config['tls-client-cert'], '--tls-client-cert') } : {}),
    ...(config['tls-client-key'] ? { clientKey: readPem(config['tls-client-key'], '--tls-client-key') } : {}),
    ...(config['tls-server-name'] ? { serverName: config['tls-server-name'] } : {}),
    skipVerify: config['tls-skip-verify'],
  });
  const auth = VaultAuth.fromConfig(http, config, log);
  const transit = new VaultTransitProvider({
    http,
    auth,
    mount: config['transit-mount'],
    keyName: config['key-name'],
    decryptKeyNames: config['decrypt-key-name'],
    fingerprint: config['key-fingerprint'],
  });
  return { transit, auth };
}

/** Read a PEM file at start; the error names the flag and the file, never the content. */
function readPem(path: string, flag: string): Buffer {
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    throw new Error(`${flag}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!pem.includes('-----BEGIN ')) throw new Error(`${flag}: ${path} is not a PEM file`);
  return pem;
}
