// The library face of @k8s-kms/aws.
export { AwsKmsProvider } from './provider.js';
export type { AwsKmsProviderOptions } from './provider.js';
export { AWS_OPTIONS, parseAwsConfig, RESERVED_CONTEXT_KEY } from './config.js';
export type { AwsConfig } from './config.js';
export { createAwsKmsClient } from './client.js';
export { fromAwsError } from './errors.js';
