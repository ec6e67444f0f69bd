import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { leaked, runBinary, startPluginBinary, waitFor, type RunningPluginBinary } from '@k8s-kms/testkit';
import { describeBinary } from '@k8s-kms/testkit/binary';
import { VAULT_OPTIONS } from '../src/config.js';
import { OpenBao, OPENBAO_ROOT_TOKEN } from './support/openbao.js';

const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'kms-plugin-vault.js');
const KEY = 'cluster-secrets';

let bao: OpenBao;
let dir: string;
const secrets: string[] = [OPENBAO_ROOT_TOKEN];

beforeAll(async () => {
  bao = await OpenBao.start();
  dir = await mkdtemp(join(tmpdir(), 'k8s-kms-vault-bin-'));
  await bao.transitKey(KEY);
  await bao.pluginPolicy('kms', KEY);
});
afterAll(async () => {
  await bao.dispose();
  await rm(dir, { recursive: true, force: true });
});

/** A token with only the plugin's policy, written to `file`. */
async function writeToken(file: string): Promise<string> {
  const body = await bao.must('POST', 'auth/token/create', { policies: ['kms'], ttl: '1h' });
  const token = (body.auth as { client_token: string }).client_token;
  secrets.push(token);
  await writeFile(file, token, { mode: 0o600 });
  return token;
}

/** kms-plugin-vault on the test's OpenBao, with health on a free port. */
function startPlugin(args: string[]): Promise<RunningPluginBinary> {
  return startPluginBinary(BIN, { args: ['--address', bao.address, '--key-name', KEY, ...args], env: { VAULT_TOKEN: '', VAULT_ADDR: '' } });
}

const get = async (health: string | undefined, path: string): Promise<{ status: number; text: string }> => {
  const res = await fetch(`http://${health}${path}`);
  return { status: res.status, text: await res.text() };
};

describeBinary({
  name: 'kms-plugin-vault',
  bin: BIN,
  options: VAULT_OPTIONS,
  readme: fileURLToPath(new URL('../README.md', import.meta.url)),
  async start(own) {
    const tokenFile = join(own, 'token');
    await writeToken(tokenFile);
    return { args: ['--address', bao.address, '--key-name', KEY, '--token-file', tokenFile], env: { VAULT_TOKEN: '', VAULT_ADDR: '' } };
  },
  secrets: () => secrets,
  badValues: [['key-name', 'a/b']],
});

describe('kms-plugin-vault against OpenBao', () => {
  it.each([
    [['--address', 'http://127.0.0.1:1', '--key-name', 'k'], '--token'],
    [['--address', 'http://127.0.0.1:1', '--key-name', 'k', '--token', 't', '--token-file', '/x'], '--token-file'],
    [['--address', 'http://127.0.0.1:1', '--key-name', 'k', '--auth-method', 'approle', '--secret-id-file', '/x'], '--role-id'],
    [
      ['--address', 'http://127.0.0.1:1', '--key-name', 'k', '--auth-method', 'cert', '--tls-client-cert', '/c', '--tls-client-key', '/k'],
      '--address',
    ],
    [['--address', 'https://127.0.0.1:1', '--key-name', 'k', '--token', 't', '--tls-ca-file', '/no/such/ca.pem'], '--tls-ca-file'],
    [['--address', 'https://admin:hunter2@vault.example:8200', '--key-name', 'k', '--token', 't'], '--address: must not carry credentials'],
  ])('refuses %j at start with exit 2 and an error naming %s', (args, flag) => {
    const r = runBinary(BIN, ['--listen-addr', `unix://${join(dir, 'never.sock')}`, '--health-addr', 'off', ...args]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(flag);
    expect(r.stderr).not.toContain('    at '); // a message, not a stack trace
    expect(r.stderr).not.toContain('hunter2');
  });

  it('takes its token from the environment and never prints it', async () => {
    const token = await writeToken(join(dir, 'env-token'));
    const withEnv = await startPluginBinary(BIN, { args: ['--address', bao.address, '--key-name', KEY], env: { KMS_PLUGIN_TOKEN: token } });
    const status = await waitFor(async () => {
      const s = await withEnv.client.status();
      return s.keyId ? s : undefined;
    }, 'a key_id');
    expect(status.healthz).toBe('ok');
    const seed = randomBytes(32);
    expect(await withEnv.client.decrypt(await withEnv.client.encrypt(seed))).toEqual(seed);
    expect(await withEnv.stop()).toBe(0);
    expect(leaked(withEnv.output(), [token])).toEqual([]);
    expect(withEnv.output()).not.toContain(seed.toString('base64'));
  });

  it('rides out Vault sealed and Vault stopped: /livez stays up, /healthz and Status say why, cached KEKs still decrypt, recovery without a restart', async () => {
    const tokenFile = join(dir, 'outage-token');
    await writeToken(tokenFile);
    const local = await startPlugin(['--token-file', tokenFile, '--refresh-interval', '300ms']);
    const direct = await startPlugin([
      '--token-file',
      tokenFile,
      '--refresh-interval',
      '300ms',
      '--kek-mode',
      'direct',
      '--backend-retries',
      '0',
    ]).catch(async (err: unknown) => {
      await local.stop();
      throw err;
    });
    try {
      for (const p of [local, direct])
        await waitFor(async () => ((await get(p.health, '/readyz')).status === 200 ? true : undefined), 'ready');
      const seed = randomBytes(32);
      const before = await local.client.encrypt(seed);
      expect((await get(local.health, '/metrics')).text).toMatch(/^kms_plugin_vault_token_ttl_seconds (3[0-5]\d\d|\d{1,3})(\.\d+)?$/m);

      // Sealed.
      await bao.seal();
      const sealed = await waitFor(async () => {
        const h = await get(local.health, '/healthz');
        return h.status !== 200 ? h.text : undefined;
      }, '/healthz to report the sealed Vault');
      expect(sealed).toContain('sealed');
      expect((await get(local.health, '/livez')).status).toBe(200);
      expect(await local.client.decrypt(before)).toEqual(seed); // its local KEK is cached
      expect((await local.client.status()).healthz).toBe('ok'); // and still encrypts with it
      await local.client.encrypt(randomBytes(32));
      const directStatus = await waitFor(async () => {
        const s = await direct.client.status();
        return s.healthz !== 'ok' ? s.healthz : undefined;
      }, 'direct-mode Status to report the sealed Vault');
      expect(directStatus).toContain('sealed');
      expect((await get(direct.health, '/livez')).status).toBe(200);

      await bao.unseal();
      for (const p of [local, direct]) {
        await waitFor(async () => ((await get(p.health, '/healthz')).status === 200 ? true : undefined), '/healthz after unseal');
        expect((await p.client.status()).healthz).toBe('ok');
        const again = randomBytes(32);
        expect(await p.client.decrypt(await p.client.encrypt(again))).toEqual(again);
      }

      // Stopped, then back as a fresh server (a dev server keeps nothing): a new token and a new key.
      const keyIdBefore = (await local.client.status()).keyId;
      await bao.stop();
      await waitFor(
        async () => ((await get(local.health, '/healthz')).status !== 200 ? true : undefined),
        '/healthz to report Vault stopped',
      );
      expect((await get(local.health, '/livez')).status).toBe(200);
      expect(await local.client.decrypt(before)).toEqual(seed);
      await bao.launch();
      await bao.transitKey(KEY);
      await bao.pluginPolicy('kms', KEY);
      await writeToken(tokenFile);
      await waitFor(async () => ((await get(local.health, '/healthz')).status === 200 ? true : undefined), '/healthz after Vault is back');
      const status = await local.client.status();
      expect(status.healthz).toBe('ok');
      expect(status.keyId).not.toBe(keyIdBefore); // a new server, a new key: never the old key_id
      const after = randomBytes(32);
      expect(await local.client.decrypt(await local.client.encrypt(after))).toEqual(after);
      expect(local.proc.exited).toBe(false);
    } finally {
      expect(await local.stop()).toBe(0);
      expect(await direct.stop()).toBe(0);
      const outputs = [local.output(), direct.output()];
      for (const text of outputs) expect(leaked(text, secrets)).toEqual([]);
    }
  }, 60_000);
});
