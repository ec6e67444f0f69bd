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
  const tenantId = config['tenant-id'] ?? json?.tenantId ?? env.AZURE_TENANT_ID;
  const clientId = config['client-id'] ?? env.AZURE_CLIENT_ID;
  const need = (value: string | undefined, what: string): string => {
    if (!value) throw new ConfigError(`--auth ${method}: needs ${what}`);
    return value;
  };
  switch (method) {
    case 'managed-identity': {
      const id = clientId ?? json?.userAssignedIdentityID;
      return {
        credential: new ManagedIdentityCredential({ ...(id ? { clientId: id } : {}), retryOptions: { maxRetries: 0 } }),
        auth: id ? `managed identity (user-assigned ${id})` : 'managed identity (system-assigned)',
        authorityHost,
      };
    }
    case 'workload-identity': {
      const tokenFilePath = need(config['federated-token-file'] ?? env.AZURE_FEDERATED_TOKEN_FILE, '--federated-token-file');
      const credential = new WorkloadIdentityCredential({
        ...common,
        tenantId: need(tenantId, '--tenant-id'),
        clientId: need(clientId, '--client-id'),
        tokenFilePath,
      });
      return { credential, auth: `workload identity (client ${clientId}, token file ${tokenFilePath})`, authorityHost };
    }
    case 'client-secret': {
      const file = need(config['client-secret-file'], '--client-secret-file');
      const secret = await readSecretFile(file, '--client-secret-file');
      return {
        credential: new ClientSecretCredential(need(tenantId, '--tenant-id'), need(clientId, '--client-id'), secret, common),
        auth: `client secret (client ${clientId}, from --client-secret-file)`,
        authorityHost,
      };
    }
    case 'client-certificate': {
      const file = need(config['client-certificate-file'], '--client-certificate-file');
      const pem = await readSecretFile(file, '--client-certificate-file');
      if (!pem.includes('-----BEGIN CERTIFICATE-----') || !/-----BEGIN (RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(pem)) {
        throw new ConfigError(`--client-certificate-file: ${file} must hold a PEM certificate and its private key`);
      }
      const credential = new ClientCertificateCredential(
        need(tenantId, '--tenant-id'),
        need(clientId, '--client-id'),
        { certificate: pem },
        common,
      );
      return { credential, auth: `client certificate (client ${clientId}, from --client-certificate-file)`, authorityHost };
    }
    case 'azure-json':
      return fromAzureJson(config['azure-json']!, json!, { ...common, tenantId: config['tenant-id'] ?? json!.tenantId });
    default:
      throw new ConfigError(`--auth: unknown method ${String(method)}`);
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

/** The cloud provider's own choice, in its order: managed identity, workload identity, secret, certificate. */
async function fromAzureJson(
  path: string,
  json: AzureJson,
  common: CommonOptions & { readonly tenantId: string | undefined },
): Promise<AzureCredential> {
  const { tenantId, ...options } = common;
  const from = `from --azure-json ${path}`;
  if (json.useManagedIdentityExtension) {
    const id = json.userAssignedIdentityID || undefined;
    return {
      credential: new ManagedIdentityCredential({ ...(id ? { clientId: id } : {}), retryOptions: { maxRetries: 0 } }),
      auth: `managed identity (${id ? `user-assigned ${id}` : 'system-assigned'}, ${from})`,
      authorityHost: options.authorityHost,
    };
  }
  const fields = (names: readonly (keyof AzureJson)[]): void => {
    const missing = names.filter((n) => !json[n] && !(n === 'tenantId' && tenantId));
    if (missing.length) throw new ConfigError(`--azure-json: ${path} has no ${missing.join(', ')}`);
  };
  if (json.useFederatedWorkloadIdentityExtension) {
    fields(['tenantId', 'aadClientId', 'aadFederatedTokenFile']);
    return {
      credential: new WorkloadIdentityCredential({
        ...options,
        tenantId: tenantId!,
        clientId: json.aadClientId!,
        tokenFilePath: json.aadFederatedTokenFile!,
      }),
      auth: `workload identity (client ${json.aadClientId}, ${from})`,
      authorityHost: options.authorityHost,
    };
  }
  if (json.aadClientSecret) {
    fields(['tenantId', 'aadClientId']);
    return {
      credential: new ClientSecretCredential(tenantId!, json.aadClientId!, json.aadClientSecret, options),
      auth: `client secret (client ${json.aadClientId}, ${from})`,
      authorityHost: options.authorityHost,
    };
  }
  if (json.aadClientCertPath) {
    fields(['tenantId', 'aadClientId']);
    if (json.aadClientCertPassword) {
      throw new ConfigError(`--azure-json: ${path} names a password-protected certificate, which is not supported (use a PEM file)`);
    }
    const pem = await readSecretFile(json.aadClientCertPath, `--azure-json aadClientCertPath`);
    return {
      credential: new ClientCertificateCredential(tenantId!, json.aadClientId!, { certificate: pem }, options),
      auth: `client certificate (client ${json.aadClientId}, ${from})`,
      authorityHost: options.authorityHost,
    };
  }
  throw new ConfigError(
    `--azure-json: ${path} names no credential (useManagedIdentityExtension, useFederatedWorkloadIdentityExtension, aadClientSecret or aadClientCertPath)`,
  );
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
