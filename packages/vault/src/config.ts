import { z } from 'zod';
import type { OptionDef, RawValues } from '@k8s-kms/core';

/** How the plugin gets its Vault token. */
export type AuthMethod = 'token' | 'approle' | 'kubernetes' | 'jwt' | 'cert';

/** Where Kubernetes projects a pod's service account token. */
export const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** The flags of kms-plugin-vault, beyond the common ones. */
export const VAULT_OPTIONS: readonly OptionDef[] = [
  { name: 'address', value: 'url', required: true, help: 'Vault or OpenBao address, e.g. https://vault.example:8200' },
  { name: 'transit-mount', value: 'path', default: 'transit', help: 'mount path of the transit secrets engine' },
  { name: 'key-name', value: 'name', required: true, help: 'transit key that encrypts' },
  { name: 'decrypt-key-name', value: 'name', repeatable: true, help: 'an older transit key whose data must stay readable (repeatable)' },
  { name: 'namespace', value: 'ns', help: 'Vault Enterprise / OpenBao namespace of the mount and the auth method' },
  {
    name: 'key-fingerprint',
    value: 'mode',
    default: 'hmac',
    help: 'how a key version is told apart from a re-created key of the same name: hmac (one HMAC call per new version) or creation-time',
  },
  { name: 'auth-method', value: 'method', default: 'token', help: 'token, approle, kubernetes, jwt or cert' },
  { name: 'auth-mount', value: 'path', help: 'mount path of the auth method (default: the method name)' },
  { name: 'token', value: 'token', help: 'Vault token (auth-method token); prefer --token-file or the environment' },
  { name: 'token-file', value: 'path', help: 'file holding the Vault token, re-read when it changes (auth-method token)' },
  { name: 'role', value: 'name', help: 'role to log in as (kubernetes, jwt; optional for cert)' },
  { name: 'role-id', value: 'id', help: 'AppRole role_id' },
  { name: 'secret-id-file', value: 'path', help: 'file holding the AppRole secret_id, read at each login' },
  { name: 'jwt-file', value: 'path', help: `JWT to log in with, read at each login (kubernetes default: ${SERVICE_ACCOUNT_TOKEN})` },
  { name: 'tls-ca-file', value: 'path', help: 'PEM CA bundle that signs the Vault server certificate' },
  { name: 'tls-server-name', value: 'name', help: 'name to verify the server certificate against (and send as SNI)' },
  { name: 'tls-client-cert', value: 'path', help: 'PEM client certificate (auth-method cert, or a listener that requires one)' },
  { name: 'tls-client-key', value: 'path', help: 'PEM key of --tls-client-cert' },
  { name: 'tls-skip-verify', help: 'do not verify the server certificate (insecure; logs a warning)' },
];

const PATH = /^[A-Za-z0-9][A-Za-z0-9_./-]*[A-Za-z0-9_-]$|^[A-Za-z0-9]$/;
const NAME = /^[A-Za-z0-9_.-]+$/;

const schema = z.object({
  address: z.url({ protocol: /^https?$/ }).transform((url) => url.replace(/\/+$/, '')),
  'transit-mount': z.string().regex(PATH, 'must be a mount path such as transit or kms/transit').default('transit'),
  'key-name': z.string().regex(NAME, 'must be a transit key name (letters, digits, _ . -)'),
  'decrypt-key-name': z.array(z.string().regex(NAME, 'each must be a transit key name')).default([]),
  namespace: z.string().regex(PATH, 'must be a namespace path such as team-a or team-a/prod').optional(),
  'key-fingerprint': z.enum(['hmac', 'creation-time']).default('hmac'),
  'auth-method': z.enum(['token', 'approle', 'kubernetes', 'jwt', 'cert']).default('token'),
  'auth-mount': z.string().regex(PATH, 'must be a mount path').optional(),
  token: z.string().min(1).optional(),
  'token-file': z.string().min(1).optional(),
  role: z.string().regex(NAME, 'must be a role name').optional(),
  'role-id': z.string().min(1).optional(),
  'secret-id-file': z.string().min(1).optional(),
  'jwt-file': z.string().min(1).optional(),
  'tls-ca-file': z.string().min(1).optional(),
  'tls-server-name': z.string().min(1).optional(),
  'tls-client-cert': z.string().min(1).optional(),
  'tls-client-key': z.string().min(1).optional(),
  'tls-skip-verify': z.boolean().default(false),
});

export type VaultConfig = z.output<typeof schema>;

/** Validate the resolved Vault flags (defaults apply to flags left out); errors name the flag. Files are read later. */
export function parseVaultConfig(values: RawValues): VaultConfig {
  const present = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(present);
  if (!result.success) throw new Error(result.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('\n'));
  const c = result.data;
  const method = c['auth-method'];
  const needs = (flag: keyof VaultConfig, why: string): void => {
    if (c[flag] === undefined) throw new Error(`--${flag}: required ${why}`);
  };
  const refuse = (flag: keyof VaultConfig, why: string): void => {
    if (c[flag] !== undefined) throw new Error(`--${flag}: ${why}`);
  };
  if (method === 'token') {
    if (c.token === undefined && c['token-file'] === undefined)
      throw new Error('--token: --token or --token-file is required with --auth-method token');
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
    if (!c.address.startsWith('https:')) throw new Error('--address: --auth-method cert needs an https address');
  }
  if ((c['tls-client-cert'] === undefined) !== (c['tls-client-key'] === undefined)) {
    throw new Error('--tls-client-key: --tls-client-cert and --tls-client-key go together');
  }
  if (c['tls-skip-verify'] && c['tls-ca-file'] !== undefined) throw new Error('--tls-skip-verify: contradicts --tls-ca-file; give one');
  return c;
}
