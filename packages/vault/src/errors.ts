import { KmsError, type ErrorClass } from '@k8s-kms/core';
import { VaultCallError } from './vault-http.js';

/** Transport error codes that mean "Vault is not reachable now": try again later. */
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_SOCKET_CONNECTION_TIMEOUT',
  'ENETDOWN',
  'EHOSTDOWN',
  'EADDRNOTAVAIL',
  'ERR_NETWORK',
]);

/** TLS failures: a configuration problem (CA, server name, client cert), not an outage. */
const TLS = /CERT|SELF_SIGNED|ALTNAME|UNABLE_TO_(VERIFY|GET)|ERR_TLS|ERR_SSL|EPROTO/;

/** Transit's 400 answers for ciphertext that does not open: tampered, truncated or not ours. */
const CORRUPT = [
  'message authentication failed',
  'invalid ciphertext',
  'could not decode',
  'version is too new',
  'invalid version',
  'unable to decrypt',
  'illegal base64',
  'decryption error',
  'failed to rsa decrypt',
  "missing 'context'",
];

/**
 * Translate a failed Vault call into a KmsError. Vault's own messages are quoted (they name paths
 * and policies, never tokens or payloads); transport errors give only their code.
 */
export function fromVaultError(operation: string, err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  if (!(err instanceof VaultCallError)) {
    const given = (err as { name?: unknown } | null)?.name;
    const name = typeof given === 'string' ? given : typeof err; // DOMException (AbortSignal.timeout) too
    const cls: ErrorClass = name === 'TimeoutError' || name === 'AbortError' ? 'unavailable' : 'internal';
    return new KmsError(cls, `Vault ${operation}: ${name}`, { cause: err });
  }
  const detail = err.errors.join('; ').replace(/\s+/g, ' ').trim().slice(0, 200);
  const where = `Vault ${operation} (${err.path})`;
  if (err.status === undefined) {
    const code = err.code ?? 'request failed';
    // An unparseable answer (a proxy or load balancer in the way): worth another try.
    if (code.startsWith('HPE_')) return new KmsError('unavailable', `${where}: ${code}`);
    if (TLS.test(code)) {
      return new KmsError('user-induced', `${where}: TLS ${code}: check --tls-ca-file / --tls-server-name / the client certificate`);
    }
    return new KmsError(NETWORK.has(code) ? 'unavailable' : 'internal', `${where}: ${code}`);
  }
  const said = `${where}: HTTP ${err.status}${detail ? `: ${detail}` : ''}`;
  const lower = detail.toLowerCase();
  if (err.status === 400 && lower.includes('disallowed by policy')) {
    return new KmsError('user-induced', `${where}: the ciphertext's key version is below the key's min_decryption_version (${detail})`);
  }
  // Transit answers a ciphertext that does not open with 400, or for RSA keys with 500.
  const undecryptable = err.status === 400 || (err.status === 500 && operation === 'decrypt');
  if (undecryptable && CORRUPT.some((text) => lower.includes(text))) return new KmsError('corrupt-ciphertext', said);
  return new KmsError(classOfStatus(err.status), said);
}

function classOfStatus(status: number): ErrorClass {
  if (status === 429) return 'throttled';
  if (status === 412 || status >= 500) return 'unavailable';
  // 400 (e.g. "encryption key not found", an unsupported option), 401/403, 404 (no such mount or
  // key): the plugin's configuration or Vault's policy must change; retrying will not help.
  return 'user-induced';
}

/** Whether Vault refused the token (invalid, expired or revoked): worth one login before giving up. */
export function isPermissionDenied(err: unknown): boolean {
  return err instanceof VaultCallError && (err.status === 403 || err.status === 401);
}
