import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { leaked, runBinary, startPluginBinary, waitHealthy } from '@k8s-kms/testkit';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { GCP_OPTIONS } from '../src/config.js';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-gcp.js', import.meta.url));
/** No Google variable of the test's environment may reach the plugin. */
const CLEAN_ENV = {
  GOOGLE_APPLICATION_CREDENTIALS: undefined,
  GOOGLE_CLOUD_UNIVERSE_DOMAIN: undefined,
  GOOGLE_SDK_NODE_LOGGING: undefined,
};

let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('binary');
});
afterAll(async () => fx.stop());

describeBinary({
  name: 'kms-plugin-gcp',
  bin: BIN,
  options: GCP_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  start: async () => ({ args: fx.args(key), env: CLEAN_ENV }),
  secrets: () => [fx.privateKey],
  badValues: [
    ['key', 'projects/p/locations/l/keyRings/r'],
    ['decrypt-key', 'cryptoKeys/k'],
    ['endpoint', 'https://cloudkms.googleapis.com'],
    ['quota-project', 'Not_A_Project'],
  ],
});

describe('kms-plugin-gcp against the Cloud KMS stand-in', () => {
  const dir = (): string => fx.dir;

  it.each([
    [['--key', 'K'], '--key'],
    [['--credentials-file', '/no/such/file.json'], '--credentials-file: cannot read /no/such/file.json (ENOENT)'],
    [['--tls-ca-file', '/no/such/ca.pem'], '--tls-ca-file: cannot read /no/such/ca.pem (ENOENT)'],
    [['--decrypt-key', 'projects/stand-in-project/locations/europe-west1/keyRings/k8s/cryptoKeys/binary'], '--decrypt-key: lists --key'],
  ])('refuses %j at start with exit 2 and an error naming %s', (extra, message) => {
    const args = [...fx.args(key), ...extra];
    const r = runBinary(BIN, ['--listen-addr', `unix://${join(dir(), 'never.sock')}`, '--health-addr', 'off', ...args], CLEAN_ENV);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).not.toContain('    at ');
  });

  it('takes its credential file from GOOGLE_APPLICATION_CREDENTIALS when --credentials-file is not given', async () => {
    const args = fx.args(key);
    const i = args.indexOf('--credentials-file');
    const withoutFlag = [...args.slice(0, i), ...args.slice(i + 2)];
    const plugin = await startPluginBinary(BIN, {
      args: withoutFlag,
      env: { ...CLEAN_ENV, GOOGLE_APPLICATION_CREDENTIALS: fx.credentialsFile },
    });
    try {
      const seed = randomBytes(32);
      expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
      expect(plugin.output()).toContain('service_account from GOOGLE_APPLICATION_CREDENTIALS');
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
  });

  it('prints no plaintext, data key or credential with the Google SDKs debug logging asked for', async () => {
    const plugin = await startPluginBinary(BIN, {
      args: [...fx.args(key), '--kek-mode', 'direct'],
      env: { ...CLEAN_ENV, GOOGLE_SDK_NODE_LOGGING: '*' },
    });
    const seed = randomBytes(32);
    try {
      await waitHealthy(plugin.client);
      expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
    const secrets = [seed, fx.privateKey];
    expect(leaked(plugin.output(), secrets)).toEqual([]);
    for (const line of plugin.output().split('\n').filter(Boolean)) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });
});
