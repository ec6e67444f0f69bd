import type { OptionDef, RawValues } from '@k8s-kms/core';

/** The flags of kms-plugin-local, beyond the common ones. */
export const LOCAL_OPTIONS: readonly OptionDef[] = [
  {
    name: 'key-file',
    value: 'path',
    required: true,
    help: 'keyring file (created 0600 with a fresh key if missing; refused if group/world accessible)',
  },
  // Not "--no-create": commander reads any --no-* flag as the negation of another flag.
  { name: 'require-key-file', help: 'fail instead of creating a missing key file' },
];

export interface LocalConfig {
  readonly keyFile: string;
  readonly create: boolean;
}

/** Validate the resolved values of the local flags. */
export function parseLocalConfig(values: RawValues): LocalConfig {
  const keyFile = values['key-file'];
  if (typeof keyFile !== 'string' || keyFile === '') throw new Error('--key-file is required');
  return { keyFile, create: values['require-key-file'] !== true };
}
