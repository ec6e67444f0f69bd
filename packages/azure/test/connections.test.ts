import { randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startPluginBinary, waitFor } from '@k8s-kms/testkit';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-azure.js', import.meta.url));
const RECORDER = fileURLToPath(new URL('../../testkit/support/record-connections.mjs', import.meta.url));

let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('connections');
});
afterAll(async () => fx.stop());

async function recorded(file: string): Promise<{ connects: string[]; lookups: string[] }> {
  const entries = (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { connect?: string; lookup?: string });
  return {
    connects: [...new Set(entries.flatMap((e) => (e.connect ? [e.connect] : [])))].sort(),
    lookups: [...new Set(entries.flatMap((e) => (e.lookup ? [e.lookup] : [])))],
  };
}

/** The plugin under the recorder (it refuses any connection off loopback): round trips and several refreshes. */
async function exercise(args: string[], env: Record<string, string | undefined>, file: string): Promise<void> {
  const plugin = await startPluginBinary(BIN, {
    args: [...args, '--refresh-interval', '300ms', '--kek-mode', 'direct'],
    env: fx.env({ ...env, K8S_KMS_CONNECTIONS_FILE: file }),
    command: (argv) => [process.execPath, ['--import', RECORDER, ...argv]],
  });
  try {
    await waitFor(async () => ((await plugin.client.status()).healthz === 'ok' ? true : undefined), 'healthy');
    for (let i = 0; i < 3; i++) {
      const seed = randomBytes(32);
      expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
    }
    await new Promise((r) => setTimeout(r, 1_000));
  } finally {
    expect(await plugin.stop()).toBe(0);
  }
}

describe('kms-plugin-azure connects to nothing but its vault and its authority', () => {
  it('with a client secret: the vault and the token endpoint, no instance discovery, no DNS lookup', async () => {
    const file = join(fx.dir, `secret-${randomUUID()}.jsonl`);
    await exercise(fx.args(key, { trust: 'env' }), {}, file);
    const { connects, lookups } = await recorded(file);
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`, new URL(fx.standIn.authorityHost).host].sort());
    expect(lookups).toEqual([]);
  });

  it('with managed identity: the vault and the IMDS endpoint it was given, nothing at 169.254.169.254', async () => {
    fx.standIn.tokens.addManagedIdentity('system');
    const file = join(fx.dir, `mi-${randomUUID()}.jsonl`);
    await exercise(
      [...fx.args(key, { trust: 'env', auth: false }), '--auth', 'managed-identity'],
      { AZURE_POD_IDENTITY_AUTHORITY_HOST: fx.standIn.imdsUrl },
      file,
    );
    const { connects, lookups } = await recorded(file);
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`, new URL(fx.standIn.imdsUrl).host].sort());
    expect(lookups).toEqual([]);
  });
});
