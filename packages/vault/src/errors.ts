import { KmsError } from '@k8s-kms/core';
import { classifyFailure, transportFailure } from '@k8s-kms/core/kit';
import { VaultCallError } from './vault-http.js';

/** Transit's answers for ciphertext that does not open: tampered, truncated or not ours. */
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
  if (!(err instanceof VaultCallError)) return classifyFailure(`Vault ${operation}`, err);
  const where = `Vault ${operation} (${err.path})`;
  if (err.status === undefined) {
    if (transportFailure(err)?.errorClass === 'user-induced') {
      return new KmsError('user-induced', `${where}: TLS ${err.code}: check --tls-ca-file / --tls-server-name / the client certificate`);
    }
    return classifyFailure(where, err, { name: err.code ?? 'request failed' });
  }
  const said = err.errors.join('; ');
  const lower = said.toLowerCase();
  if (err.status === 400 && lower.includes('disallowed by policy')) {
    return new KmsError(
      'user-induced',
      `${where}: the ciphertext's key version is below the key's min_decryption_version (${said.replace(/\s+/g, ' ').slice(0, 200)})`,
    );
  }
  // Transit answers a ciphertext that does not open with 400, or for RSA keys with 500.
  const undecryptable = err.status === 400 || (err.status === 500 && operation === 'decrypt');
  const corrupt = undecryptable && CORRUPT.some((text) => lower.includes(text));
  return classifyFailure(where, err, { errorClass: corrupt ? 'corrupt-ciphertext' : undefined, httpStatus: err.status, detail: said });
}

/** Whether Vault refused the token (invalid, expired or revoked): worth one login before giving up. */
export function isPermissionDenied(err: unknown): boolean {
  return err instanceof VaultCallError && (err.status === 403 || err.status === 401);
}
