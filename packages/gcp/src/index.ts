// The library face of @k8s-kms/gcp (the binary's own parts stay in its modules).
export { createGcpKmsProvider } from './create.js';
export type { GcpKmsOptions } from './create.js';
export { GcpKmsProvider } from './provider.js';
export type { GcpKmsProviderOptions } from './provider.js';
