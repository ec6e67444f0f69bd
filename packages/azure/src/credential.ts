import { readFile } from 'node:fs/promises';
import {
  ClientCertificateCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  WorkloadIdentityCredential,
  type TokenCredential,
} from '@azure/identity';
import { ConfigError } from '@k8s-kms/core';
import type { AuthMethod, AzureConfig } from './config.js';

/** The Entra authority of each cloud azure.json can name. */
const CLOUD_AUTHORITIES: Readonly<Record<string, string>> = {
  azurepubliccloud: 'https://login.microsoftonline.com',
  azurechinacloud: 'https://login.chinacloudapi.cn',
  azureusgovernmentcloud: 'https://login.microsoftonline.us',
};
const PUBLIC_AUTHORITY = 'https://login.microsoftonline.com';

/** The fields of the cloud provider's azure.json the plugin reads (the rest is ignored). */
interface AzureJson {
  readonly cloud?: string;
  readonly tenantId?: string;
  readonly aadClientId?: string;
  readonly aadClientSecret?: string;
  readonly aadClientCertPath?: string;
  readonly aadClientCertPassword?: string;
  readonly useManagedIdentityExtension?: boolean;
  readonly userAssignedIdentityID?: string;
  readonly useFederatedWorkloadIdentityExtension?: boolean;
  readonly aadFederatedTokenFile?: string;
}

export interface AzureCredential {
  readonly credential: TokenCredential;
  /** How it authenticates, for the start-up line: "client-secret (from --client-secret-file)". Never a secret. */
  readonly auth: string;
  readonly authorityHost: string;
}

/** What every Entra credential is given. */
interface CommonOptions {
  readonly authorityHost: string;
  readonly disableInstanceDiscovery: boolean;
  readonly retryOptions: { readonly maxRetries: number };
  readonly tlsOptions?: { readonly ca: string };
}

/** Where the environment's variables come from (the workload identity webhook sets these). */
type Env = Readonly<Record<string, string | undefined>>;

/**
 * The token credential of @azure/identity the operator asked for, or the first that applies
 * (`--auth auto`): --azure-json, a client secret file, a client certificate file, a federated
 * token file (flag or AZURE_FEDERATED_TOKEN_FILE), else managed identity. Secret and certificate
 * files are read now, so a bad one stops start-up naming its path (never its content). The
 * identity library's own retries are off (core's remote call policy is the one retry layer), and
 * instance discovery too: the authority is the one configured, nothing else is contacted.
 */
export async function createAzureCredential(
  config: AzureConfig,
  tls: { readonly ca: string } | undefined,
  env: Env = process.env,
): Promise<AzureCredential> {
  const json = config['azure-json'] ? await readAzureJson(config['azure-json']) : undefined;
  const cloudAuthority = json?.cloud ? CLOUD_AUTHORITIES[json.cloud.toLowerCase()] : undefined;
  if (json?.cloud && !cloudAuthority) {
    throw new ConfigError(
      `--azure-json: cloud ${json.cloud} is not one of AzurePublicCloud, AzureChinaCloud, AzureUSGovernmentCloud (give --authority-host)`,
    );
  }
  const authorityHost = config['authority-host'] ?? env.AZURE_AUTHORITY_HOST?.replace(/\/+$/, '') ?? cloudAuthority ?? PUBLIC_AUTHORITY;
  const common: CommonOptions = {
    authorityHost,
    disableInstanceDiscovery: true,
    retryOptions: { maxRetries: 0 },
    ...(tls ? { tlsOptions: tls } : {}),
  };
  const method = resolveMethod(config, json, env);
  const settings = method === 'azure-json' ? await fromAzureJson(config, json!) : await fromFlags(config, method, env);
  return { ...build(settings, common), authorityHost };
}

/** One credential's settings, from the flags (and environment) or from azure.json; files already read. */
interface Settings {
  readonly method: Exclude<AuthMethod, 'auto' | 'azure-json'>;
  readonly tenantId?: string | undefined;
  readonly clientId?: string | undefined;
  readonly secret?: string;
  readonly certificatePem?: string;
  readonly tokenFile?: string;
  /** Where they came from, for the start-up line: "from --client-secret-file", "from --azure-json /etc/…". */
  readonly from?: string;
}

/** The @azure/identity credential of `settings`, and how it authenticates (never a secret). */
function build(settings: Settings, common: CommonOptions): { credential: TokenCredential; auth: string } {
  const { method, tenantId, clientId, from } = settings;
  const suffix = from ? `, ${from}` : '';
  switch (method) {
    case 'managed-identity':
      return {
        credential: new ManagedIdentityCredential({ ...(clientId ? { clientId } : {}), retryOptions: { maxRetries: 0 } }),
        auth: `managed identity (${clientId ? `user-assigned ${clientId}` : 'system-assigned'}${suffix})`,
      };
    case 'workload-identity':
      return {
        credential: new WorkloadIdentityCredential({
          ...common,
          tenantId: tenantId!,
          clientId: clientId!,
          tokenFilePath: settings.tokenFile!,
        }),
        auth: `workload identity (client ${clientId}, token file ${settings.tokenFile}${suffix})`,
      };
    case 'client-secret':
      return {
        credential: new ClientSecretCredential(tenantId!, clientId!, settings.secret!, common),
        auth: `client secret (client ${clientId}${suffix})`,
      };
    case 'client-certificate':
      return {
        credential: new ClientCertificateCredential(tenantId!, clientId!, { certificate: settings.certificatePem! }, common),
        auth: `client certificate (client ${clientId}${suffix})`,
      };
  }
}

/** What `--auth auto` picks. */
function resolveMethod(config: AzureConfig, json: AzureJson | undefined, env: Env): Exclude<AuthMethod, 'auto'> {
  if (config.auth !== 'auto') {
    if (config.auth === 'azure-json' && !json) throw new ConfigError('--auth azure-json: needs --azure-json');
    return config.auth;
  }
  if (json) return 'azure-json';
  if (config['client-secret-file']) return 'client-secret';
  if (config['client-certificate-file']) return 'client-certificate';
  if (config['federated-token-file'] ?? env.AZURE_FEDERATED_TOKEN_FILE) return 'workload-identity';
  return 'managed-identity';
}

/** The settings the flags give (the environment's AZURE_* variables filling in), each needed one checked. */
async function fromFlags(config: AzureConfig, method: Settings['method'], env: Env): Promise<Settings> {
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new ConfigError(`--auth ${method}: needs ${what}`);
    return value;
  };
  const clientId = config['client-id'] ?? env.AZURE_CLIENT_ID;
  if (method === 'managed-identity') return { method, clientId };
  const ids = { tenantId: config['tenant-id'] ?? env.AZURE_TENANT_ID, clientId };
  switch (method) {
    case 'workload-identity': {
      const tokenFile = need(config['federated-token-file'] ?? env.AZURE_FEDERATED_TOKEN_FILE, '--federated-token-file');
      return { method, tenantId: need(ids.tenantId, '--tenant-id'), clientId: need(clientId, '--client-id'), tokenFile };
    }
    case 'client-secret': {
      const file = need(config['client-secret-file'], '--client-secret-file');
      const secret = await readSecretFile(file, '--client-secret-file');
      return {
        method,
        tenantId: need(ids.tenantId, '--tenant-id'),
        clientId: need(clientId, '--client-id'),
        secret,
        from: 'from --client-secret-file',
      };
    }
    case 'client-certificate': {
      const file = need(config['client-certificate-file'], '--client-certificate-file');
      const certificatePem = await readCertificate(file, '--client-certificate-file');
      return {
        method,
        tenantId: need(ids.tenantId, '--tenant-id'),
        clientId: need(clientId, '--client-id'),
        certificatePem,
        from: 'from --client-certificate-file',
      };
    }
  }
}

/** The settings azure.json gives, in the cloud provider's order: managed identity, workload identity, secret, certificate. */
async function fromAzureJson(config: AzureConfig, json: AzureJson): Promise<Settings> {
  const path = config['azure-json']!;
  const from = `from --azure-json ${path}`;
  const tenantId = config['tenant-id'] ?? json.tenantId;
  if (json.useManagedIdentityExtension) return { method: 'managed-identity', clientId: json.userAssignedIdentityID || undefined, from };
  const fields = (names: readonly (keyof AzureJson)[]): void => {
    const missing = names.filter((n) => !json[n] && !(n === 'tenantId' && tenantId));
    if (missing.length) throw new ConfigError(`--azure-json: ${path} has no ${missing.join(', ')}`);
  };
  const ids = { tenantId, clientId: json.aadClientId, from };
  if (json.useFederatedWorkloadIdentityExtension) {
    fields(['tenantId', 'aadClientId', 'aadFederatedTokenFile']);
    return { method: 'workload-identity', ...ids, tokenFile: json.aadFederatedTokenFile! };
  }
  if (json.aadClientSecret) {
    fields(['tenantId', 'aadClientId']);
    return { method: 'client-secret', ...ids, secret: json.aadClientSecret };
  }
  if (json.aadClientCertPath) {
    fields(['tenantId', 'aadClientId']);
    if (json.aadClientCertPassword) {
      throw new ConfigError(`--azure-json: ${path} names a password-protected certificate, which is not supported (use a PEM file)`);
    }
    return {
      method: 'client-certificate',
      ...ids,
      certificatePem: await readCertificate(json.aadClientCertPath, '--azure-json aadClientCertPath'),
    };
  }
  throw new ConfigError(
    `--azure-json: ${path} names no credential (useManagedIdentityExtension, useFederatedWorkloadIdentityExtension, aadClientSecret or aadClientCertPath)`,
  );
}

/** A PEM file holding a certificate and its unencrypted private key. */
async function readCertificate(path: string, source: string): Promise<string> {
  const pem = await readSecretFile(path, source);
  if (!pem.includes('-----BEGIN CERTIFICATE-----') || !/-----BEGIN (RSA |EC )?PRIVATE KEY-----/.test(pem)) {
    throw new ConfigError(`${source}: ${path} must hold a PEM certificate and its unencrypted private key`);
  }
  return pem;
}

async function readAzureJson(path: string): Promise<AzureJson> {
  const text = await readSecretFile(path, '--azure-json');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`--azure-json: ${path} is not JSON`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new ConfigError(`--azure-json: ${path} is not a JSON object`);
  return json;
}

/** The --tls-ca-file bundle, checked to hold a certificate. */
export async function readCaFile(path: string): Promise<{ ca: string }> {
  const ca = await readSecretFile(path, '--tls-ca-file');
  if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError(`--tls-ca-file: ${path} holds no PEM certificate`);
  return { ca };
}

/** A file's text, trimmed; a ConfigError naming the path and the errno (never the content). */
async function readSecretFile(path: string, source: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(path, 'utf8')).trim();
  } catch (err) {
    throw new ConfigError(`${source}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!text) throw new ConfigError(`${source}: ${path} is empty`);
  return text;
}
