import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KeyProvider } from '@k8s-kms/core';
import { kmsErrorOf, leaked, startPluginBinary, waitHealthy } from '@k8s-kms/testkit';
import selfsigned from 'selfsigned';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-azure.js', import.meta.url));
const ISSUER = 'https://oidc.k8s-kms.test/cluster-1';
const SUBJECT = 'system:serviceaccount:kube-system:kms-plugin-azure';

let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('auth');
});
afterAll(async () => fx.stop());

const signal = (): AbortSignal => new AbortController().signal;

/** One wrap and unwrap through `provider`: the credential got a token the vault accepted. */
async function roundTrip(provider: KeyProvider): Promise<void> {
  const seed = randomBytes(32);
  const v = await provider.currentKey({ signal: signal() });
  const w = await provider.wrap(seed, { key: v, aad: Buffer.from('aad'), signal: signal() });
  expect(await provider.unwrap(w, { aad: Buffer.from('aad'), signal: signal() })).toEqual(seed);
  await provider.close?.();
}

/** A service account token as a kubelet projects it: an RS256 JWT of `issuer`. */
function projectedToken(signer: KeyObject, claims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${part({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${part({
    iss: ISSUER,
    sub: SUBJECT,
    aud: ['api://AzureADTokenExchange'],
    iat: now,
    nbf: now,
    exp: now + 3600,
    ...claims,
  })}`;
  return `${body}.${sign('sha256', Buffer.from(body), signer).toString('base64url')}`;
}

describe('authentication through the real @azure/identity against the stand-in', () => {
  it('client secret: one token for many calls', async () => {
    const before = fx.standIn.tokens.granted.client_secret;
    const provider = await fx.provider(key);
    for (let i = 0; i < 5; i++) await roundTrip(provider);
    expect(fx.standIn.tokens.granted.client_secret - before).toBe(1);
    expect(fx.standIn.principals).toContain(fx.clientId);
  });

  it('client certificate: a signed assertion (the certificate and its key in one PEM file)', async () => {
    const pems = await selfsigned.generate([{ name: 'commonName', value: 'kms-plugin-azure' }], { keyType: 'rsa', keySize: 2048 });
    const clientId = '11111111-2222-3333-4444-555555555555';
    fx.standIn.tokens.trustCertificate(clientId, pems.cert);
    const file = await fx.file(`${pems.private}\n${pems.cert}\n`);
    const before = fx.standIn.tokens.granted.client_certificate;
    await roundTrip(await fx.provider(key, { 'client-secret-file': undefined, 'client-certificate-file': file, 'client-id': clientId }));
    expect(fx.standIn.tokens.granted.client_certificate - before).toBe(1);
    expect(fx.standIn.principals).toContain(clientId);
    // Another certificate for the same app is refused by the token endpoint: the operator's to fix.
    const other = await selfsigned.generate([{ name: 'commonName', value: 'someone else' }], { keyType: 'rsa', keySize: 2048 });
    const wrong = await fx.file(`${other.private}\n${other.cert}\n`);
    const provider = await fx.provider(key, { 'client-secret-file': undefined, 'client-certificate-file': wrong, 'client-id': clientId });
    const e = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([e.errorClass, e.message]).toEqual(['user-induced', expect.stringMatching(/token refused \(invalid_client, AADSTS700027/)]);
    expect(leaked(e.message, [other.private, pems.private])).toEqual([]);
  });

  it('workload identity: the projected service account token, exchanged through a federated identity credential', async () => {
    const issuer = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clientId = '22222222-3333-4444-5555-666666666666';
    fx.standIn.tokens.trustFederated(clientId, { issuer: ISSUER, subject: SUBJECT, key: issuer.publicKey });
    const token = projectedToken(issuer.privateKey);
    const file = await fx.file(token);
    const before = fx.standIn.tokens.granted.workload_identity;
    const flags = { 'client-secret-file': undefined, 'federated-token-file': file, 'client-id': clientId };
    await roundTrip(await fx.provider(key, flags));
    expect(fx.standIn.tokens.granted.workload_identity - before).toBe(1);
    // A token of another subject finds no federated credential.
    const other = await fx.file(projectedToken(issuer.privateKey, { sub: 'system:serviceaccount:default:intruder' }));
    const e = await kmsErrorOf((await fx.provider(key, { ...flags, 'federated-token-file': other })).currentKey({ signal: signal() }));
    expect([e.errorClass, e.message]).toEqual(['user-induced', expect.stringMatching(/token refused \(invalid_request, AADSTS70021/)]);
    expect(e.message).not.toContain(token.split('.')[2]);
  });

  it("a wrong client secret is refused as the operator's to fix, naming the AADSTS code and never the secret", async () => {
    const file = await fx.file('wrong~secret-value-0123456789');
    const e = await kmsErrorOf((await fx.provider(key, { 'client-secret-file': file })).currentKey({ signal: signal() }));
    expect([e.errorClass, e.message]).toEqual([
      'user-induced',
      expect.stringMatching(/^Key Vault get key: token refused \(invalid_client, AADSTS7000215\)/),
    ]);
    expect(e.message).not.toContain('wrong~secret');
  });

  it("a token the vault stops accepting is refused after one refresh: 401 is the operator's to fix", async () => {
    const provider = await fx.provider(key);
    await provider.currentKey({ signal: signal() });
    fx.standIn.tokens.revokeAll();
    const e = await kmsErrorOf(provider.currentKey({ signal: signal() }));
    expect([e.errorClass, e.message]).toEqual(['user-induced', expect.stringMatching(/HTTP 401.*the token was refused after a refresh/)]);
  });

  it('azure.json with a client secret (aadClientId/aadClientSecret/tenantId), as self-managed clusters on Azure have it', async () => {
    const secretApp = fx.standIn.tokens.clientWithSecret();
    const file = await fx.file(
      JSON.stringify({
        cloud: 'AzurePublicCloud',
        tenantId: fx.standIn.tokens.tenantId,
        aadClientId: secretApp.clientId,
        aadClientSecret: secretApp.secret,
      }),
    );
    await roundTrip(
      await fx.provider(key, { 'client-secret-file': undefined, 'client-id': undefined, 'tenant-id': undefined, 'azure-json': file }),
    );
    expect(fx.standIn.principals).toContain(secretApp.clientId);
  });

  it.each([
    [{ cloud: 'AzureGermanCloud', aadClientSecret: 'x' }, 'cloud AzureGermanCloud is not one of'],
    [{ aadClientId: 'a', aadClientSecret: 'x' }, 'has no tenantId'],
    [{ tenantId: 't' }, 'names no credential'],
    [{ tenantId: 't', aadClientId: 'a', aadClientCertPath: '/c.pfx', aadClientCertPassword: 'p' }, 'password-protected certificate'],
  ])('refuses azure.json %j: %s', async (json, message) => {
    const file = await fx.file(JSON.stringify(json));
    const flags = { 'client-secret-file': undefined, 'client-id': undefined, 'tenant-id': undefined, 'azure-json': file };
    await expect(fx.provider(key, flags)).rejects.toThrow(message);
  });
});

describe('managed identity (IMDS) through the binary', () => {
  it.each([
    ['system-assigned, --auth managed-identity', 'system', (): string[] => ['--auth', 'managed-identity']],
    [
      'user-assigned, --client-id',
      '33333333-4444-5555-6666-777777777777',
      (): string[] => ['--auth', 'managed-identity', '--client-id', '33333333-4444-5555-6666-777777777777'],
    ],
  ])('%s', async (_name, identity, extra) => {
    fx.standIn.tokens.addManagedIdentity(identity);
    const before = fx.standIn.tokens.granted.managed_identity;
    const plugin = await startPluginBinary(BIN, {
      args: [...fx.args(key, { trust: 'env', auth: false }), ...extra()],
      env: fx.env({ AZURE_POD_IDENTITY_AUTHORITY_HOST: fx.standIn.imdsUrl }),
    });
    try {
      await waitHealthy(plugin.client);
      const seed = randomBytes(32);
      expect(await plugin.client.decrypt(await plugin.client.encrypt(seed))).toEqual(seed);
      expect(fx.standIn.tokens.granted.managed_identity - before).toBe(1);
      expect(fx.standIn.principals).toContain(identity);
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
  });

  it('azure.json with useManagedIdentityExtension and userAssignedIdentityID', async () => {
    const identity = '44444444-5555-6666-7777-888888888888';
    fx.standIn.tokens.addManagedIdentity(identity);
    const file = await fx.file(
      JSON.stringify({
        cloud: 'AzurePublicCloud',
        tenantId: fx.standIn.tokens.tenantId,
        useManagedIdentityExtension: true,
        userAssignedIdentityID: identity,
      }),
    );
    const plugin = await startPluginBinary(BIN, {
      args: [...fx.args(key, { trust: 'env', auth: false }), '--azure-json', file],
      env: fx.env({ AZURE_POD_IDENTITY_AUTHORITY_HOST: fx.standIn.imdsUrl }),
    });
    try {
      await waitHealthy(plugin.client);
      expect(fx.standIn.principals).toContain(identity);
      expect(plugin.output()).toContain(`managed identity (user-assigned ${identity}, from --azure-json`);
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
  });

  it('workload identity from the variables the Azure workload identity webhook sets', async () => {
    const issuer = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const clientId = '55555555-6666-7777-8888-999999999999';
    fx.standIn.tokens.trustFederated(clientId, { issuer: ISSUER, subject: SUBJECT, key: issuer.publicKey });
    const file = await fx.file(projectedToken(issuer.privateKey));
    const plugin = await startPluginBinary(BIN, {
      args: fx
        .args(key, { trust: 'env', auth: false })
        .filter((a, i, all) => a !== '--authority-host' && all[i - 1] !== '--authority-host'),
      env: fx.env({
        AZURE_CLIENT_ID: clientId,
        AZURE_TENANT_ID: fx.standIn.tokens.tenantId,
        AZURE_FEDERATED_TOKEN_FILE: file,
        AZURE_AUTHORITY_HOST: `${fx.standIn.authorityHost}/`,
      }),
    });
    try {
      await waitHealthy(plugin.client);
      expect(fx.standIn.principals).toContain(clientId);
      expect(plugin.output()).toContain(`workload identity (client ${clientId}, token file ${file})`);
    } finally {
      expect(await plugin.stop()).toBe(0);
    }
  });
});
