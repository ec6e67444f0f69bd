import { needs } from './errors.js';
import { MAX_KEY_ID_BYTES } from './key-id.js';

/**
 * The contract kube-apiserver enforces on a KMS v2 plugin, enforced here before any answer leaves
 * (and on requests before any work starts), so no backend can break it. Limits cited from
 * k8s.io/apiserver's KMS v2 envelope transformer.
 */
export const Limits = {
  /** kube-apiserver rejects a key_id over 1 KiB. */
  keyIdBytes: MAX_KEY_ID_BYTES,
  /** kube-apiserver rejects a v2 ciphertext over 1 KiB. */
  ciphertextBytes: 1024,
  /** kube-apiserver rejects annotations over 32 KiB in total (keys plus values). */
  annotationsBytes: 32 * 1024,
  /**
   * Largest plaintext accepted. kube-apiserver sends 32-byte seeds (v2) or DEKs (v1); 512 bytes
   * leaves room for every backend's overhead under the 1 KiB ciphertext limit.
   */
  plaintextBytes: 512,
  /** Largest v1beta1 ciphertext accepted (kube-apiserver frames it with a 16-bit length). */
  v1CiphertextBytes: 0xffff,
} as const;

/** kube-apiserver's check (IsFullyQualifiedDomainName): ≥ 2 DNS-1123 labels, ≤ 253 chars. */
const FQDN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$/;

export function isFqdn(name: string): boolean {
  return FQDN.test(name);
}

export function checkKeyId(keyId: string, errorClass: 'internal' | 'invalid-input' = 'internal'): void {
  needs(keyId.length > 0, errorClass, 'key_id is empty');
  needs(Buffer.byteLength(keyId) <= Limits.keyIdBytes, errorClass, `key_id exceeds ${Limits.keyIdBytes} bytes`);
}

export function checkAnnotations(annotations: Readonly<Record<string, Uint8Array>>, errorClass: 'internal' | 'invalid-input'): void {
  let total = 0;
  for (const [key, value] of Object.entries(annotations)) {
    needs(isFqdn(key), errorClass, `annotation key "${key.slice(0, 64)}" is not a fully qualified domain name`);
    total += Buffer.byteLength(key) + value.length;
  }
  needs(total <= Limits.annotationsBytes, errorClass, `annotations exceed ${Limits.annotationsBytes} bytes in total`);
}

/** Checks on what kube-apiserver sends. Failures are invalid-input (INVALID_ARGUMENT). */
export const Requests = {
  plaintext(plaintext: Uint8Array): void {
    needs(plaintext.length > 0, 'invalid-input', 'plaintext is empty');
    needs(plaintext.length <= Limits.plaintextBytes, 'invalid-input', `plaintext exceeds ${Limits.plaintextBytes} bytes`);
  },
  v2Decrypt(ciphertext: Uint8Array, keyId: string, annotations: Readonly<Record<string, Uint8Array>>): void {
    needs(ciphertext.length > 0, 'invalid-input', 'ciphertext is empty');
    needs(ciphertext.length <= Limits.ciphertextBytes, 'invalid-input', `ciphertext exceeds ${Limits.ciphertextBytes} bytes`);
    checkKeyId(keyId, 'invalid-input');
    checkAnnotations(annotations, 'invalid-input');
  },
  v1Decrypt(ciphertext: Uint8Array): void {
    needs(ciphertext.length > 0, 'invalid-input', 'ciphertext is empty');
    needs(ciphertext.length <= Limits.v1CiphertextBytes, 'invalid-input', `ciphertext exceeds ${Limits.v1CiphertextBytes} bytes`);
  },
};

/** Checks on what leaves for kube-apiserver. A failure is a bug or a misbehaving backend: internal. */
export function checkEncryptResponse(
  resp: { ciphertext: Uint8Array; keyId: string; annotations: Readonly<Record<string, Uint8Array>> },
  statusKeyId: string,
): void {
  needs(resp.ciphertext.length > 0, 'internal', 'refusing to return an empty ciphertext');
  needs(
    resp.ciphertext.length <= Limits.ciphertextBytes,
    'internal',
    `refusing to return a ciphertext over ${Limits.ciphertextBytes} bytes (${resp.ciphertext.length}); the backend's wrapped keys are too large for direct mode`,
  );
  checkKeyId(resp.keyId);
  needs(resp.keyId === statusKeyId, 'internal', "refusing to return a key_id that differs from Status's");
  checkAnnotations(resp.annotations, 'internal');
}
