// The library face of @k8s-kms/gcp.
export { GcpKmsProvider, type GcpKmsProviderOptions } from './provider.js';
export { createGcpKmsClient, KMS_SCOPES, type GcpKmsClient } from './client.js';
export { GCP_OPTIONS, parseGcpConfig, CRYPTO_KEY } from './config.js';
export type { GcpConfig } from './config.js';
export { fromGcpError } from './errors.js';
export { crc32c } from './crc32c.js';
