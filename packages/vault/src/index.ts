// The library face of @k8s-kms/vault.
export { VaultTransitProvider } from './provider.js';
export type { VaultTransitProviderOptions } from './provider.js';
export { VaultAuth } from './auth.js';
export { VaultHttp, VaultCallError } from './vault-http.js';
export type { VaultHttpOptions } from './vault-http.js';
export { VAULT_OPTIONS, parseVaultConfig, SERVICE_ACCOUNT_TOKEN } from './config.js';
export type { VaultConfig, AuthMethod } from './config.js';
export { createVaultProvider } from './create.js';
export type { VaultProvider } from './create.js';
export { fromVaultError } from './errors.js';
