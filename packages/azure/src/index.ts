// The library face of @k8s-kms/azure (the binary's own parts stay in its modules).
export { createAzureKeyVaultProvider } from './create.js';
export type { AzureKeyVaultOptions } from './create.js';
export { AzureKeyVaultProvider } from './provider.js';
export type { AzureKeyVaultProviderOptions } from './provider.js';
