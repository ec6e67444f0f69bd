import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startPlugin, type RunningPlugin } from '@k8s-kms/testkit';
import { deriveKeyId } from '../src/key-id.js';
import { FakeMemoryProvider } from '@k8s-kms/testkit';

/**
 * Frozen vectors: bytes written by k8s-kms 0.1 under a fixed backend key. A change that can no
 * longer read them would strand data already in etcd, so these must never be regenerated; add
 * vectors for a new format byte instead.
 */
const BACKEND_KEY = { id: 'frozen-key-1', key: Buffer.alloc(32, 0x42) };
const SEED = Buffer.from('k8s-kms frozen vector seed 32 b!');
const KEY_ID = 'fake:ivFss5jnes0jnCxQ8n8eWagBt8YkN2mh';
const hex = (h: string) => Buffer.from(h, 'hex');

const V2_LOCAL = {
  ciphertext: hex(
    '015f4dd6847859d7ec8ff291519d4630598f1d90bbe9e20263c2033b47f3432dce6bd87691351a8ec0d191ad7593944cae6a054dea7c6aa300d598f71e',
  ),
  annotations: {
    'local-kek.k8s-kms.dev': hex(
      '010c66726f7a656e2d6b65792d31c92e3ed9da8bb91a9e6470d2f3096e23c22c02445a0bfd68ae21b0803b67e79dc8196b0855124814d3c46a25bbe7a9b6d9634fda1988508dba7fda9b',
    ),
  },
};
const V2_DIRECT = hex(
  '020c66726f7a656e2d6b65792d31755df03f7f8dc217a424c326a99b14b3805082fa2c35536087503d943fe741f37ef8e19f83cf47ca869354cdbbc541b15abc617186e2b90e2b07a9de',
);
const V1_LOCAL = hex(
  '1100490c66726f7a656e2d6b65792d31c92e3ed9da8bb91a9e6470d2f3096e23c22c02445a0bfd68ae21b0803b67e79dc8196b0855124814d3c46a25bbe7a9b6d9634fda1988508dba7fda9bb4797c03389ecd76306660ec2c602b9781f8d52a76682922ef9f81329fa3f5c029b73de1e167f91debcc69f86c7e5442ab9a2f456d4bab62219ed961',
);
const V1_DIRECT = hex(
  '120c66726f7a656e2d6b65792d3188f5421a842e3fdb44d71d6de39f54aa8ee7680d672cb375a14360aa6af08938c1f9dbee62bb14cd39eff3eebbb97fa9034ee01584c832033c888772',
);

describe('frozen ciphertext vectors', () => {
  let plugin: RunningPlugin;
  beforeAll(async () => {
    plugin = await startPlugin(new FakeMemoryProvider(BACKEND_KEY));
  });
  afterAll(async () => plugin.stop());

  it('derives the same key_id as 0.1 for the same backend key version', async () => {
    expect(deriveKeyId('fake', BACKEND_KEY.id)).toBe(KEY_ID);
    expect((await plugin.client.status()).keyId).toBe(KEY_ID);
  });

  it('reads format 0x01 (v2, local KEK)', async () => {
    expect(V2_LOCAL.ciphertext[0]).toBe(0x01);
    expect(await plugin.client.decrypt({ ...V2_LOCAL, keyId: KEY_ID })).toEqual(SEED);
  });

  it('reads format 0x02 (v2, direct)', async () => {
    expect(V2_DIRECT[0]).toBe(0x02);
    expect(await plugin.client.decrypt({ ciphertext: V2_DIRECT, keyId: KEY_ID })).toEqual(SEED);
  });

  it('reads format 0x11 (v1beta1, local KEK)', async () => {
    expect(V1_LOCAL[0]).toBe(0x11);
    expect(await plugin.client.v1Decrypt(V1_LOCAL)).toEqual(SEED);
  });

  it('reads format 0x12 (v1beta1, direct)', async () => {
    expect(V1_DIRECT[0]).toBe(0x12);
    expect(await plugin.client.v1Decrypt(V1_DIRECT)).toEqual(SEED);
  });
});
