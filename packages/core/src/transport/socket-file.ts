import { chmod, lstat, mkdir, realpath, stat, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';
import { ConfigError } from '../config-error.js';

/**
 * Make the socket path ready to bind: create its directory, check that nobody but this user (or
 * root) can replace what is in it, remove a stale socket left by a crash, refuse to replace
 * anything that is not a socket, and refuse to steal a socket another live process serves.
 * Returns the warning to log when a shared directory was allowed (`allowShared`).
 */
export async function prepareSocketPath(path: string, opts: { allowShared?: boolean } = {}): Promise<string | undefined> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  let warning: string | undefined;
  try {
    await checkSocketDirectory(dirname(path));
  } catch (err) {
    if (!opts.allowShared || !ConfigError.is(err)) throw err;
    warning = `${err.message.replace(/^--listen-addr: /, '')} (allowed by --allow-shared-socket-dir)`;
  }
  let info;
  try {
    info = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return warning;
    throw new Error(`cannot inspect socket path ${path}: ${(err as Error).message}`);
  }
  if (!info.isSocket()) {
    throw new Error(`socket path ${path} exists and is not a socket; refusing to replace it`);
  }
  if (await isServed(path)) {
    throw new Error(`socket ${path} is in use by another running process`);
  }
  await unlink(path);
  return warning;
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;

/**
 * Refuse a socket directory that another user could change. Whoever can write the directory can
 * move the socket aside and bind an impostor in its place, which kube-apiserver would then send
 * every plaintext data key to. So the directory must belong to this user or root and be writable
 * by nobody else; each directory above it must belong to this user or root and be writable by
 * nobody else unless it is sticky (like /tmp: others may add entries there, but not rename or
 * remove ours). Both the path as written (kube-apiserver resolves it at every connect, so a
 * symlink in it must sit in a safe directory too) and the directory it resolves to are checked.
 */
export async function checkSocketDirectory(dir: string, uid = process.geteuid?.() ?? 0): Promise<void> {
  const trusted = (owner: number): boolean => owner === uid || owner === 0;
  const mode = (m: number): string => `0${(m & 0o7777).toString(8)}`;
  const real = await realpath(dir);
  for (const socketDir of new Set([dir, real])) {
    const info = await stat(socketDir);
    if (!trusted(info.uid)) {
      throw new ConfigError(
        `--listen-addr: socket directory ${socketDir} belongs to uid ${info.uid}, not to this plugin's uid ${uid} or root: that user could replace the socket with an impostor`,
      );
    }
    if (info.mode & GROUP_OR_OTHER_WRITE) {
      throw new ConfigError(
        `--listen-addr: socket directory ${socketDir} has mode ${mode(info.mode)}: others can write it and replace the socket with an impostor (chmod go-w ${socketDir}, or use a directory of the plugin's own)`,
      );
    }
    for (let parent = dirname(socketDir), child = socketDir; parent !== child; child = parent, parent = dirname(parent)) {
      const p = await lstat(parent);
      if (p.isSymbolicLink()) continue; // a link cannot be changed, only replaced: its own directory is checked next
      const writable = (p.mode & GROUP_OR_OTHER_WRITE) !== 0 && (p.mode & STICKY) === 0;
      if (!trusted(p.uid) || writable) {
        throw new ConfigError(
          `--listen-addr: directory ${parent} above the socket belongs to uid ${p.uid} with mode ${mode(p.mode)}: another user could replace ${child}, and the socket with it`,
        );
      }
    }
  }
}

/** The identity of the socket file we bound, so shutdown never removes a successor's socket. */
export async function socketIdentity(path: string): Promise<string> {
  const s = await lstat(path);
  return `${s.dev}:${s.ino}`;
}

/** Why the socket at `path` is no longer the one bound as `identity`, or undefined while it is. */
export async function socketLost(path: string, identity: string): Promise<string | undefined> {
  try {
    const s = await lstat(path);
    return s.isSocket() && `${s.dev}:${s.ino}` === identity ? undefined : `socket file ${path} was replaced`;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `socket file ${path} was removed` : `socket file ${path} cannot be checked (${code ?? 'error'})`;
  }
}

/**
 * Remove our socket file on shutdown, if it is still there and still ours: during a rolling
 * replacement the next plugin may already have bound a new socket at the same path.
 */
export async function removeSocketFile(path: string, identity: string): Promise<void> {
  try {
    const s = await lstat(path);
    if (s.isSocket() && `${s.dev}:${s.ino}` === identity) await unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Give the socket its configured mode (0600 by default: only the owner, kube-apiserver's user). */
export async function setSocketMode(path: string, mode: number): Promise<void> {
  await chmod(path, mode);
}

function isServed(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (served: boolean): void => {
      socket.destroy();
      resolve(served);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1000, () => done(false));
  });
}
