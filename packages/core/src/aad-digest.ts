import { createHash, timingSafeEqual } from 'node:crypto';
import { KmsError } from './errors.js';

/**
 * Binding the AAD to a wrapped key when the backend's wrap takes none (Vault transit RSA keys,
 * Azure Key Vault RSA wrapKey): SHA-256 of the AAD travels inside the wrapped plaintext, and is
 * checked, in constant time, on unwrap. A wrapped key moved to other data (another purpose,
 * format or key_id) then fails as corrupt instead of opening.
 */
export const AadDigest = {
  /** Bytes the digest adds to the plaintext. */
  bytes: 32,

  /** SHA-256 of the AAD (also usable as a key-derivation context). */
  of(aad: Uint8Array): Buffer {
    return createHash('sha256').update(aad).digest();
  },

  /** What to wrap: digest ‖ plaintext. */
  bind(aad: Uint8Array, plaintext: Uint8Array): Buffer {
    return Buffer.concat([AadDigest.of(aad), plaintext]);
  },

  /** The plaintext of what `bind` made, or `corrupt-ciphertext` if it was bound to other AAD. */
  open(aad: Uint8Array, unwrapped: Uint8Array, what: string): Buffer {
    const buf = Buffer.from(unwrapped);
    const digest = AadDigest.of(aad);
    if (buf.length <= digest.length || !timingSafeEqual(buf.subarray(0, digest.length), digest)) {
      throw new KmsError('corrupt-ciphertext', `${what}: the wrapped key belongs to other data (AAD digest mismatch)`);
    }
    return buf.subarray(digest.length);
  },
};
