import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { status } from '@grpc/grpc-js';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import { createGcpKmsClient } from '../src/client.js';
import { parseGcpConfig } from '../src/config.js';
import { PROJECT_KEY_RING, StandInFixture } from './support/stand-in.js';

// The stand-in driven by the official client alone (its admin methods included), so that what
// the provider tests rely on is what the client sees: resource shapes, states and gRPC codes.
let fx: StandInFixture;
let kms: KeyManagementServiceClient;
beforeAll(async () => {
  fx = await StandInFixture.start();
  kms = (await createGcpKmsClient(parseGcpConfig(fx.flags(`${PROJECT_KEY_RING}/cryptoKeys/unused`)))).kms;
});
afterAll(async () => {
  await kms.close();
  await fx.stop();
});

async function code(p: Promise<unknown>): Promise<[number | undefined, string]> {
  return p.then(
    () => [undefined, ''],
    (e: { code?: number; details?: string }) => [e.code, e.details ?? ''],
  );
}

describe('the Cloud KMS stand-in through @google-cloud/kms', () => {
  const ring = 'projects/stand-in-project/locations/us-central1/keyRings/admin';
  const key = `${ring}/cryptoKeys/k`;

  it('creates key rings, keys and versions, moves the primary, disables and destroys versions', async () => {
    await kms.createKeyRing({ parent: 'projects/stand-in-project/locations/us-central1', keyRingId: 'admin' });
    expect((await kms.getKeyRing({ name: ring }))[0].name).toBe(ring);
    const [created] = await kms.createCryptoKey({ parent: ring, cryptoKeyId: 'k', cryptoKey: { purpose: 'ENCRYPT_DECRYPT' } });
    expect([created.name, created.purpose, created.primary?.name, created.primary?.state]).toEqual([
      key,
      'ENCRYPT_DECRYPT',
      `${key}/cryptoKeyVersions/1`,
      'ENABLED',
    ]);
    const [v2] = await kms.createCryptoKeyVersion({ parent: key, cryptoKeyVersion: {} });
    expect(v2.name).toBe(`${key}/cryptoKeyVersions/2`);
    expect((await kms.getCryptoKey({ name: key }))[0].primary?.name).toBe(`${key}/cryptoKeyVersions/1`);
    await kms.updateCryptoKeyPrimaryVersion({ name: key, cryptoKeyVersionId: '2' });
    expect((await kms.getCryptoKey({ name: key }))[0].primary?.name).toBe(`${key}/cryptoKeyVersions/2`);
    const [disabled] = await kms.updateCryptoKeyVersion({
      cryptoKeyVersion: { name: `${key}/cryptoKeyVersions/1`, state: 'DISABLED' },
      updateMask: { paths: ['state'] },
    });
    expect(disabled.state).toBe('DISABLED');
    expect((await kms.getCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` }))[0].state).toBe('DISABLED');
    const [destroyed] = await kms.destroyCryptoKeyVersion({ name: `${key}/cryptoKeyVersions/1` });
    expect(destroyed.state).toBe('DESTROYED');
    const [versions] = await kms.listCryptoKeyVersions({ parent: key });
    expect(versions.map((v) => [v.name, v.state])).toEqual([
      [`${key}/cryptoKeyVersions/1`, 'DESTROYED'],
      [`${key}/cryptoKeyVersions/2`, 'ENABLED'],
    ]);
    expect(await code(kms.updateCryptoKeyPrimaryVersion({ name: key, cryptoKeyVersionId: '1' }))).toEqual([
      status.FAILED_PRECONDITION,
      `${key}/cryptoKeyVersions/1 is not enabled, current state is: DESTROYED.`,
    ]);
  });

  it('encrypts with AAD and every CRC32C field, and answers with the codes Cloud KMS uses', async () => {
    const plaintext = randomBytes(32);
    const aad = Buffer.from('aad');
    const [enc] = await kms.encrypt({ name: key, plaintext, additionalAuthenticatedData: aad });
    expect(enc.name).toBe(`${key}/cryptoKeyVersions/2`);
    expect([enc.verifiedPlaintextCrc32c, enc.verifiedAdditionalAuthenticatedDataCrc32c]).toEqual([false, false]);
    const [dec] = await kms.decrypt({ name: key, ciphertext: enc.ciphertext, additionalAuthenticatedData: aad });
    expect(Buffer.from(dec.plaintext as Uint8Array)).toEqual(plaintext);
    expect(typeof dec.plaintextCrc32c?.value).toBe('string'); // Int64Value: a string through the client
    expect(await code(kms.decrypt({ name: key, ciphertext: enc.ciphertext, additionalAuthenticatedData: Buffer.from('other') }))).toEqual([
      status.INVALID_ARGUMENT,
      "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
    ]);
    expect(await code(kms.encrypt({ name: key, plaintext, plaintextCrc32c: { value: 1 } }))).toEqual([
      status.INVALID_ARGUMENT,
      'The checksum in field plaintext_crc32c did not match the data in field plaintext.',
    ]);
    const other = fx.key('stand-in-other');
    expect((await code(kms.decrypt({ name: other, ciphertext: enc.ciphertext })))[0]).toBe(status.INVALID_ARGUMENT);
    expect(await code(kms.getCryptoKey({ name: `${ring}/cryptoKeys/missing` }))).toEqual([
      status.NOT_FOUND,
      `${ring}/cryptoKeys/missing not found.`,
    ]);
    expect((await code(kms.encrypt({ name: `${key}/cryptoKeyVersions/1`, plaintext })))[0]).toBe(status.FAILED_PRECONDITION);
    expect((await code(kms.encrypt({ name: key, plaintext: Buffer.alloc(64 * 1024 + 1) })))[0]).toBe(status.INVALID_ARGUMENT);
  });

  it('refuses a call without a valid bearer token', async () => {
    const refused = fx.standIn.tokens.refused;
    expect(() => fx.standIn.tokens.authenticate(undefined)).toThrow(/no bearer token/);
    expect(() => fx.standIn.tokens.authenticate('Bearer ya29.made-up')).toThrow(/unknown token/);
    expect(fx.standIn.tokens.refused).toBe(refused + 2);
  });
});
