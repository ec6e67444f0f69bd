import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createPluginClient,
  createLogger,
  createPluginServer,
  KmsError,
  type KeyProvider,
  type PluginClient,
  type PluginServer,
  type PluginServerOptions,
} from '@k8s-kms/core';

/** Everything a plugin wrote to its log, for checks that no secret leaked. */
export class LogCapture extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** A plugin served on a real socket in a temp dir, with a real gRPC client and captured logs. */
export interface RunningPlugin {
  readonly server: PluginServer;
  readonly client: PluginClient;
  readonly socketPath: string;
  readonly logs: LogCapture;
  stop(): Promise<void>;
}

/** Start `provider` behind core on a fresh socket; logs at debug level are captured. */
export async function startPlugin(
  provider: KeyProvider,
  opts: Partial<Omit<PluginServerOptions, 'provider' | 'listenAddr'>> = {},
): Promise<RunningPlugin> {
  const dir = await mkdtemp(join(tmpdir(), 'k8s-kms-'));
  const socketPath = join(dir, 'kms.sock');
  const logs = new LogCapture();
  const server = createPluginServer({
    provider,
    listenAddr: `unix://${socketPath}`,
    logger: createLogger({ level: 'debug', name: 'test', destination: logs }),
    ...opts,
  });
  await server.start();
  const client = createPluginClient(server.socketAddress, { timeoutMs: 10_000 });
  return {
    server,
    client,
    socketPath,
    logs,
    async stop() {
      client.close();
      await server.stop(1000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The gRPC status code of a rejected call (undefined if it did not reject). */
export async function codeOf(promise: Promise<unknown>): Promise<number | undefined> {
  try {
    await promise;
    return undefined;
  } catch (err) {
    return (err as { code?: number }).code;
  }
}

/** The KmsError `promise` rejects with (a provider's failure); a resolution or any other error fails the test. */
export async function kmsErrorOf(promise: Promise<unknown>): Promise<KmsError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!KmsError.is(err))
    throw new Error(`expected a KmsError, got ${err === undefined ? 'a result' : err instanceof Error ? err.name : typeof err}`);
  return err;
}

/**
 * Poll `probe` every 50 ms until it returns a value (a probe that throws counts as "not yet"), or
 * fail after `ms` naming `what`. For waiting on processes and servers, never for timing claims.
 */
export async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Wait until the plugin behind `client` answers Status healthy (its key read, its backend reachable). */
export async function waitHealthy(client: Pick<PluginClient, 'status'>, ms = 10_000): Promise<void> {
  await waitFor(async () => ((await client.status()).healthz === 'ok' ? true : undefined), 'healthy', ms);
}

/**
 * Which of `secrets` appear in `text` (as given, or as hex or base64 of the bytes): their positions
 * as "secret #n", never the secrets themselves, so that a failing check does not print what it
 * protects. Check with `expect(leaked(text, secrets)).toEqual([])`.
 */
export function leaked(text: string, secrets: readonly (string | Uint8Array)[]): string[] {
  const found: string[] = [];
  secrets.forEach((s, i) => {
    const forms = typeof s === 'string' ? [s] : [Buffer.from(s).toString('hex'), Buffer.from(s).toString('base64')];
    if (forms.some((f) => f !== '' && text.includes(f))) found.push(`secret #${i + 1}`);
  });
  return found;
}
