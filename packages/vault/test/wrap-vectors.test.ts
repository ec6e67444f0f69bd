import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '@k8s-kms/core';
import { AadDigest } from '@k8s-kms/core/kit';
import { parseVaultConfig } from '../src/config.js';
import { createVaultProvider } from '../src/create.js';
import { FakeTransitServer } from './support/fake-transit-server.js';

interface Vector {
  keyName: string;
  keyType: string;
  plaintext: string;
  aad: string;
  wrapped: string;
}
const file = JSON.parse(readFileSync(new URL('./vectors/wrap-0x01.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const hex = (h: string) => Buffer.from(h, 'hex');
const signal = new AbortController().signal;

/**
 * The transit keys behind these bytes lived in an OpenBao dev server that is gone, so the vectors
 * are read through the real provider and node-vault against FakeTransitServer: what matters
 * forever is that the provider finds the key name, the AAD binding and transit's ciphertext in
 * them, asks transit exactly as 0.1.0 did, and checks the digest binding on the answer.
 */
describe('frozen Vault wrap vectors (format 0x01)', () => {
  let fake: FakeTransitServer;
  beforeAll(async () => {
    fake = await new FakeTransitServer().start();
  });
  afterAll(async () => fake.stop());

  it.each(file.vectors.map((v) => [v.keyType, v] as const))('reads a %s wrapped key written by 0.1.0', async (_type, v) => {
    fake.keyTypes = { [v.keyName]: v.keyType };
    const aad = hex(v.aad);
    const digestBound = v.keyType.startsWith('rsa');
    // What transit returns: the plaintext the provider sent, SHA-256(aad) first for RSA keys.
    fake.decryptPlaintext = digestBound ? AadDigest.bind(aad, hex(v.plaintext)) : hex(v.plaintext);
    const config = parseVaultConfig({ address: fake.address, 'key-name': v.keyName, token: 'frozen-vector-token' });
    const provider = createVaultProvider(config, createLogger({ level: 'silent', name: 'vectors' })).transit;
    expect(await provider.unwrap(hex(v.wrapped), { aad, signal })).toEqual(hex(v.plaintext));
    const wrapped = hex(v.wrapped);
    const transitCiphertext = wrapped.subarray(3 + v.keyName.length).toString('utf8');
    expect(transitCiphertext).toMatch(/^vault:v1:/);
    expect(fake.received.at(-1)).toEqual({
      method: 'POST',
      path: `transit/decrypt/${v.keyName}`,
      body: {
        ciphertext: transitCiphertext,
        ...(digestBound ? {} : { associated_data: aad.toString('base64') }),
        context: AadDigest.of(aad).toString('base64'),
      },
    });
    await provider.close();
  });

  it('refuses the digest-bound vector presented with other AAD', async () => {
    const v = file.vectors.find((x) => x.keyType.startsWith('rsa'));
    if (!v) throw new Error('the vector file lost its RSA vector');
    fake.keyTypes = { [v.keyName]: v.keyType };
    fake.decryptPlaintext = AadDigest.bind(hex(v.aad), hex(v.plaintext));
    const provider = createVaultProvider(
      parseVaultConfig({ address: fake.address, 'key-name': v.keyName, token: 'frozen-vector-token' }),
      createLogger({ level: 'silent', name: 'vectors' }),
    ).transit;
    await expect(provider.unwrap(hex(v.wrapped), { aad: Buffer.from('other data'), signal })).rejects.toMatchObject({
      errorClass: 'corrupt-ciphertext',
      message: 'Vault decrypt: the wrapped key belongs to other data (AAD digest mismatch)',
    });
    await provider.close();
  });
});
