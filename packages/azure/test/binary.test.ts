import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { leaked, runBinary, startPluginBinary, waitFor, waitHealthy } from '@k8s-kms/testkit';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { AZURE_OPTIONS } from '../src/config.js';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-azure.js', import.meta.url));

let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('binary');
});
afterAll(async () => fx.stop());

// The stand-in's certificate is trusted the way the operators would: NODE_EXTRA_CA_CERTS at process start.
describeBinary({
  name: 'kms-plugin-azure',
  bin: BIN,
  options: AZURE_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  start: async () => ({ args: fx.args(key, { trust: 'env' }), env: fx.env() }),
  secrets: () => fx.secrets(),
  badValues: [
    ['vault-url', 'http://my-vault.vault.azure.net'],
    ['vault-url', 'https://my-vault.vault.azure.net/keys'],
    ['key-name', 'no_underscores'],
    ['key-version', '1'],
    ['auth', 'password'],
    ['client-id', 'not-a-guid'],
  ],
});

describe('kms-plugin-azure against the Key Vault stand-in', () => {
  const run = (extra: string[], opts: { auth?: boolean } = {}) =>
    runBinary(
      BIN,
      ['--listen-addr', `unix://${join(fx.dir, 'never.sock')}`, '--health-addr', 'off', ...fx.args(key, opts), ...extra],
      fx.env(),
    );

  it.each([
    [['--key-name', 'K_'], '--key-name'],
    [['--tls-ca-file', '/no/such/ca.pem'], '--tls-ca-file: cannot read /no/such/ca.pem (ENOENT)'],
    [['--decrypt-key-name', 'binary'], '--decrypt-key-name: lists --key-name'],
    [['--client-certificate-file', '/etc/hostname'], '--client-secret-file and --client-certificate-file: give one credential source'],
  ])('refuses %j at start with exit 2 and an error naming %s', (extra, message) => {
    const r = run(extra);
    expect([r.code, r.stderr.includes(message), r.stderr.includes('    at ')]).toEqual([2, true, false]);
  });

  it.each([
    [['--client-secret-file', '/no/such/secret'], '--client-secret-file: cannot read /no/such/secret (ENOENT)'],
    [['--auth', 'client-secret'], '--auth client-secret: needs --client-secret-file'],
    [
      ['--auth', 'workload-identity', '--client-id', '00000000-0000-0000-0000-000000000001'],
      '--auth workload-identity: needs --federated-token-file',
    ],
    [['--azure-json', '/no/such/azure.json'], '--azure-json: cannot read /no/such/azure.json (ENOENT)'],
  ])('refuses the credential flags %j at start with exit 2: %s', (extra, message) => {
    const r = run(extra, { auth: false });
    expect([r.code, r.stderr.includes(message), r.stderr.includes('    at ')]).toEqual([2, true, false]);
  });

  it('prints no plaintext, data key or credential with the Azure SDKs verbose logging asked for', async () => {
    const plugin = await startPluginBinary(BIN, {
      args: [...fx.args(key, { trust: 'env' }), '--kek-mode', 'direct'],
      env: fx.env({ AZURE_LOG_LEVEL: 'verbose' }),
    });
    const seed = randomBytes(32);
    try {
      await waitHealthy(plugin.client);
      expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
      expect(plugin.output()).toContain('client secret (client');
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
    expect(leaked(plugin.output(), [seed, ...fx.secrets()])).toEqual([]);
    for (const line of plugin.output().split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it("without the stand-in CA trusted (no NODE_EXTRA_CA_CERTS, no --tls-ca-file) reports the TLS failure as the operator's to fix", async () => {
    const plugin = await startPluginBinary(BIN, { args: fx.args(key, { trust: 'env' }), env: fx.env({ NODE_EXTRA_CA_CERTS: undefined }) });
    try {
      const status = await waitFor(async () => {
        const s = await plugin.client.status();
        return s.healthz !== 'ok' ? s : undefined;
      }, 'unhealthy');
      expect(status.healthz).toMatch(/SELF_SIGNED|CERT|certificate/i);
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
  });
});
