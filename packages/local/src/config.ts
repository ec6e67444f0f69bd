import { z } from 'zod';
import { defineOptions, parseOptions, schemas, type OptionValues } from '@k8s-kms/core/kit';

/** The options of kms-plugin-local, beyond the common ones. */
export const LOCAL_OPTIONS = defineOptions({
  'key-file': {
    value: 'path',
    required: true,
    help: 'keyring file, mode 0600 (create it once with `kms-plugin-local init --key-file <path>`)',
    schema: z.string().min(1),
  },
  'create-key-file': {
    help: 'create the key file with a new key if it does not exist (its directory must exist); for throwaway clusters only',
    schema: schemas.switch(),
  },
  // 0.1.0 created a missing key file unless this was given; that is the default now. Accepted so
  // that a manifest written for 0.1.0 still starts (a warning says it can go).
  'require-key-file': { help: 'deprecated: the default since 0.2 (a missing key file stops start-up); ignored', schema: schemas.switch() },
});

/** The validated options of kms-plugin-local. */
export type LocalConfig = OptionValues<typeof LOCAL_OPTIONS>;

/** Validate the local options (defaults for those left out); a ConfigError names each bad one. */
export function parseLocalConfig(values: Readonly<Record<string, unknown>>): LocalConfig {
  return parseOptions(LOCAL_OPTIONS, values);
}
