// @k8s-kms/core/kit: what a backend author needs beyond the library face ('@k8s-kms/core'):
// option declarations and the CLI runner, error classification, wrapped-key framing, AAD digests.
// docs/backend-guide.md says how the pieces fit.
export { needs } from './errors.js';
export { classifyFailure, classOfGrpcCode, classOfHttpStatus, retryAfterMs, transportFailure } from './error-classification.js';
export type { FailureFacts, TransportFailure } from './error-classification.js';
export { wrappedKeyFraming } from './wrapped-key.js';
export type { WrappedKeyFraming, WrappedKeyLayout, WrappedKeyParts } from './wrapped-key.js';
export { AadDigest } from './aad-digest.js';
export { sealAes256Gcm, openAes256Gcm } from './envelope/aead.js';
export { KEK_ANNOTATION } from './envelope/format.js';
export type { BackendOperation } from './remote-policy.js';
export { runPluginCli } from './cli/run-plugin.js';
export type { PluginCliSpec, BuildContext } from './cli/run-plugin.js';
export { defineOptions, parseOptions, optionDefs, optionsJsonSchema, envName, schemas } from './cli/options.js';
export type { OptionSpec, OptionDecls, OptionValues, OptionDef } from './cli/options.js';
export { flagKeyed } from './cli/library-options.js';
export { COMMON_OPTIONS } from './cli/common-options.js';
export type { RawValue, RawValues } from './cli/resolve-values.js';
export { installedVersion, ownVersion } from './cli/version-info.js';
export { raceAbort } from './abortable.js';
