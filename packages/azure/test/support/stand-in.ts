import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpProxy } from '@k8s-kms/testkit';
import { parseAzureConfig } from '../../src/config.js';
import { azureKeyVaultProviderFrom } from '../../src/create.js';
import type { AzureKeyVaultProvider } from '../../src/index.js';
import { KeyVaultStandIn, type KeyType } from '../stand-in/index.js';

/** How a plugin trusts the stand-in's certificate: --tls-ca-file, or NODE_EXTRA_CA_CERTS (a spawned binary only). */
export type Trust = 'flag' | 'env';

/**
 * The Key Vault stand-in for jest, in-process, with what a plugin needs on disk: its CA and an
 * app's client secret. `proxy` is a TcpProxy in front of its HTTPS port (an outage of the vault
 * that keeps its keys; the token endpoint is reached directly).
 */
export class StandInFixture {
  private files = 0;

  private constructor(
    readonly standIn: KeyVaultStandIn,
    readonly dir: string,
    readonly proxy: TcpProxy,
    readonly caFile: string,
    readonly clientId: string,
    /** The client secret: a secret no output may contain. */
    readonly secret: string,
    readonly secretFile: string,
  ) {}

  static async start(flavor: 'vault' | 'managedhsm' = 'vault'): Promise<StandInFixture> {
    const standIn = await new KeyVaultStandIn(flavor).start();
    const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-azure-'));
    const proxy = await TcpProxy.to(Number(new URL(standIn.vaultUrl).port));
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, standIn.caPem);
    const { clientId, secret } = standIn.tokens.clientWithSecret();
    const secretFile = join(dir, 'client-secret');
    await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
    return new StandInFixture(standIn, dir, proxy, caFile, clientId, secret, secretFile);
  }

  /** A new key (version 1) in the stand-in. */
  key(name: string, kty?: KeyType): string {
    this.standIn.createKey(name, kty);
    return name;
  }

  /** A file holding `text` in the fixture's folder. */
  async file(text: string, mode = 0o600): Promise<string> {
    const file = join(this.dir, `file-${++this.files}`);
    await writeFile(file, text, { mode });
    return file;
  }

  /** The vault URL a plugin is given: through the proxy unless `direct`. */
  vaultUrl(direct = false): string {
    return direct ? this.standIn.vaultUrl : `https://127.0.0.1:${this.proxy.port}`;
  }

  /**
   * Flags that reach the stand-in with the client secret; `auth: false` leaves the credential
   * flags out (a test adds its own).
   */
  flags(key: string, opts: { direct?: boolean; trust?: Trust; auth?: boolean } = {}): Record<string, string | boolean> {
    return {
      'vault-url': this.vaultUrl(opts.direct),
      'key-name': key,
      'authority-host': this.standIn.authorityHost,
      'disable-challenge-resource-verification': true,
      ...(opts.trust === 'env' ? {} : { 'tls-ca-file': this.caFile }),
      ...(opts.auth === false
        ? {}
        : { 'tenant-id': this.standIn.tokens.tenantId, 'client-id': this.clientId, 'client-secret-file': this.secretFile }),
    };
  }

  /** The same flags as command-line arguments (a switch stands alone). */
  args(key: string, opts: { direct?: boolean; trust?: Trust; auth?: boolean } = {}): string[] {
    return Object.entries(this.flags(key, opts)).flatMap(([k, v]) => (v === true ? [`--${k}`] : [`--${k}`, String(v)]));
  }

  /** What a spawned plugin needs in its environment: the CA (NODE_EXTRA_CA_CERTS), no Azure variable of the test's own. */
  env(extra: Record<string, string | undefined> = {}): Record<string, string | undefined> {
    return {
      NODE_EXTRA_CA_CERTS: this.caFile,
      AZURE_CLIENT_ID: undefined,
      AZURE_TENANT_ID: undefined,
      AZURE_FEDERATED_TOKEN_FILE: undefined,
      AZURE_AUTHORITY_HOST: undefined,
      AZURE_LOG_LEVEL: undefined,
      AZURE_POD_IDENTITY_AUTHORITY_HOST: undefined,
      IDENTITY_ENDPOINT: undefined,
      MSI_ENDPOINT: undefined,
      ...extra,
    };
  }

  async provider(key: string, extra: Record<string, unknown> = {}): Promise<AzureKeyVaultProvider> {
    return azureKeyVaultProviderFrom(parseAzureConfig({ ...this.flags(key), ...extra }));
  }

  /** Secrets no output may hold: the client secret and every key's material. */
  secrets(): string[] {
    return [this.secret, ...this.standIn.keys.secrets()];
  }

  async stop(): Promise<void> {
    await this.proxy.down();
    await this.standIn.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
