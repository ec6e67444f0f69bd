import type { Backend } from '../backend.js';
import { KmsError } from '../errors.js';
import type { KeyState } from '../key-state.js';
import { openAes256Gcm, sealAes256Gcm } from './aead.js';
import {
  Aad,
  Format,
  KEK_ANNOTATION,
  decodeKekAnnotation,
  decodeV1Local,
  encodeKekAnnotation,
  encodeV1Local,
  formatOf,
  withFormat,
} from './format.js';
import type { KekCache } from './kek-cache.js';
import type { LocalKekManager } from './local-kek.js';

/**
 * `local`: a local KEK, wrapped once by the backend, seals each DEK/seed with AES-256-GCM (one
 * backend call per KEK, not per request). `direct`: every Encrypt and uncached Decrypt is one
 * backend call, for policies that forbid a key outside the KMS.
 */
export type KekMode = 'local' | 'direct';

export interface V2Ciphertext {
  readonly ciphertext: Buffer;
  readonly annotations: Record<string, Buffer>;
}

/**
 * Envelope encryption of kube-apiserver's data keys. Writes in the configured mode; reads every
 * format, so switching modes never strands data. Stateless on disk: all a replica needs to decrypt
 * travels with the ciphertext.
 */
export class Envelope {
  constructor(
    private readonly mode: KekMode,
    private readonly backend: Backend,
    private readonly keks: LocalKekManager,
    private readonly cache: KekCache,
  ) {}

  async encryptV2(plaintext: Uint8Array, key: KeyState, signal: AbortSignal): Promise<V2Ciphertext> {
    if (this.mode === 'direct') {
      const wrapped = await this.backend.wrap(plaintext, key.version, Aad.v2(Format.v2Direct, key.keyId), signal);
      return { ciphertext: withFormat(Format.v2Direct, wrapped), annotations: {} };
    }
    const kek = await this.keks.take(key, signal);
    const sealed = sealAes256Gcm(kek.kek, plaintext, Aad.v2(Format.v2Local, key.keyId));
    return {
      ciphertext: withFormat(Format.v2Local, sealed),
      annotations: { [KEK_ANNOTATION]: encodeKekAnnotation(kek.wrapped) },
    };
  }

  async decryptV2(
    ciphertext: Uint8Array,
    keyId: string,
    annotations: Readonly<Record<string, Uint8Array>>,
    signal: AbortSignal,
  ): Promise<Buffer> {
    const format = formatOf(ciphertext, [Format.v2Local, Format.v2Direct], 'v2');
    const body = ciphertext.subarray(1);
    if (format === Format.v2Direct) {
      return this.backend.unwrap(body, Aad.v2(format, keyId), signal);
    }
    const kek = await this.cache.get(decodeKekAnnotation(annotations[KEK_ANNOTATION]), signal);
    return openAes256Gcm(kek, body, Aad.v2(format, keyId), 'v2 ciphertext');
  }

  async encryptV1(plaintext: Uint8Array, key: KeyState, signal: AbortSignal): Promise<Buffer> {
    if (this.mode === 'direct') {
      return withFormat(Format.v1Direct, await this.backend.wrap(plaintext, key.version, Aad.v1(Format.v1Direct), signal));
    }
    const kek = await this.keks.take(key, signal);
    return encodeV1Local(kek.wrapped, sealAes256Gcm(kek.kek, plaintext, Aad.v1(Format.v1Local)));
  }

  async decryptV1(ciphertext: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    const format = formatOf(ciphertext, [Format.v1Local, Format.v1Direct], 'v1beta1');
    if (format === Format.v1Direct) {
      return this.backend.unwrap(ciphertext.subarray(1), Aad.v1(format), signal);
    }
    const { wrappedKek, sealed } = decodeV1Local(ciphertext);
    const kek = await this.cache.get(wrappedKek, signal);
    return openAes256Gcm(kek, sealed, Aad.v1(format), 'v1beta1 ciphertext');
  }

  /** Whether an Encrypt under `keyId` could succeed without reaching the backend. */
  canEncryptOffline(keyId: string): boolean {
    return this.mode === 'local' && this.keks.canSealWithoutBackend(keyId);
  }

  /** Forget all key material held in memory (the backend key was revoked). */
  forget(): void {
    this.keks.clear();
    this.cache.clear();
  }
}

/** Thrown where a method needs a key and none is known yet. */
export function noKeyYet(reason: string | undefined): KmsError {
  return new KmsError('unavailable', `no backend key known yet${reason ? `: ${reason}` : ''}`);
}
