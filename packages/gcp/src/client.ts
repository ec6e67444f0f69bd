import { readFile } from 'node:fs/promises';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { GoogleAuth, type GoogleAuthOptions } from 'google-auth-library';
// The client's own grpc-js: channel credentials must come from the copy that makes the channel.
import { grpc } from 'google-gax';
import { ConfigError } from '@k8s-kms/core';
import type { GcpConfig } from './config.js';

/**
 * The OAuth scope asked for: cloud-platform, as Google recommends (what the identity may do is
 * its IAM roles' business). It is also the scope Google's STS takes for workload identity
 * federation, to which google-auth-library sends these scopes when there is no impersonation.
 */
export const KMS_SCOPES = ['https://www.googleapis.com/auth/cloud-platform'];
/** Credential file types google-auth-library reads. */
const CREDENTIAL_TYPES = new Set([
  'service_account',
  'external_account',
  'impersonated_service_account',
  'authorized_user',
  'external_account_authorized_user',
]);

export interface GcpKmsClient {
  readonly kms: KeyManagementServiceClient;
  /** How it authenticates, for the start-up line: "service_account from --credentials-file", "metadata server". */
  readonly auth: string;
  readonly endpoint: string;
}

/**
 * The Cloud KMS client (gRPC, @google-cloud/kms) with its credentials:
 * --credentials-file, else GOOGLE_APPLICATION_CREDENTIALS (both read here, so a bad file stops
 * start-up naming it), else the rest of Application Default Credentials (gcloud's file, then the
 * GCE/GKE metadata server). The universe domain is fixed, so the client never asks the metadata
 * server for it; with a credential file nothing but the endpoint and the file's own token URLs
 * is ever contacted. Channel credentials are built here (TLS with --tls-ca-file or the system
 * roots, plus the OAuth token of each call) so the same path serves Google and a private endpoint.
 */
export async function createGcpKmsClient(config: GcpConfig): Promise<GcpKmsClient> {
  const fromFlag = config['credentials-file'];
  const fromEnv = fromFlag ? undefined : process.env.GOOGLE_APPLICATION_CREDENTIALS || undefined;
  const credentials = fromFlag
    ? await readCredentials(fromFlag, '--credentials-file')
    : fromEnv
      ? await readCredentials(fromEnv, 'GOOGLE_APPLICATION_CREDENTIALS')
      : undefined;
  let ca: Buffer | null = null;
  if (config['tls-ca-file']) {
    try {
      ca = await readFile(config['tls-ca-file']);
    } catch (err) {
      throw new ConfigError(`--tls-ca-file: cannot read ${config['tls-ca-file']} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----')) {
      throw new ConfigError(`--tls-ca-file: ${config['tls-ca-file']} holds no PEM certificate`);
    }
  }
  const authOptions: GoogleAuthOptions = {
    scopes: KMS_SCOPES,
    universeDomain: 'googleapis.com',
    ...(credentials ? { credentials } : {}),
  };
  const auth = new GoogleAuth(authOptions);
  // As the KMS client sets them, but before the first getClient(): a service account key then
  // signs its own JWTs (no token endpoint; the library would send it to oauth2.googleapis.com
  // whatever token_uri the key file names).
  auth.useJWTAccessWithScope = true;
  auth.defaultServicePath = 'cloudkms.googleapis.com';
  if (credentials) {
    // Parsing the file into a client needs no network for these types; a file missing its fields
    // (a service account key without client_email) stops start-up here, not at every call.
    try {
      await auth.getClient();
    } catch {
      const source = fromFlag ? `--credentials-file: ${fromFlag}` : `GOOGLE_APPLICATION_CREDENTIALS: ${fromEnv}`;
      throw new ConfigError(
        `${source} is a ${String((credentials as { type?: unknown }).type)} file the auth library cannot use (a field is missing or malformed)`,
      );
    }
  }
  const callCredentials = grpc.credentials.createFromGoogleCredential({
    async getRequestHeaders(url?: string) {
      const headers = await (await auth.getClient()).getRequestHeaders(url);
      return Object.fromEntries(headers.entries());
    },
  });
  const [host, port] = splitEndpoint(config.endpoint ?? 'cloudkms.googleapis.com:443');
  const kms = new KeyManagementServiceClient({
    auth,
    apiEndpoint: host,
    port,
    universeDomain: 'googleapis.com',
    sslCreds: grpc.credentials.combineChannelCredentials(grpc.credentials.createSsl(ca), callCredentials),
  });
  const type = (credentials as { type?: string } | undefined)?.type;
  return {
    kms,
    auth: fromFlag
      ? `${type} from --credentials-file`
      : fromEnv
        ? `${type} from GOOGLE_APPLICATION_CREDENTIALS`
        : 'application default (gcloud or metadata server)',
    endpoint: `${host}:${port}`,
  };
}

/** A credential file's JSON, checked enough to name the problem (never echoing its content). */
async function readCredentials(path: string, source: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`${source}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ConfigError(`${source}: ${path} is not JSON`);
  }
  const type = (json as { type?: unknown } | null)?.type;
  if (typeof type !== 'string' || !CREDENTIAL_TYPES.has(type)) {
    throw new ConfigError(`${source}: ${path} is not a Google credential file (type must be one of ${[...CREDENTIAL_TYPES].join(', ')})`);
  }
  return json as Record<string, unknown>;
}

function splitEndpoint(endpoint: string): [string, number] {
  const m = /^(.*?)(?::(\d{1,5}))?$/.exec(endpoint)!;
  // An IPv6 literal keeps its brackets: the client joins host and port as `${host}:${port}`.
  return [m[1]!, m[2] ? Number(m[2]) : 443];
}
