import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { waitHealthy } from './harness.js';
import { startPluginBinary } from './plugin-binary.js';

/**
 * The `node --import` preload that records every outgoing TCP connection and DNS lookup of a
 * process to K8S_KMS_CONNECTIONS_FILE and blocks those that leave loopback (support/ is beside
 * src/ and dist/src/).
 */
export const CONNECTION_RECORDER = fileURLToPath(
  new URL(
    import.meta.url.includes('/dist/') ? '../../support/record-connections.mjs' : '../support/record-connections.mjs',
    import.meta.url,
  ),
);

/** What the recorder saw: `host:port` connected to and names looked up, each once, sorted. */
export interface RecordedConnections {
  readonly connects: readonly string[];
  readonly lookups: readonly string[];
}

export async function recordedConnections(file: string): Promise<RecordedConnections> {
  const entries = (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { connect?: string; lookup?: string });
  const unique = (xs: string[]): string[] => [...new Set(xs)].sort();
  return {
    connects: unique(entries.flatMap((e) => (e.connect ? [e.connect] : []))),
    lookups: unique(entries.flatMap((e) => (e.lookup ? [e.lookup] : []))),
  };
}

/**
 * Run a plugin binary under the recorder (connections to `file`) in direct mode with a fast
 * refresh: healthy, three round trips, a second of refreshes, SIGTERM. Throws if any step fails,
 * so that what was recorded is what a working plugin reaches for.
 */
export async function exerciseUnderRecorder(
  bin: string,
  opts: { readonly args: readonly string[]; readonly env: Readonly<Record<string, string | undefined>>; readonly file: string },
): Promise<RecordedConnections> {
  const plugin = await startPluginBinary(bin, {
    args: [...opts.args, '--refresh-interval', '300ms', '--kek-mode', 'direct'],
    env: { ...opts.env, K8S_KMS_CONNECTIONS_FILE: opts.file },
    command: (argv) => [process.execPath, ['--import', CONNECTION_RECORDER, ...argv]],
  });
  let code: number | null;
  try {
    await waitHealthy(plugin.client);
    for (let i = 0; i < 3; i++) {
      const seed = randomBytes(32);
      const back = await plugin.client.decrypt(await plugin.client.encrypt(seed));
      if (!seed.equals(Buffer.from(back))) throw new Error('round trip under the connection recorder returned another plaintext');
    }
    await new Promise((r) => setTimeout(r, 1_000));
  } finally {
    code = await plugin.stop();
  }
  if (code !== 0) throw new Error(`plugin under the connection recorder exited ${code}`);
  return recordedConnections(opts.file);
}
