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

/**
 * The Cloud KMS stand-in for jest, in-process, with what a plugin needs on disk: the CA of its
 * TLS endpoint and a service account key file. `proxy` is a TcpProxy in front of its gRPC port
 * (an outage that keeps its keys).
 */
export class StandInFixture {
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
