import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateAliasCommand, CreateKeyCommand, KMSClient, UpdateAliasCommand } from '@aws-sdk/client-kms';

/** Dummy credentials: moto accepts any. Tests check this secret never reaches a log. */
export const MOTO_SECRET = 'moto-test-secret-access-key-0123456789';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

/** moto in server mode on 127.0.0.1, started and stopped by the tests (installed by scripts/setup.sh). */
export class Moto {
  private constructor(
    private readonly proc: ChildProcess,
    readonly endpoint: string,
  ) {}

  static async start(): Promise<Moto> {
    const port = await freePort();
    const proc = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const endpoint = `http://127.0.0.1:${port}`;
    const until = Date.now() + 30_000;
    for (;;) {
      try {
        if ((await fetch(`${endpoint}/moto-api/`)).ok) return new Moto(proc, endpoint);
      } catch {
        // not up yet
      }
      if (proc.exitCode !== null) throw new Error(`moto_server exited with ${proc.exitCode}: run scripts/setup.sh to install it`);
      if (Date.now() > until) throw new Error('moto_server did not start within 30s');
      await new Promise((r) => setTimeout(r, 100));
    }
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
    if (this.proc.exitCode !== null) return;
    await new Promise<void>((r) => {
      this.proc.once('exit', () => r());
      this.proc.kill('SIGTERM');
    });
  }
}
