import { z } from 'zod';
import { ConfigError } from '@k8s-kms/core';
import { defineOptions, parseOptions, schemas, type OptionValues } from '@k8s-kms/core/kit';

/** How the plugin gets its Vault token. */
export type AuthMethod = 'token' | 'approle' | 'kubernetes' | 'jwt' | 'cert';

/** Where Kubernetes projects a pod's service account token. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

const PATH = /^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9_-]$|^[A-Za-z0-9]$/;
const NAME = /^[A-Za-z0-9_.-]+$/;
const file = (help: string) => ({ value: 'path', help, schema: z.string().min(1).optional() });

/** The options of kms-plugin-vault, beyond the common ones. */
export const VAULT_OPTIONS = defineOptions({
  address: {
    value: 'url',
    required: true,
    help: 'Vault or OpenBao address, e.g. https://vault.example:8200',
    schema: z
      .url({ protocol: /^https?$/ })
      .refine(
        (url) => !URL.canParse(url) || (!new URL(url).username && !new URL(url).password),
        'must not carry credentials (use an auth method)',
      )
      .transform((url) => url.replace(/\/+$/, '')),
  },
  'transit-mount': {
    value: 'path',
    default: 'transit',
    help: 'mount path of the transit secrets engine',
    schema: z.string().regex(PATH, 'must be a mount path such as transit or kms/transit'),
  },
  'key-name': {
    value: 'name',
    required: true,
    help: 'transit key that encrypts',
    schema: z.string().regex(NAME, 'must be a transit key name (letters, digits, _ . -)'),
  },
  'decrypt-key-name': {
    value: 'name',
    repeatable: true,
    help: 'an older transit key whose data must stay readable (repeatable)',
    schema: z.array(z.string().regex(NAME, 'each must be a transit key name')),
  },
  namespace: {
    value: 'ns',
    help: 'Vault Enterprise / OpenBao namespace of the mount and the auth method',
    schema: z.string().regex(PATH, 'must be a namespace path such as team-a or team-a/prod').optional(),
  },
  'key-fingerprint': {
    value: 'mode',
    default: 'hmac',
    help: 'how a key version is told apart from a re-created key of the same name: hmac (one HMAC call per new version) or creation-time',
    schema: schemas.choice(['hmac', 'creation-time']),
  },
  'auth-method': {
    value: 'method',
    default: 'token',
    help: 'token, approle, kubernetes, jwt or cert',
    schema: schemas.choice(['token', 'approle', 'kubernetes', 'jwt', 'cert']),
  },
  'auth-mount': {
    value: 'path',
    help: 'mount path of the auth method (default: the method name)',
    schema: z.string().regex(PATH, 'must be a mount path').optional(),
  },
  token: {
    value: 'token',
    secret: true,
    help: 'Vault token (auth-method token); prefer --token-file or the environment',
    schema: z.string().min(1).optional(),
  },
  'token-file': file('file holding the Vault token, re-read when it changes (auth-method token)'),
  role: {
    value: 'name',
    help: 'role to log in as (kubernetes, jwt; optional for cert)',
    schema: z.string().regex(NAME, 'must be a role name').optional(),
  },
  'role-id': { value: 'id', help: 'AppRole role_id', schema: z.string().min(1).optional() },
  'secret-id-file': file('file holding the AppRole secret_id, read at each login'),
  'jwt-file': file(`JWT to log in with, read at each login (kubernetes default: ${SERVICE_ACCOUNT_TOKEN})`),
  'tls-ca-file': file('PEM CA bundle that signs the Vault server certificate'),
  'tls-server-name': {
    value: 'name',
    help: 'name to verify the server certificate against (and send as SNI)',
    schema: z.string().min(1).optional(),
  },
  'tls-client-cert': file('PEM client certificate (auth-method cert, or a listener that requires one)'),
  'tls-client-key': file('PEM key of --tls-client-cert'),
  'tls-skip-verify': { help: 'do not verify the server certificate (insecure; logs a warning)', schema: schemas.switch() },
});

/** The validated options of kms-plugin-vault. */
export type VaultConfig = OptionValues<typeof VAULT_OPTIONS>;

/** Validate the Vault options (defaults for those left out); a ConfigError names each bad one. Files are read later. */
export function parseVaultConfig(values: Readonly<Record<string, unknown>>): VaultConfig {
  const c = parseOptions(VAULT_OPTIONS, values);
  const method = c['auth-method'];
  const needs = (flag: keyof VaultConfig, why: string): void => {
    if (c[flag] === undefined) throw new ConfigError(`--${flag}: required ${why}`);
  };
  const refuse = (flag: keyof VaultConfig, why: string): void => {
    if (c[flag] !== undefined) throw new ConfigError(`--${flag}: ${why}`);
  };
  if (method === 'token') {
    if (c.token === undefined && c['token-file'] === undefined)
      throw new ConfigError('--token: --token or --token-file is required with --auth-method token');
    if (c.token !== undefined) refuse('token-file', 'give --token or --token-file, not both');
  } else {
    refuse('token', `only with --auth-method token (this is ${method})`);
    refuse('token-file', `only with --auth-method token (this is ${method})`);
  }
  if (method === 'approle') {
    needs('role-id', 'with --auth-method approle');
    needs('secret-id-file', 'with --auth-method approle');
  }
  if (method === 'jwt') {
    needs('role', 'with --auth-method jwt');
    needs('jwt-file', 'with --auth-method jwt');
  }
  if (method === 'kubernetes') needs('role', 'with --auth-method kubernetes');
  if (method === 'cert') {
    needs('tls-client-cert', 'with --auth-method cert');
    if (!c.address.startsWith('https:')) throw new ConfigError('--address: --auth-method cert needs an https address');
  }
  if ((c['tls-client-cert'] === undefined) !== (c['tls-client-key'] === undefined)) {
    throw new ConfigError('--tls-client-key: --tls-client-cert and --tls-client-key go together');
  }
  if (c['tls-skip-verify'] && c['tls-ca-file'] !== undefined)
    throw new ConfigError('--tls-skip-verify: contradicts --tls-ca-file; give one');
  return c;
}
