import { readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LocalKeyProvider } from '../src/index.js';

interface Vector {
  keyVersionId: string;
  plaintext: string;
  aad: string;
  wrapped: string;
}
const file = JSON.parse(readFileSync(new URL('./vectors/wrap-0x01.json', import.meta.url), 'utf8')) as {
  keyring: { id: string; key: string };
  vectors: Vector[];
};
const hex = (h: string) => Buffer.from(h, 'hex');
const signal = new AbortController().signal;

describe('frozen local wrap vectors (format 0x01)', () => {
  it.each(file.vectors.map((v) => [v.keyVersionId, v] as const))('unwraps bytes written by 0.1.0 under key %s', async (_id, v) => {
    const path = join(await mkdtemp(join(tmpdir(), 'k8s-kms-vectors-')), 'keyring.json');
    const keyring = {
      format: 'k8s-kms-local-keyring/v1',
      keys: [{ version: 1, id: file.keyring.id, createdAt: '2026-12-01T00:00:00.000Z', key: hex(file.keyring.key).toString('base64') }],
    };
    await writeFile(path, JSON.stringify(keyring), { mode: 0o600 });
    const provider = await LocalKeyProvider.open(path);
    expect((await provider.currentKey({ signal })).id).toBe(v.keyVersionId);
    expect(await provider.unwrap(hex(v.wrapped), { aad: hex(v.aad), signal })).toEqual(hex(v.plaintext));
    // And what it writes now still has that layout: the format byte and the key id up front.
    const fresh = Buffer.from(await provider.wrap(hex(v.plaintext), { key: { id: v.keyVersionId }, aad: hex(v.aad), signal }));
    expect(fresh.subarray(0, 2 + file.keyring.id.length)).toEqual(hex(v.wrapped).subarray(0, 2 + file.keyring.id.length));
  });
});
