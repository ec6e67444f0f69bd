import { describe, expect, it } from '@jest/globals';
import { KmsError } from '@k8s-kms/core';
import { fromVaultError } from '../src/errors.js';
import { VaultCallError } from '../src/vault-http.js';

const answer = (status: number, ...errors: string[]) => new VaultCallError('transit/decrypt/k', status, errors, undefined);
const transport = (code?: string) => new VaultCallError('transit/decrypt/k', undefined, [], code);

describe('fromVaultError: Vault answers to error classes', () => {
  it.each([
    ['decrypt', answer(400, 'cipher: message authentication failed'), 'corrupt-ciphertext'],
    ['decrypt', answer(400, 'invalid ciphertext: no prefix'), 'corrupt-ciphertext'],
    ['decrypt', answer(400, 'invalid ciphertext: version is too new'), 'corrupt-ciphertext'],
    ['decrypt', answer(500, 'failed to RSA decrypt the ciphertext: crypto/rsa: decryption error'), 'corrupt-ciphertext'],
    ['encrypt', answer(500, 'internal error'), 'unavailable'],
    ['decrypt', answer(400, 'ciphertext or signature version is disallowed by policy (too old)'), 'user-induced'],
    ['decrypt', answer(400, 'encryption key not found'), 'user-induced'],
    ['decrypt', answer(403, 'permission denied'), 'user-induced'],
    ['read key', answer(404), 'user-induced'],
    ['decrypt', answer(429, 'request path "transit/decrypt/k": rate limit quota exceeded'), 'throttled'],
    ['decrypt', answer(503, 'Vault is sealed'), 'unavailable'],
    ['decrypt', answer(412, 'required index state not present'), 'unavailable'],
    ['decrypt', answer(502), 'unavailable'],
    ['decrypt', answer(400, 'role "unsealed-keys" not found'), 'user-induced'],
    ['decrypt', transport('ECONNREFUSED'), 'unavailable'],
    ['decrypt', transport('ECONNABORTED'), 'unavailable'],
    ['decrypt', transport('ENETDOWN'), 'unavailable'],
    ['decrypt', transport('HPE_INVALID_CONSTANT'), 'unavailable'],
    ['decrypt', transport('DEPTH_ZERO_SELF_SIGNED_CERT'), 'user-induced'],
    ['decrypt', transport('ERR_TLS_CERT_ALTNAME_INVALID'), 'user-induced'],
    ['decrypt', transport(), 'internal'],
  ] as const)('%s %o -> %s', (operation, err, cls) => {
    const mapped = fromVaultError(operation, err);
    expect(mapped).toBeInstanceOf(KmsError);
    expect(mapped.errorClass).toBe(cls);
    expect(mapped.message).toContain('transit/decrypt/k');
  });

  it('retries what may pass (throttled, unavailable) and nothing else', () => {
    expect(fromVaultError('decrypt', answer(503)).retryable).toBe(true);
    expect(fromVaultError('decrypt', answer(429)).retryable).toBe(true);
    expect(fromVaultError('decrypt', answer(403)).retryable).toBe(false);
    expect(fromVaultError('decrypt', answer(400, 'cipher: message authentication failed')).retryable).toBe(false);
  });

  it('gives a timeout of the caller as unavailable, and anything unknown as internal with its name only', () => {
    expect(fromVaultError('decrypt', new DOMException('late', 'TimeoutError')).errorClass).toBe('unavailable');
    const odd = fromVaultError('decrypt', new TypeError('secret-looking text s.abcdef'));
    expect(odd.errorClass).toBe('internal');
    expect(odd.message).not.toContain('s.abcdef');
  });
});
