import { chmod, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { createKeyringIfMissing, KeyFileError, LocalKeyProvider, readKeyring, rotateKeyring } from '../src/index.js';

describe('the local keyring file', () => {
  let path: string;
  beforeEach(async () => {
    path = join(await mkdtemp(join(tmpdir(), 'k8s-kms-keyring-')), 'keyring.json');
  });

  it('is created with mode 0600 and one fresh 256-bit key, and never overwritten', async () => {
    expect(await createKeyringIfMissing(path)).toBe(true);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const [key, ...rest] = await readKeyring(path);
    expect(rest).toHaveLength(0);
    expect(key?.key).toHaveLength(32);
    const before = await readFile(path, 'utf8');
    expect(await createKeyringIfMissing(path)).toBe(false);
    expect(await readFile(path, 'utf8')).toBe(before);
  });

  it('gets a new newest version on rotate, keeping the old ones, still 0600', async () => {
    await createKeyringIfMissing(path);
    const added = await rotateKeyring(path);
    expect(added.version).toBe(2);
    const keys = await readKeyring(path);
    expect(keys.map((k) => k.version)).toEqual([1, 2]);
    expect(keys[0]?.id).not.toBe(keys[1]?.id);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('never loses a version to a concurrent rotation: the second waits its turn or fails, naming the lock', async () => {
    await createKeyringIfMissing(path);
    const results = await Promise.allSettled([rotateKeyring(path), rotateKeyring(path), rotateKeyring(path)]);
    const added = results.filter((r) => r.status === 'fulfilled').length;
    for (const r of results) if (r.status === 'rejected') expect(String(r.reason)).toContain('is being rotated by another process');
    expect((await readKeyring(path)).map((k) => k.version)).toEqual(Array.from({ length: added + 1 }, (_, i) => i + 1));
  });

  it('is not created in a directory that does not exist, which stays absent', async () => {
    const typo = join(path, '..', 'typo', 'keyring.json');
    await expect(createKeyringIfMissing(typo)).rejects.toThrow(`cannot create key file ${typo}: its directory`);
    await expect(stat(join(path, '..', 'typo'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('is created by exactly one of several concurrent starters', async () => {
    const created = await Promise.all(Array.from({ length: 5 }, () => createKeyringIfMissing(path)));
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await readKeyring(path)).toHaveLength(1);
  });

  it.each([0o640, 0o604, 0o660, 0o644])('is refused when its mode is %o, naming the file', async (mode) => {
    await createKeyringIfMissing(path);
    await chmod(path, mode);
    await expect(readKeyring(path)).rejects.toThrow(
      `key file ${path} has mode 0${mode.toString(8)}; it must not be accessible to group or others (chmod 600)`,
    );
  });

  it('names the file and the cause when it is missing or malformed, without echoing its content', async () => {
    await expect(readKeyring(path)).rejects.toMatchObject({ message: `key file ${path} does not exist`, code: 'ENOENT' });
    await writeFile(path, '{"format":"k8s-kms-local-keyring/v1","keys":[{"key":"c2VjcmV0LWtleS1ieXRlcw=="}]}', { mode: 0o600 });
    const err = await readKeyring(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KeyFileError);
    expect((err as Error).message).toBe(`key file ${path} is not a k8s-kms-local-keyring/v1 keyring`);
  });

  it("refuses data under a key version its file does not hold as FAILED_PRECONDITION (another node's rotation), not as corrupt", async () => {
    await createKeyringIfMissing(path);
    const otherPath = join(path, '..', 'other.json');
    await createKeyringIfMissing(otherPath);
    const signal = new AbortController().signal;
    const other = await LocalKeyProvider.open(otherPath);
    const wrapped = await other.wrap(Buffer.alloc(32, 1), { key: await other.currentKey({ signal }), aad: Buffer.from('a'), signal });
    const mine = await LocalKeyProvider.open(path);
    await expect(mine.unwrap(wrapped, { aad: Buffer.from('a'), signal })).rejects.toMatchObject({
      errorClass: 'user-induced',
      message: expect.stringContaining('copy the rotated key file to this node') as unknown as string,
    });
  });

  it('lets the provider pick up a rotation at its next currentKey, and unwrap under old versions', async () => {
    await createKeyringIfMissing(path);
    const provider = await LocalKeyProvider.open(path);
    const signal = new AbortController().signal;
    const v1 = await provider.currentKey({ signal });
    const aad = Buffer.from('aad');
    const wrapped = await provider.wrap(Buffer.alloc(32, 1), { key: v1, aad, signal });
    await rotateKeyring(path);
    const v2 = await provider.currentKey({ signal });
    expect(v2.id).not.toBe(v1.id);
    expect(await provider.unwrap(wrapped, { aad, signal })).toEqual(Buffer.alloc(32, 1));
    await expect(provider.unwrap(wrapped, { aad: Buffer.from('other'), signal })).rejects.toMatchObject({
      errorClass: 'corrupt-ciphertext',
    });
  });
});
