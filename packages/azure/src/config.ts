import { z } from 'zod';
import { ConfigError } from '@k8s-kms/core';
import { defineOptions, parseOptions, schemas, type OptionValues } from '@k8s-kms/core/kit';

/** A Key Vault key name, as Key Vault spells it. */
const KEY_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** A key version: 32 hex digits, chosen by Key Vault, never reused. */
const KEY_VERSION = /^[0-9a-fA-F]{32}$/;

/** How the plugin authenticates to Entra ID. */
export const AUTH_METHODS = ['auto', 'managed-identity', 'workload-identity', 'client-secret', 'client-certificate', 'azure-json'] as const;
export type AuthMethod = (typeof AUTH_METHODS)[number];

/** https://host[:port] with nothing after it but an optional slash. */
const httpsOrigin = (what: string): z.ZodType<string> =>
  z
    .string()
    .trim()
    .refine((v) => {
      try {
        const u = new URL(v);
        return u.protocol === 'https:' && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash && !u.username;
      } catch {
        return false;
      }
    }, `must be ${what} (https://host, no path)`)
    .transform((v) => new URL(v).origin);

/** The options of kms-plugin-azure, beyond the common ones. */
export const AZURE_OPTIONS = defineOptions({
  'vault-url': {
    value: 'url',
    required: true,
    help: 'the vault or Managed HSM: https://NAME.vault.azure.net, a sovereign cloud host, or https://NAME.managedhsm.azure.net',
    schema: httpsOrigin('a vault URL'),
  },
  'key-name': {
    value: 'name',
    required: true,
    help: 'the key that wraps (RSA, RSA-HSM or oct-HSM); its current version is followed through rotations',
    schema: z.string().regex(KEY_NAME, 'must be 1-127 letters, digits and dashes'),
  },
  'key-version': {
    value: 'version',
    help: 'pin one version of --key-name instead of following the current one',
    schema: z.string().regex(KEY_VERSION, 'must be a key version (32 hex digits)').optional(),
  },
  'decrypt-key-name': {
    value: 'name',
    repeatable: true,
    help: 'an older key in the same vault whose data must stay readable (repeatable)',
    schema: z.array(z.string().regex(KEY_NAME, 'each must be 1-127 letters, digits and dashes')),
  },
  auth: {
    value: 'method',
    default: 'auto',
    help: `how to get a token: ${AUTH_METHODS.join(', ')} (auto: --azure-json, a client secret or certificate file, a federated token file, else managed identity)`,
    schema: schemas.choice(AUTH_METHODS),
  },
  'tenant-id': {
    value: 'id',
    help: 'Entra tenant of the client (default AZURE_TENANT_ID)',
    schema: z
      .string()
      .regex(/^[0-9A-Za-z.-]{1,253}$/, 'must be a tenant id or domain')
      .optional(),
  },
  'client-id': {
    value: 'id',
    help: 'application (client) id: the service principal, the workload identity, or a user-assigned managed identity (default AZURE_CLIENT_ID)',
    schema: z
      .string()
      .regex(/^[0-9a-fA-F-]{36}$/, 'must be a client id (a GUID)')
      .optional(),
  },
  'client-secret-file': {
    value: 'path',
    help: "file holding the service principal's client secret",
    schema: z.string().min(1).optional(),
  },
  'client-certificate-file': {
    value: 'path',
    help: "PEM file holding the service principal's certificate and its private key",
    schema: z.string().min(1).optional(),
  },
  'federated-token-file': {
    value: 'path',
    help: 'workload identity: the projected service account token (default AZURE_FEDERATED_TOKEN_FILE)',
    schema: z.string().min(1).optional(),
  },
  'azure-json': {
    value: 'path',
    help: "the cloud provider's config file (e.g. /etc/kubernetes/azure.json): tenant, client, secret or managed identity, cloud",
    schema: z.string().min(1).optional(),
  },
  'authority-host': {
    value: 'url',
    help: 'Entra authority: https://login.microsoftonline.us, https://login.chinacloudapi.cn, ... (default AZURE_AUTHORITY_HOST, the cloud of --azure-json, else https://login.microsoftonline.com)',
    schema: httpsOrigin('an authority URL').optional(),
  },
  'tls-ca-file': {
    value: 'path',
    help: 'PEM CA bundle trusted for the vault and the authority instead of the system roots (NODE_EXTRA_CA_CERTS adds to them instead)',
    schema: z.string().min(1).optional(),
  },
  'disable-challenge-resource-verification': {
    help: "accept a token challenge whose resource is not the vault URL's domain (a private endpoint under another name, a stand-in)",
    schema: schemas.switch(),
  },
});

/** The validated options of kms-plugin-azure. */
export type AzureConfig = OptionValues<typeof AZURE_OPTIONS>;

/** Validate the options (defaults for those left out); a ConfigError names each bad one. Files are read when the credential is made. */
export function parseAzureConfig(values: Readonly<Record<string, unknown>>): AzureConfig {
  const config = parseOptions(AZURE_OPTIONS, values);
  if (config['decrypt-key-name'].includes(config['key-name'])) {
    throw new ConfigError('--decrypt-key-name: lists --key-name, which is always readable');
  }
  const files = (['client-secret-file', 'client-certificate-file', 'azure-json'] as const).filter((f) => config[f]);
  if (files.length > 1) throw new ConfigError(`--${files.join(' and --')}: give one credential source`);
  return config;
}
