import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KmsError } from '../errors.js';

/** AES-256-GCM with a random 96-bit nonce and a 128-bit tag (NIST SP 800-38D). */
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
export const KEY_BYTES = 32;
/** Bytes a sealed box adds to its plaintext. */
export const SEAL_OVERHEAD = NONCE_BYTES + TAG_BYTES;

/** Seal `plaintext` under a 256-bit key: returns nonce ‖ ciphertext ‖ tag. */
export function sealAes256Gcm(key: Uint8Array, plaintext: Uint8Array, aad: Uint8Array): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/**
 * Open a box made by {@link sealAes256Gcm}. Any change to the box, the key or the AAD fails with
 * `corrupt-ciphertext`; no partial plaintext is ever returned.
 */
export function openAes256Gcm(key: Uint8Array, box: Uint8Array, aad: Uint8Array, what: string): Buffer {
  if (box.length < SEAL_OVERHEAD) {
    throw new KmsError('corrupt-ciphertext', `${what} is truncated (${box.length} bytes)`);
  }
  const nonce = box.subarray(0, NONCE_BYTES);
  const tag = box.subarray(box.length - TAG_BYTES);
  const body = box.subarray(NONCE_BYTES, box.length - TAG_BYTES);
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch (err) {
    throw new KmsError(
      'corrupt-ciphertext',
      `${what} failed authentication: it was altered, or its key_id or annotations differ from the ones Encrypt returned`,
      { cause: err },
    );
  }
}
