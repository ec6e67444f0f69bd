// The library face of @k8s-kms/vault (the binary's own parts stay in its modules).
export { createVaultTransitProvider } from './create.js';
export type { VaultTransitOptions } from './create.js';
export type { VaultTransitProvider } from './provider.js';
