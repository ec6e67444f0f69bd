// @k8s-kms/core for library users: run a KMS plugin server around a provider (one of the
// backends', or your own), talk to a plugin, classify failures. What backend authors need besides
// (option declarations, the CLI runner, error classification, wrapped-key framing) is in
// '@k8s-kms/core/kit'. Named exports only: what is listed in neither is internal.
export { createPluginServer } from './plugin-server.js';
export type { PluginServer, PluginServerOptions } from './plugin-server.js';
export type { KeyProvider, KeyVersion, CallOptions, WrapOptions, WrapWithKeyOptions, ProviderDescription } from './provider.js';
export { KmsError } from './errors.js';
export type { ErrorClass, KmsErrorOptions } from './errors.js';
export { ConfigError } from './config-error.js';
export type { KekMode } from './envelope/envelope.js';
export { DEFAULT_KEK_LIMITS } from './envelope/local-kek.js';
export type { LocalKekLimits } from './envelope/local-kek.js';
export { DEFAULT_REMOTE_POLICY } from './remote-policy.js';
export type { RemotePolicyOptions } from './remote-policy.js';
export type { RateLimitOptions } from './rate-limiter.js';
export type { RefreshOptions } from './key-state.js';
export type { StatusVersion } from './kms-service.js';
export { PluginMetrics } from './ops/metrics.js';
export { createLogger } from './ops/logger.js';
export type { Logger } from './ops/logger.js';
export { createPluginClient } from './client/plugin-client.js';
export type { PluginClient, ServiceError } from './client/plugin-client.js';
export type { LibraryOptions } from './cli/library-options.js';
