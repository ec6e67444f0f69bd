import { z } from 'zod';
import { ConfigError } from '@k8s-kms/core';
import { defineOptions, parseOptions, type OptionValues } from '@k8s-kms/core/kit';

/** A crypto key's resource name, as Cloud KMS spells it. */
export const CRYPTO_KEY =
  /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/locations\/[a-z0-9-]+\/keyRings\/[a-zA-Z0-9_-]{1,63}\/cryptoKeys\/[a-zA-Z0-9_-]{1,63}$/;
const CRYPTO_KEY_HINT = 'must be projects/P/locations/L/keyRings/R/cryptoKeys/K';

/** The options of kms-plugin-gcp, beyond the common ones. */
export const GCP_OPTIONS = defineOptions({
  key: {
    value: 'name',
    required: true,
    help: 'the crypto key that encrypts: projects/P/locations/L/keyRings/R/cryptoKeys/K (its primary version is used)',
    schema: z.string().regex(CRYPTO_KEY, CRYPTO_KEY_HINT),
  },
  'decrypt-key': {
    value: 'name',
    repeatable: true,
    help: 'an older crypto key whose data must stay readable (repeatable)',
    schema: z.array(z.string().regex(CRYPTO_KEY, `each ${CRYPTO_KEY_HINT}`)),
  },
  'credentials-file': {
    value: 'path',
    help: 'a credential file: service account key, workload identity federation (external_account) or impersonated_service_account (default: Application Default Credentials)',
    schema: z.string().min(1).optional(),
  },
  'quota-project': {
    value: 'project',
    help: 'project billed for quota (x-goog-user-project)',
    schema: z
      .string()
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, 'must be a project id')
      .optional(),
  },
  endpoint: {
    value: 'host[:port]',
    help: 'Cloud KMS endpoint: a regional endpoint, Private Service Connect, or a stand-in (default cloudkms.googleapis.com:443)',
    schema: z
      .string()
      .regex(/^([A-Za-z0-9.-]+|\[[0-9a-fA-F:.]+\])(:\d{1,5})?$/, 'must be host or host:port (no scheme)')
      .optional(),
  },
  'tls-ca-file': {
    value: 'path',
    help: 'PEM CA bundle trusted for --endpoint instead of the system roots',
    schema: z.string().min(1).optional(),
  },
});

/** The validated options of kms-plugin-gcp. */
export type GcpConfig = OptionValues<typeof GCP_OPTIONS>;

/** Validate the options (defaults for those left out); a ConfigError names each bad one. Files are read when the client is made. */
export function parseGcpConfig(values: Readonly<Record<string, unknown>>): GcpConfig {
  const config = parseOptions(GCP_OPTIONS, values);
  if (config['decrypt-key'].includes(config.key)) {
    throw new ConfigError('--decrypt-key: lists --key, which is always readable');
  }
  return config;
}
