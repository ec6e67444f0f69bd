import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { StandInFixture } from './support/stand-in.js';

interface Vector {
  version: string;
  plaintext: string;
  aad: string;
  wrapped: string;
}
const file = JSON.parse(readFileSync(new URL('./vectors/wrap-0x01.json', import.meta.url), 'utf8')) as {
  standInKey: { name: string; uid: string; materials: string[] };
  vectors: Vector[];
};
const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const signal = new AbortController().signal;

/**
 * Bytes @k8s-kms/gcp 0.1.0 wrote, read forever. The stand-in holds the same key (its uid and
 * version materials are in the file), so the provider's framing and the AAD it binds (the version
 * name, a NUL, core's AAD) are checked by a real Decrypt: a change to either fails here. The
 * stand-in's ciphertext format must stay as it is for that (test/stand-in/keys.ts).
 */
describe('frozen Cloud KMS wrap vectors (format 0x01)', () => {
  let fx: StandInFixture;
  beforeAll(async () => {
    fx = await StandInFixture.start();
    fx.standIn.importKey(file.standInKey.name, hex(file.standInKey.uid), file.standInKey.materials.map(hex));
  });
  afterAll(async () => fx.stop());

  it.each(file.vectors.map((v) => [v.version, v] as const))('reads bytes written by 0.1.0 under %s', async (version, v) => {
    const provider = await fx.provider(file.standInKey.name);
    const wrapped = hex(v.wrapped);
    expect([wrapped[0], wrapped.readUInt16BE(1), wrapped.subarray(3, 3 + Buffer.byteLength(version)).toString()]).toEqual([
      0x01,
      Buffer.byteLength(version),
      version,
    ]);
    expect(await provider.unwrap(wrapped, { aad: hex(v.aad), signal })).toEqual(hex(v.plaintext));
    // Another AAD does not read them.
    await expect(provider.unwrap(wrapped, { aad: Buffer.from('other'), signal })).rejects.toMatchObject({
      errorClass: 'corrupt-ciphertext',
    });
    await provider.close?.();
  });
});
