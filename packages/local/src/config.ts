import type { OptionDef, RawValues } from '@k8s-kms/core';

/** The flags of kms-plugin-local, beyond the common ones. */
export const LOCAL_OPTIONS: readonly OptionDef[] = [
  {
    name: 'key-file',
    value: 'path',
    required: true,
    help: 'keyring file, mode 0600 (create it once with `kms-plugin-local init --key-file <path>`)',
  },
  {
    name: 'create-key-file',
    help: 'create the key file with a new key if it does not exist (its directory must exist); for throwaway clusters only',
  },
];

export interface LocalConfig {
  readonly keyFile: string;
  /** Create a missing key file at start (off by default: a mistyped path must not serve a new root key). */
  readonly create: boolean;
}

/** Validate the resolved values of the local flags. */
export function parseLocalConfig(values: RawValues): LocalConfig {
  const keyFile = values['key-file'];
  if (typeof keyFile !== 'string' || keyFile === '') throw new Error('--key-file is required');
  return { keyFile, create: values['create-key-file'] === true };
}
