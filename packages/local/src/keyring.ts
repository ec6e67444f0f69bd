import { randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { z } from 'zod';

/** One AES-256 key version of the keyring. */
export interface KeyringKey {
  /** 1, 2, 3...: the highest encrypts. */
  readonly version: number;
  /** Random and never reused, so a re-created key file yields new key_ids. */
  readonly id: string;
  readonly createdAt: string;
  readonly key: Buffer;
}

export const KEYRING_FORMAT = 'k8s-kms-local-keyring/v1';

const fileSchema = z.object({
  format: z.literal(KEYRING_FORMAT),
  keys: z
    .array(
      z.object({
        version: z.number().int().positive(),
        id: z.string().regex(/^[A-Za-z0-9_-]{16,64}$/),
        createdAt: z.string(),
        key: z.string().refine((k) => Buffer.from(k, 'base64').length === 32, 'must be 32 bytes, base64'),
      }),
    )
    .min(1),
});

/** Why a key file cannot be used; the message names the file and the cause, never key bytes. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    message: string,
    /** The errno code behind it (ENOENT: the file does not exist), if any. */
    readonly code?: string,
  ) {
    super(message);
  }
}

/** "EACCES", with who is asking when permission is the cause (the plugin often runs as another uid). */
function describeErrno(err: unknown): { code: string; text: string } {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  const uid = process.geteuid?.();
  return { code, text: code === 'EACCES' || code === 'EPERM' ? `${code} (permission denied to uid ${uid ?? '?'})` : code };
}

/**
 * Read and check the keyring. A file readable or writable by group or others is refused:
 * anyone who reads it can decrypt every Secret.
 */
export async function readKeyring(path: string): Promise<KeyringKey[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    const { code, text } = describeErrno(err);
    throw new KeyFileError(code === 'ENOENT' ? `key file ${path} does not exist` : `key file ${path} cannot be read: ${text}`, code);
  }
  if (!info.isFile()) throw new KeyFileError(`key file ${path} is not a regular file`);
  if ((info.mode & 0o077) !== 0) {
    throw new KeyFileError(
      `key file ${path} has mode 0${(info.mode & 0o777).toString(8)}; it must not be accessible to group or others (chmod 600)`,
    );
  }
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const { code, text: why } = describeErrno(err);
    throw new KeyFileError(`key file ${path} cannot be read: ${why}`, code);
  }
  let parsed;
  try {
    parsed = fileSchema.parse(JSON.parse(text));
  } catch {
    throw new KeyFileError(`key file ${path} is not a ${KEYRING_FORMAT} keyring`);
  }
  const versions = new Set(parsed.keys.map((k) => k.version));
  if (versions.size !== parsed.keys.length) throw new KeyFileError(`key file ${path} repeats a key version`);
  return parsed.keys
    .map((k) => ({ version: k.version, id: k.id, createdAt: k.createdAt, key: Buffer.from(k.key, 'base64') }))
    .sort((a, b) => a.version - b.version);
}

/**
 * Create a keyring with one fresh key, mode 0600, unless the file already exists. Returns true if
 * created. An existing file is left alone without writing anything next to it (its directory may
 * be a read-only mount); the directory must exist, so a mistyped directory fails instead of
 * holding a new root key. Written to a temp file and linked into place, so a replica starting at
 * the same moment never reads a half-written file, and an existing file is never replaced.
 */
export async function createKeyringIfMissing(path: string): Promise<boolean> {
  try {
    await stat(path);
    return false;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KeyFileError(`key file ${path} cannot be read: ${describeErrno(err).text}`, (err as NodeJS.ErrnoException).code);
    }
  }
  try {
    await stat(dirname(path));
  } catch (err) {
    throw new KeyFileError(`cannot create key file ${path}: its directory ${dirname(path)} cannot be used (${describeErrno(err).text})`);
  }
  const tmp = tempPath(path);
  try {
    await writeNew(tmp, [newKey(1)]);
    await link(tmp, path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new KeyFileError(`cannot create key file ${path}: ${describeErrno(err).text}`);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

/**
 * Create a new keyring for `kms-plugin-local init`: its directory too (mode 0700), and never over
 * an existing file.
 */
export async function initKeyring(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new KeyFileError(`cannot create the directory of key file ${path}: ${describeErrno(err).text}`);
  }
  if (!(await createKeyringIfMissing(path))) {
    throw new KeyFileError(`key file ${path} already exists; it was left as it is (add a key version with rotate)`, 'EEXIST');
  }
}

/**
 * Add a new newest key version. Holds `<file>.lock` (exclusive create) so two rotations cannot
 * both read the old file and lose one new version; writes a 0600 temp file, then renames it over.
 */
export async function rotateKeyring(path: string): Promise<KeyringKey> {
  const lock = `${path}.lock`;
  let held;
  try {
    held = await open(lock, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new KeyFileError(
      code === 'EEXIST'
        ? `key file ${path} is being rotated by another process (remove ${lock} if none is)`
        : `cannot lock key file ${path}: ${code ?? 'error'}`,
    );
  }
  const tmp = tempPath(path);
  try {
    const keys = await readKeyring(path);
    const next = newKey((keys.at(-1)?.version ?? 0) + 1);
    await writeNew(tmp, [...keys, next]);
    await rename(tmp, path);
    return next;
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    if (err instanceof KeyFileError) throw err;
    throw new KeyFileError(`cannot rotate key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  } finally {
    await held.close();
    await unlink(lock).catch(() => undefined);
  }
}

function tempPath(path: string): string {
  return join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
}

function newKey(version: number): KeyringKey {
  return { version, id: randomBytes(16).toString('base64url'), createdAt: new Date().toISOString(), key: randomBytes(32) };
}

async function writeNew(path: string, keys: readonly KeyringKey[]): Promise<void> {
  const body = JSON.stringify(
    {
      format: KEYRING_FORMAT,
      keys: keys.map((k) => ({ version: k.version, id: k.id, createdAt: k.createdAt, key: k.key.toString('base64') })),
    },
    null,
    2,
  );
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(`${body}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
