import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { KeyType } from './stand-in/index.js';
import { StandInFixture } from './support/stand-in.js';

interface Vector {
  readonly kty: KeyType;
  readonly keyName: string;
  readonly version: string;
  readonly aad: string;
  readonly plaintext: string;
  readonly wrapped: string;
}
const FILE = JSON.parse(readFileSync(new URL('./vectors/wrap-0x01.json', import.meta.url), 'utf8')) as {
  rsaPrivateKey: string;
  aesKey: string;
  vectors: Vector[];
};

/** Wrapped keys the released format wrote stay readable: the stand-ins are given the vectors' keys, under the same versions. */
describe('Key Vault wrapped key format 0x01 vectors', () => {
  const fixtures = new Map<KeyType, StandInFixture>();
  beforeAll(async () => {
    fixtures.set('RSA', await StandInFixture.start('vault'));
    fixtures.set('oct-HSM', await StandInFixture.start('managedhsm'));
    for (const v of FILE.vectors) {
      const fx = fixtures.get(v.kty)!;
      if (fx.standIn.keys.secrets().length) continue;
      fx.standIn.keys.importVersion(
        v.keyName,
        v.kty,
        v.version,
        v.kty === 'RSA' ? { rsaPrivatePem: FILE.rsaPrivateKey } : { aes: Buffer.from(FILE.aesKey, 'hex') },
      );
    }
  });
  afterAll(async () => Promise.all([...fixtures.values()].map((f) => f.stop())));

  it.each(FILE.vectors.map((v, i) => [i, v] as const))('vector %d unwraps to its plaintext, and not with other AAD', async (_i, v) => {
    const fx = fixtures.get(v.kty)!;
    const provider = await fx.provider(v.keyName);
    const signal = new AbortController().signal;
    const wrapped = Buffer.from(v.wrapped, 'base64');
    expect(wrapped[0]).toBe(0x01);
    expect(wrapped[1]).toBe(v.kty === 'RSA' ? 0x01 : 0x02);
    expect(await provider.unwrap(wrapped, { aad: Buffer.from(v.aad, 'base64'), signal })).toEqual(Buffer.from(v.plaintext, 'base64'));
    await expect(provider.unwrap(wrapped, { aad: Buffer.from('other'), signal })).rejects.toMatchObject({
      errorClass: 'corrupt-ciphertext',
    });
  });
});
