import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TcpProxy } from '@k8s-kms/testkit';
import { parseGcpConfig } from '../../src/config.js';
import { gcpKmsProviderFrom } from '../../src/create.js';
import type { GcpKmsProvider } from '../../src/index.js';
import { CloudKmsStandIn } from '../stand-in/index.js';

export const PROJECT_KEY_RING = 'projects/stand-in-project/locations/europe-west1/keyRings/k8s';
export const PLUGIN_ACCOUNT = 'plugin@stand-in-project.iam.gserviceaccount.com';
/** The workload identity pool provider the federation tests use. */
export const POOL = '//iam.googleapis.com/projects/123456789/locations/global/workloadIdentityPools/onprem/providers/k8s';

/**
 * The Cloud KMS stand-in for jest, in-process, with what a plugin needs on disk: the CA of its
 * TLS endpoint and a service account key file. `proxy` is a TcpProxy in front of its gRPC port
 * (an outage that keeps its keys).
 */
export class StandInFixture {
  private files = 0;

  private constructor(
    readonly standIn: CloudKmsStandIn,
    readonly dir: string,
    readonly proxy: TcpProxy,
    readonly caFile: string,
    readonly credentialsFile: string,
    /** The service account key's private key: a secret no output may contain. */
    readonly privateKey: string,
  ) {}

  static async start(): Promise<StandInFixture> {
    const standIn = await new CloudKmsStandIn().start();
    const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-gcp-'));
    const proxy = await TcpProxy.to(Number(standIn.endpoint.split(':')[1]));
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, standIn.caPem);
    const key = standIn.tokens.serviceAccountKey(PLUGIN_ACCOUNT);
    const credentialsFile = join(dir, 'service-account.json');
    await writeFile(credentialsFile, JSON.stringify(key), { mode: 0o600 });
    return new StandInFixture(standIn, dir, proxy, caFile, credentialsFile, key.private_key!);
  }

  /** A new crypto key in the fixture's key ring. */
  key(id: string): string {
    const name = `${PROJECT_KEY_RING}/cryptoKeys/${id}`;
    this.standIn.createKey(name);
    return name;
  }

  /** A credential file holding `json`, in the fixture's folder. */
  async credentialFile(json: unknown): Promise<string> {
    const file = join(this.dir, `credentials-${++this.files}.json`);
    await writeFile(file, JSON.stringify(json), { mode: 0o600 });
    return file;
  }

  /** A subject token {@link POOL} trusts for `subject`, in a file (as a kubelet projects a service account token). */
  async subjectTokenFile(subject: string): Promise<{ file: string; token: string }> {
    const token = `subject.${randomUUID()}`;
    this.standIn.tokens.trustSubjectToken(token, POOL, subject);
    const file = join(this.dir, `subject-${++this.files}`);
    await writeFile(file, token);
    return { file, token };
  }

  /** An external_account (workload identity federation) credential reading `subjectFile`, impersonating `impersonate` if given. */
  externalAccount(subjectFile: string, impersonate?: string): Record<string, unknown> {
    const base = this.standIn.tokenUrl;
    return {
      type: 'external_account',
      audience: POOL,
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      token_url: `${base}/v1/token`,
      credential_source: { file: subjectFile },
      ...(impersonate
        ? { service_account_impersonation_url: `${base}/v1/projects/-/serviceAccounts/${impersonate}:generateAccessToken` }
        : {}),
    };
  }

  /** The flags a plugin needs to reach the stand-in (through the proxy unless `direct`). */
  flags(key: string, opts: { direct?: boolean } = {}): Record<string, string> {
    return {
      key,
      endpoint: opts.direct ? this.standIn.endpoint : `127.0.0.1:${this.proxy.port}`,
      'tls-ca-file': this.caFile,
      'credentials-file': this.credentialsFile,
    };
  }

  /** The same flags as command-line arguments. */
  args(key: string, opts: { direct?: boolean } = {}): string[] {
    return Object.entries(this.flags(key, opts)).flatMap(([k, v]) => [`--${k}`, v]);
  }

  async provider(key: string, extra: Record<string, unknown> = {}): Promise<GcpKmsProvider> {
    return gcpKmsProviderFrom(parseGcpConfig({ ...this.flags(key), ...extra }));
  }

  async stop(): Promise<void> {
    await this.proxy.down();
    await this.standIn.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}
