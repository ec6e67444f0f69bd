import { isAbsolute } from 'node:path';
import { ConfigError } from '../config-error.js';

/** Where the gRPC server listens: a socket file, or a Linux abstract socket (no file). */
export type ListenAddress = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'abstract'; readonly name: string };

/**
 * The longest socket path (or abstract name) a Linux `sockaddr_un` holds: 108 bytes of sun_path,
 * one of them the terminating (or, for an abstract name, leading) NUL. Longer paths are silently
 * truncated by bind(2), so they are refused up front.
 */
export const MAX_SOCKET_PATH_BYTES = 107;

/**
 * Parse `unix:///absolute/path.sock` or `unix:///@name` (abstract namespace), the two forms
 * kube-apiserver's EncryptionConfiguration `endpoint` accepts.
 */
export function parseListenAddress(value: string, flag = '--listen-addr'): ListenAddress {
  const rest = value.startsWith('unix://') ? value.slice('unix://'.length) : undefined;
  if (rest === undefined || !rest.startsWith('/')) {
    throw new ConfigError(`${flag} must look like unix:///path/to/socket.sock or unix:///@abstract-name (got "${value}")`);
  }
  if (rest.startsWith('/@')) {
    const name = rest.slice(2);
    if (!name) throw new ConfigError(`${flag}: the abstract socket name after "@" is empty`);
    checkLength(name, flag, 'abstract socket name');
    return { kind: 'abstract', name };
  }
  if (!isAbsolute(rest) || rest.endsWith('/')) throw new ConfigError(`${flag} must name an absolute socket file path (got "${value}")`);
  checkLength(rest, flag, 'socket path');
  return { kind: 'path', path: rest };
}

function checkLength(path: string, flag: string, what: string): void {
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new ConfigError(
      `${flag}: the ${what} is ${bytes} bytes; a unix socket address holds at most ${MAX_SOCKET_PATH_BYTES} (sun_path): use a shorter path`,
    );
  }
}

/** The address grpc-js binds or dials (Node names an abstract socket with a leading NUL). */
export function grpcTarget(addr: ListenAddress): string {
  return addr.kind === 'path' ? `unix://${addr.path}` : `unix:\0${addr.name}`;
}

/** The address as users write it. */
export function formatListenAddress(addr: ListenAddress): string {
  return addr.kind === 'path' ? `unix://${addr.path}` : `unix:///@${addr.name}`;
}
