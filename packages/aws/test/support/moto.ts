import { CreateAliasCommand, CreateKeyCommand, KMSClient, UpdateAliasCommand } from '@aws-sdk/client-kms';
import { freePort, startProcess, type RunningProcess } from '@k8s-kms/testkit';

/** Dummy credentials: moto accepts any. Tests check this secret never reaches a log. */
export const MOTO_SECRET = 'moto-test-secret-access-key-0123456789';

/**
 * moto in server mode on 127.0.0.1, started and stopped by the tests and the bench (installed by
 * scripts/setup-test-tools.sh), through testkit's process helper.
 */
export class Moto {
  private constructor(
    private readonly proc: RunningProcess,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<Moto> {
    const port = await freePort();
    const endpoint = `http://127.0.0.1:${port}`;
    const { proc } = await startProcess({
      command: 'moto_server',
      args: ['-H', '127.0.0.1', '-p', String(port)],
      installedBy: 'scripts/setup-test-tools.sh, with .cache/moto-venv/bin on PATH',
      ready: async () => ((await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2000) })).ok ? true : undefined),
    });
    return new Moto(proc, endpoint);
  }

  /** An SDK client for moto (the provider's client and the test's admin client alike). */
  client(): KMSClient {
    return new KMSClient({
      endpoint: this.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDMOTOTEST', secretAccessKey: MOTO_SECRET },
      maxAttempts: 1,
    });
  }

  async createKey(): Promise<string> {
    const out = await this.client().send(new CreateKeyCommand({}));
    return out.KeyMetadata?.Arn ?? '';
  }

  async createAlias(alias: string, keyArn: string): Promise<void> {
    await this.client().send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyArn }));
  }

  async repoint(alias: string, keyArn: string): Promise<void> {
    await this.client().send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyArn }));
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
