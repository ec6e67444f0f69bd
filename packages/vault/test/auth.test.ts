import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@k8s-kms/core';
import { type RawValues } from '@k8s-kms/core/kit';
import { leaked, LogCapture } from '@k8s-kms/testkit';
import { OpenBao, OPENBAO_ROOT_TOKEN } from './support/openbao.js';
import { parseVaultConfig } from '../src/config.js';
import { createVaultProvider, type VaultProvider } from '../src/create.js';

const KEY = 'auth-key';
const opts = () => ({ signal: AbortSignal.timeout(5_000) });
const logs = new LogCapture();
/** Log lines from here on: `const fromNow = logsSince(); ...; fromNow()`. */
const logsSince = (): (() => string) => {
  const mark = logs.text.length;
  return () => logs.text.slice(mark);
};
/** Every credential handed to a plugin in these tests: none may reach a log line. */
const secrets: string[] = [OPENBAO_ROOT_TOKEN];

let bao: OpenBao;
let dir: string;
beforeAll(async () => {
  bao = await OpenBao.start({ audit: true });
  dir = await mkdtemp(join(tmpdir(), 'k8s-kms-vault-auth-'));
  await bao.transitKey(KEY);
  await bao.pluginPolicy('kms', KEY);
});
afterAll(async () => {
  await bao.dispose();
  await rm(dir, { recursive: true, force: true });
});

function plugin(values: RawValues, server = bao): VaultProvider {
  const config = parseVaultConfig({ address: server.address, 'key-name': KEY, ...values });
  return createVaultProvider(config, createLogger({ level: 'debug', name: 'test', destination: logs }));
}

/** One full round trip through Vault: read the key, wrap, unwrap. */
async function roundTrip(p: VaultProvider): Promise<void> {
  const key = await p.transit.currentKey(opts());
  const aad = Buffer.from('aad');
  const wrapped = await p.transit.wrap(Buffer.alloc(32, 3), { key, aad, ...opts() });
  expect(await p.transit.unwrap(wrapped, { aad, ...opts() })).toEqual(Buffer.alloc(32, 3));
}

/** renew-self and lookup-self requests so far, as OpenBao's audit log records them. */
async function upkeepRequests(): Promise<number> {
  const log = await readFile(bao.auditLog, 'utf8');
  return log.split('\n').filter((line) => line.includes('"type":"request"') && /"path":"auth\/token\/(renew|lookup)-self"/.test(line))
    .length;
}

async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content, { mode: 0o600 });
  return path;
}

async function policyToken(policies: string[], ttl = '1h'): Promise<string> {
  const body = await bao.must('POST', 'auth/token/create', { policies, ttl, no_default_policy: false });
  const token = (body.auth as { client_token: string }).client_token;
  secrets.push(token);
  return token;
}

async function appRole(role: string, settings: Record<string, unknown>): Promise<{ 'role-id': string; 'secret-id-file': string }> {
  if ((await bao.api('GET', 'sys/auth')).body['approle/'] === undefined) await bao.must('POST', 'sys/auth/approle', { type: 'approle' });
  await bao.must('POST', `auth/approle/role/${role}`, { token_policies: ['kms'], ...settings });
  const roleId = ((await bao.must('GET', `auth/approle/role/${role}/role-id`)).data as { role_id: string }).role_id;
  const secretId = ((await bao.must('POST', `auth/approle/role/${role}/secret-id`, {})).data as { secret_id: string }).secret_id;
  secrets.push(secretId);
  return { 'role-id': roleId, 'secret-id-file': await file(`${role}.secret-id`, `${secretId}\n`) };
}

describe('Vault auth against a real OpenBao', () => {
  it('token: from the flag, with an unbounded TTL for a root token', async () => {
    const p = plugin({ token: OPENBAO_ROOT_TOKEN });
    await roundTrip(p);
    expect(p.auth.ttlSeconds()).toBe(Infinity);
    p.auth.close();
  });

  it('token file: picks up a replaced token without a restart, after the old one is revoked', async () => {
    const first = await policyToken(['kms']);
    const tokenFile = await file('token', first);
    const p = plugin({ 'token-file': tokenFile });
    await roundTrip(p);
    const ttl = p.auth.ttlSeconds();
    expect(ttl).toBeGreaterThan(3000);
    expect(ttl).toBeLessThanOrEqual(3600);
    await bao.must('POST', 'auth/token/revoke', { token: first });
    await writeFile(tokenFile, await policyToken(['kms']));
    await roundTrip(p); // the file's change (or the 403 on the revoked token) makes it re-read the file
    p.auth.close();
  });

  it('token: a revoked token with nothing to replace it fails user-induced, naming the cause', async () => {
    const token = await policyToken(['kms']);
    const p = plugin({ token });
    await roundTrip(p);
    await bao.must('POST', 'auth/token/revoke', { token });
    await expect(p.transit.currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('HTTP 403'),
    });
    p.auth.close();
  });

  it('a policy without decrypt: user-induced "permission denied", without a new login (lookup-self shows the token is fine)', async () => {
    await bao.must('PUT', 'sys/policies/acl/encrypt-only', {
      policy: `path "transit/encrypt/${KEY}" { capabilities = ["update"] }\npath "transit/hmac/${KEY}" { capabilities = ["update"] }\npath "transit/keys/${KEY}" { capabilities = ["read"] }`,
    });
    for (const values of [
      { 'token-file': await file('encrypt-only', await policyToken(['encrypt-only'])) },
      { 'auth-method': 'approle', ...(await appRole('encrypt-only', { token_policies: ['encrypt-only'], token_ttl: '1h' })) },
    ]) {
      const recent = logsSince();
      const p = plugin(values);
      const key = await p.transit.currentKey(opts());
      const wrapped = await p.transit.wrap(Buffer.alloc(32), { key, aad: Buffer.from('a'), ...opts() });
      for (let i = 0; i < 3; i++) {
        await expect(p.transit.unwrap(wrapped, { aad: Buffer.from('a'), ...opts() })).rejects.toMatchObject({
          errorClass: 'user-induced',
          message: expect.stringContaining('permission denied'),
        });
      }
      expect(recent()).not.toContain('authenticating again');
      expect(recent()).not.toContain('new Vault token');
      expect(recent().match(/logged in to Vault/g)).toHaveLength(1);
      p.auth.close();
    }
  });

  it('AppRole: logs in with role_id and the secret_id file; logs in again after its tokens are revoked', async () => {
    const p = plugin({ 'auth-method': 'approle', ...(await appRole('plugin', { token_ttl: '1h', secret_id_num_uses: 0 })) });
    await roundTrip(p);
    expect(p.auth.ttlSeconds()).toBeGreaterThan(3000);
    await bao.must('PUT', 'sys/leases/revoke-prefix/auth/approle/login', {});
    const recent = logsSince();
    await roundTrip(p);
    expect(recent()).toContain('authenticating again');
    expect(recent()).toContain('new Vault token');
    p.auth.close();
  });

  it('AppRole with a 2 s token TTL: renews before expiry, then logs in again as max_ttl nears; calls never fail', async () => {
    const p = plugin({ 'auth-method': 'approle', ...(await appRole('short', { token_ttl: '2s', token_max_ttl: '5s' })) });
    const recent = logsSince();
    const until = Date.now() + 8_000;
    while (Date.now() < until) {
      await roundTrip(p);
      expect(p.auth.ttlSeconds()).toBeGreaterThan(0);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(recent()).toContain('renewed the Vault token');
    expect(recent()).toContain('new Vault token');
    expect(recent()).not.toContain('authenticating again'); // kept fresh in the background, never refused
    p.auth.close();
  }, 20_000);

  it.each([
    ['renewable, capped by explicit_max_ttl', { ttl: '2s', explicit_max_ttl: '4s', renewable: true }],
    ['not renewable', { ttl: '3s', renewable: false }],
  ])(
    'token file with a short %s token: keeps it until it expires with a handful of upkeep calls, never a loop',
    async (_name, settings) => {
      const body = await bao.must('POST', 'auth/token/create', { policies: ['kms'], ...settings });
      const token = (body.auth as { client_token: string }).client_token;
      secrets.push(token);
      const before = await upkeepRequests();
      const p = plugin({ 'token-file': await file(`short-${String(settings.renewable)}`, token) });
      await roundTrip(p);
      await new Promise((r) => setTimeout(r, 6_000)); // past its expiry
      p.auth.close();
      const calls = (await upkeepRequests()) - before;
      expect(calls).toBeGreaterThan(1); // it did look after the token
      expect(calls).toBeLessThan(20); // a loop makes hundreds
      expect(p.auth.ttlSeconds()).toBe(0);
    },
    15_000,
  );

  it('JWT: logs in with a signed JWT from a file (as a projected service account token would be)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await bao.must('POST', 'sys/auth/jwt', { type: 'jwt' });
    await bao.must('POST', 'auth/jwt/config', { jwt_validation_pubkeys: [publicKey.export({ type: 'spki', format: 'pem' })] });
    await bao.must('POST', 'auth/jwt/role/kms-plugin', {
      role_type: 'jwt',
      bound_audiences: ['k8s-kms'],
      user_claim: 'sub',
      token_policies: ['kms'],
      token_ttl: '1h',
    });
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({ sub: 'system:serviceaccount:kube-system:kms-plugin', aud: 'k8s-kms', iat: now, nbf: now, exp: now + 600 })}`;
    const jwt = `${unsigned}.${sign('sha256', Buffer.from(unsigned), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`;
    secrets.push(jwt);
    const p = plugin({ 'auth-method': 'jwt', role: 'kms-plugin', 'jwt-file': await file('jwt', jwt) });
    await roundTrip(p);
    expect(p.auth.ttlSeconds()).toBeGreaterThan(3000);
    p.auth.close();

    const wrongRole = plugin({ 'auth-method': 'jwt', role: 'nobody', 'jwt-file': join(dir, 'jwt') });
    await expect(wrongRole.transit.currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('auth/jwt/login'),
    });
    wrongRole.auth.close();
  });

  it('names the flag and file when a credential file cannot be read, without reading it into the message', async () => {
    const p = plugin({ 'auth-method': 'approle', 'role-id': 'r', 'secret-id-file': join(dir, 'missing') });
    await expect(p.transit.currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringMatching(/--secret-id-file: cannot read .*missing \(ENOENT\)/),
    });
    p.auth.close();
  });
});

describe('TLS and cert auth against a real OpenBao with TLS', () => {
  let tls: OpenBao;
  beforeAll(async () => {
    tls = await OpenBao.start({ tls: true });
    await tls.transitKey(KEY);
    await tls.pluginPolicy('kms', KEY);
  });
  afterAll(async () => tls.dispose());

  it('cert auth: logs in with a client certificate issued by a test CA (OpenBao PKI)', async () => {
    await tls.must('POST', 'sys/mounts/pki', { type: 'pki' });
    const root = await tls.must('POST', 'pki/root/generate/internal', { common_name: 'k8s-kms test client CA', ttl: '24h' });
    await tls.must('POST', 'pki/roles/client', {
      allow_any_name: true,
      client_flag: true,
      server_flag: false,
      key_type: 'ec',
      key_bits: 256,
    });
    const issued = (await tls.must('POST', 'pki/issue/client', { common_name: 'kms-plugin', ttl: '1h' })).data as {
      certificate: string;
      private_key: string;
    };
    await tls.must('POST', 'sys/auth/cert', { type: 'cert' });
    await tls.must('POST', 'auth/cert/certs/kms-plugin', {
      certificate: (root.data as { certificate: string }).certificate,
      token_policies: ['kms'],
      token_ttl: '1h',
    });
    const p = plugin(
      {
        'auth-method': 'cert',
        role: 'kms-plugin',
        'tls-ca-file': tls.caFile,
        'tls-client-cert': await file('client.pem', issued.certificate),
        'tls-client-key': await file('client-key.pem', issued.private_key),
      },
      tls,
    );
    await roundTrip(p);
    expect(p.auth.ttlSeconds()).toBeGreaterThan(3000);
    p.auth.close();
  });

  it('verifies the server certificate: refused without the CA, accepted with it, checked against --tls-server-name', async () => {
    const untrusted = plugin({ token: OPENBAO_ROOT_TOKEN }, tls);
    await expect(untrusted.transit.currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('--tls-ca-file'),
    });
    await roundTrip(plugin({ token: OPENBAO_ROOT_TOKEN, 'tls-ca-file': tls.caFile, 'tls-server-name': 'localhost' }, tls));
    const wrongName = plugin({ token: OPENBAO_ROOT_TOKEN, 'tls-ca-file': tls.caFile, 'tls-server-name': 'vault.example.com' }, tls);
    await expect(wrongName.transit.currentKey(opts())).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('ALTNAME'),
    });
  });

  it('--tls-skip-verify connects without the CA and logs a warning saying so', async () => {
    const recent = logsSince();
    await roundTrip(plugin({ token: OPENBAO_ROOT_TOKEN, 'tls-skip-verify': true }, tls));
    expect(recent()).toContain('TLS verification of the Vault server is OFF');
  });
});

it('never logged a token, secret_id or JWT in any of the above', () => {
  expect(secrets.length).toBeGreaterThan(5);
  expect(leaked(logs.text, secrets)).toEqual([]);
});
