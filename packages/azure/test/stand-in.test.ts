import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ClientSecretCredential } from '@azure/identity';
import { CryptographyClient, KeyClient } from '@azure/keyvault-keys';
import { StandInFixture } from './support/stand-in.js';

/** The stand-in driven by the official clients alone, for what the plugin never calls but tests rely on. */
describe('the Key Vault stand-in under @azure/keyvault-keys and @azure/identity', () => {
  let fx: StandInFixture;
  let keys: KeyClient;
  let credential: ClientSecretCredential;
  const options = () => ({
    disableChallengeResourceVerification: true,
    retryOptions: { maxRetries: 0 },
    tlsOptions: { ca: fx.standIn.caPem },
  });
  beforeAll(async () => {
    fx = await StandInFixture.start();
    credential = new ClientSecretCredential(fx.standIn.tokens.tenantId, fx.clientId, fx.secret, {
      authorityHost: fx.standIn.authorityHost,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: fx.standIn.caPem },
    });
    keys = new KeyClient(fx.standIn.vaultUrl, credential, options());
  });
  afterAll(async () => fx.stop());

  it('creates, reads, lists, rotates and updates keys as the service does', async () => {
    const created = await keys.createRsaKey('sdk-rsa', { keySize: 3072, keyOps: ['wrapKey', 'unwrapKey'], tags: { team: 'platform' } });
    expect([created.keyType, created.keyOperations, created.properties.tags, created.key?.n?.length]).toEqual([
      'RSA',
      ['wrapKey', 'unwrapKey'],
      { team: 'platform' },
      384,
    ]);
    const rotated = await keys.rotateKey('sdk-rsa');
    expect(rotated.properties.version).not.toBe(created.properties.version);
    expect(rotated.keyOperations).toEqual(['wrapKey', 'unwrapKey']);
    expect((await keys.getKey('sdk-rsa')).properties.version).toBe(rotated.properties.version);
    expect((await keys.getKey('sdk-rsa', { version: created.properties.version! })).id).toBe(created.id);
    const versions: string[] = [];
    for await (const p of keys.listPropertiesOfKeyVersions('sdk-rsa')) versions.push(p.version!);
    expect(versions).toEqual([created.properties.version, rotated.properties.version]);
    const expires = new Date(Date.now() + 86_400_000);
    const updated = await keys.updateKeyProperties('sdk-rsa', created.properties.version!, { enabled: false, expiresOn: expires });
    expect([updated.properties.enabled, Math.floor(updated.properties.expiresOn!.getTime() / 1000)]).toEqual([
      false,
      Math.floor(expires.getTime() / 1000),
    ]);
    await expect(keys.getKey('sdk-rsa', { version: created.properties.version! })).rejects.toMatchObject({
      statusCode: 403,
      code: 'Forbidden',
    });
    await expect(keys.getKey('no-such-key')).rejects.toMatchObject({ statusCode: 404, code: 'KeyNotFound' });
  });

  it('wraps and unwraps with RSA-OAEP (locally by the SDK, as it does) and RSA-OAEP-256 (by the service)', async () => {
    const key = await keys.createRsaKey('sdk-wrap');
    const crypto = new CryptographyClient(key, credential, options());
    const secret = Buffer.from('0123456789abcdef0123456789abcdef');
    const before = fx.standIn.calls.wrapKey;
    for (const alg of ['RSA-OAEP', 'RSA-OAEP-256'] as const) {
      const w = await crypto.wrapKey(alg, secret);
      expect(Buffer.from((await crypto.unwrapKey(alg, w.result)).result)).toEqual(secret);
    }
    expect(fx.standIn.calls.wrapKey - before).toBe(1);
    await expect(crypto.unwrapKey('RSA-OAEP-256', Buffer.alloc(256, 1))).rejects.toMatchObject({ statusCode: 400, code: 'BadParameter' });
  });

  it('answers a request without a token with the bearer challenge, and refuses a token for another resource', async () => {
    const answer = await new Promise<{ status: number; challenge: string | undefined }>((resolve, reject) => {
      const req = request(`${fx.standIn.vaultUrl}/keys/x?api-version=2025-07-01`, { ca: fx.standIn.caPem }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'] });
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({
      status: 401,
      challenge: `Bearer authorization="${fx.standIn.authorityHost}/${fx.standIn.tokens.tenantId}", resource="https://vault.azure.net"`,
    });
    const before = fx.standIn.calls.challenge;
    await new KeyClient(fx.standIn.vaultUrl, credential, options()).getKey('sdk-wrap');
    expect(fx.standIn.calls.challenge - before).toBe(1);
    const token = await credential.getToken('https://managedhsm.azure.net/.default');
    expect(fx.standIn.tokens.check(token.token, fx.standIn.resource)).toEqual({
      error: 'The access token is for https://managedhsm.azure.net, not https://vault.azure.net.',
    });
  });
});
