import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exerciseUnderRecorder } from '@k8s-kms/testkit';
import { StandInFixture } from './support/stand-in.js';

const BIN = fileURLToPath(new URL('../bin/kms-plugin-azure.js', import.meta.url));

let fx: StandInFixture;
let key: string;
beforeAll(async () => {
  fx = await StandInFixture.start();
  key = fx.key('connections');
});
afterAll(async () => fx.stop());

// Under the testkit's connection recorder, which refuses any connection off loopback.
describe('kms-plugin-azure connects to nothing but its vault and its authority', () => {
  it('with a client secret: the vault and the token endpoint, no instance discovery, no DNS lookup', async () => {
    const file = join(fx.dir, `secret-${randomUUID()}.jsonl`);
    const { connects, lookups } = await exerciseUnderRecorder(BIN, { args: fx.args(key, { trust: 'env' }), env: fx.env(), file });
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`, new URL(fx.standIn.authorityHost).host].sort());
    expect(lookups).toEqual([]);
  });

  it('with managed identity: the vault and the IMDS endpoint it was given, nothing at 169.254.169.254', async () => {
    fx.standIn.tokens.addManagedIdentity('system');
    const file = join(fx.dir, `mi-${randomUUID()}.jsonl`);
    const { connects, lookups } = await exerciseUnderRecorder(BIN, {
      args: [...fx.args(key, { trust: 'env', auth: false }), '--auth', 'managed-identity'],
      env: fx.env({ AZURE_POD_IDENTITY_AUTHORITY_HOST: fx.standIn.imdsUrl }),
      file,
    });
    expect(connects).toEqual([`127.0.0.1:${fx.proxy.port}`, new URL(fx.standIn.imdsUrl).host].sort());
    expect(lookups).toEqual([]);
  });
});
