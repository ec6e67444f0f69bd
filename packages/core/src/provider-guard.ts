import { KmsError, needs } from './errors.js';
import { KEY_BYTES } from './envelope/aead.js';
import type { KeyVersion } from './provider.js';

/**
 * Every check on what a provider returns, in one place (as the AWS Encryption SDK's `onEncrypt`
 * checks `_onEncrypt`): a backend cannot hand core a key version, a wrapped key or a KEK that
 * would break kube-apiserver's contract or strand data, because core refuses it here, as
 * `internal` (a bug in the backend), before it is used. Each postcondition has a test of the same
 * name in test/provider-guard.test.ts.
 */

/** Longest key version id core accepts (it is hashed, but must stay a reasonable string). */
const MAX_VERSION_ID = 4096;
/** Longest unusable reason: it becomes part of Status healthz and /healthz. */
const MAX_REASON = 512;
/** Largest wrapped key: the v1beta1 local-KEK framing carries its length in 16 bits. */
export const MAX_WRAPPED_BYTES = 0xffff;

/* Postcondition: kind is a short lowercase name (it is hashed into every key_id, so it never changes). */
export function checkKind(kind: string): string {
  needs(/^[a-z0-9][a-z0-9-]{0,62}$/.test(kind), 'internal', 'provider kind must be a short lowercase name');
  return kind;
}

/* Postcondition: currentKey returns a non-empty version id and, if any, a short unusable reason. */
export function checkKeyVersion(kind: string, version: KeyVersion): KeyVersion {
  needs(typeof version?.id === 'string' && version.id.length > 0, 'internal', `${kind} provider returned an empty key version id`);
  needs(version.id.length <= MAX_VERSION_ID, 'internal', `${kind} provider returned a key version id over ${MAX_VERSION_ID} characters`);
  if (version.unusableReason !== undefined) {
    needs(
      typeof version.unusableReason === 'string' && version.unusableReason.length > 0 && version.unusableReason.length <= MAX_REASON,
      'internal',
      `${kind} provider returned an unusable reason that is empty or over ${MAX_REASON} characters`,
    );
  }
  return version;
}

/* Postcondition: wrap returns a non-empty wrapped key of at most 64 KiB. */
export function checkWrapped(kind: string, wrapped: Uint8Array): Buffer {
  needs(wrapped instanceof Uint8Array && wrapped.length > 0, 'internal', `${kind} provider returned an empty wrapped key`);
  needs(wrapped.length <= MAX_WRAPPED_BYTES, 'internal', `${kind} provider returned a wrapped key over ${MAX_WRAPPED_BYTES} bytes`);
  return Buffer.from(wrapped);
}

/* Postcondition: an unwrapped local KEK is exactly 32 bytes (else the wrapped KEK was not one). */
export function checkUnwrappedKek(unwrapped: Uint8Array): Buffer {
  const kek = Buffer.from(unwrapped);
  if (kek.length !== KEY_BYTES) {
    throw new KmsError('corrupt-ciphertext', `unwrapped local KEK has ${kek.length} bytes, expected ${KEY_BYTES}`);
  }
  return kek;
}

/* Postcondition: unwrap of a data key returns a non-empty plaintext. */
export function checkUnwrapped(kind: string, plaintext: Uint8Array): Buffer {
  needs(plaintext instanceof Uint8Array && plaintext.length > 0, 'internal', `${kind} provider returned an empty plaintext`);
  return Buffer.from(plaintext);
}

/**
 * Postcondition: one key_id never stands for two key versions (kube-apiserver would then try the
 * wrong key for old data). Remembers which version each key_id was derived from.
 */
export class KeyIdRegistry {
  private readonly seen = new Map<string, string>();

  remember(keyId: string, versionId: string): void {
    const known = this.seen.get(keyId);
    if (known !== undefined && known !== versionId) {
      throw new KmsError('internal', 'key_id collision: two backend key versions map to one key_id');
    }
    this.seen.set(keyId, versionId);
  }
}
