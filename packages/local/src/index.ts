// The library face of @k8s-kms/local.
export { LocalKeyProvider } from './provider.js';
export { readKeyring, createKeyringIfMissing, initKeyring, rotateKeyring, KeyFileError, KEYRING_FORMAT } from './keyring.js';
export type { KeyringKey } from './keyring.js';
export { LOCAL_OPTIONS, parseLocalConfig } from './config.js';
