// The library face of @k8s-kms/local (the binary's own parts stay in its modules).
export { createLocalKeyProvider } from './create.js';
export type { LocalKeyOptions } from './create.js';
export { LocalKeyProvider } from './provider.js';
export { readKeyring, createKeyringIfMissing, initKeyring, rotateKeyring, KeyFileError, KEYRING_FORMAT } from './keyring.js';
export type { KeyringKey } from './keyring.js';
