// The library face of @k8s-kms/aws (the binary's own parts stay in its modules).
export { createAwsKmsProvider } from './create.js';
export type { AwsKmsOptions } from './create.js';
export { AwsKmsProvider } from './provider.js';
export type { AwsKmsProviderOptions } from './provider.js';
export { RESERVED_CONTEXT_KEY } from './config.js';
