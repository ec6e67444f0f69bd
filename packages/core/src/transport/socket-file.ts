import { chmod, lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

/**
 * Make the socket path ready to bind: create its directory, remove a stale socket left by a crash,
 * refuse to replace anything that is not a socket, and refuse to steal a socket another live
 * process serves.
 */
export async function prepareSocketPath(path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o750 });
  let stat;
  try {
    stat = await lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new Error(`cannot inspect socket path ${path}: ${(err as Error).message}`);
  }
  if (!stat.isSocket()) {
    throw new Error(`socket path ${path} exists and is not a socket; refusing to replace it`);
  }
  if (await isServed(path)) {
    throw new Error(`socket ${path} is in use by another running process`);
  }
  await unlink(path);
}

/** The identity of the socket file we bound, so shutdown never removes a successor's socket. */
export async function socketIdentity(path: string): Promise<string> {
  const s = await lstat(path);
  return `${s.dev}:${s.ino}`;
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
