import { isAbsolute } from 'node:path';

/** Where the gRPC server listens: a socket file, or a Linux abstract socket (no file). */
export type ListenAddress = { readonly kind: 'path'; readonly path: string } | { readonly kind: 'abstract'; readonly name: string };

/**
 * Parse `unix:///absolute/path.sock` or `unix:///@name` (abstract namespace), the two forms
 * kube-apiserver's EncryptionConfiguration `endpoint` accepts.
 */
export function parseListenAddress(value: string, flag = '--listen-addr'): ListenAddress {
  const rest = value.startsWith('unix://') ? value.slice('unix://'.length) : undefined;
  if (rest === undefined || !rest.startsWith('/')) {
    throw new Error(`${flag} must look like unix:///path/to/socket.sock or unix:///@abstract-name (got "${value}")`);
  }
  if (rest.startsWith('/@')) {
    const name = rest.slice(2);
    if (!name) throw new Error(`${flag}: the abstract socket name after "@" is empty`);
    return { kind: 'abstract', name };
  }
  if (!isAbsolute(rest) || rest.endsWith('/')) throw new Error(`${flag} must name an absolute socket file path (got "${value}")`);
  return { kind: 'path', path: rest };
}

/** The address grpc-js binds or dials (Node names an abstract socket with a leading NUL). */
export function grpcTarget(addr: ListenAddress): string {
  return addr.kind === 'path' ? `unix://${addr.path}` : `unix:\0${addr.name}`;
}

/** The address as users write it. */
export function formatListenAddress(addr: ListenAddress): string {
  return addr.kind === 'path' ? `unix://${addr.path}` : `unix:///@${addr.name}`;
}
