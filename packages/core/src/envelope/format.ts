import { KmsError } from '../errors.js';

/**
 * The byte formats k8s-kms writes. The first byte of every ciphertext names its format, so
 * a plugin can always read what an older one wrote (frozen vectors in test/ guard this).
 * The table is documented in the core README; change both together, and never reuse a value.
 */
export const Format = {
  /** KMS v2, local KEK: 0x01 ‖ nonce(12) ‖ AES-256-GCM(seed) ‖ tag(16); wrapped KEK in an annotation. */
  v2Local: 0x01,
  /** KMS v2, direct: 0x02 ‖ provider-wrapped seed. */
  v2Direct: 0x02,
  /** KMS v1beta1, local KEK: 0x11 ‖ u16 len ‖ wrapped KEK ‖ nonce(12) ‖ AES-256-GCM(DEK) ‖ tag(16). */
  v1Local: 0x11,
  /** KMS v1beta1, direct: 0x12 ‖ provider-wrapped DEK. */
  v1Direct: 0x12,
} as const;
export type FormatByte = (typeof Format)[keyof typeof Format];

/**
 * The v2 annotation carrying the wrapped local KEK. kube-apiserver requires annotation keys
 * to be fully qualified domain names; k8s-kms.dev is the project's domain.
 */
export const KEK_ANNOTATION = 'local-kek.k8s-kms.dev';
/** First byte of the annotation value: its own format version. */
export const KEK_ANNOTATION_V1 = 0x01;

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

/**
 * Additional authenticated data. Each binds a fixed label and the format byte, and for v2 the
 * key_id, so a ciphertext cannot be replayed under another key_id or read as another format.
 */
export const Aad = {
  /** Binds a wrapped local KEK to its purpose (a provider never unwraps it as a DEK). */
  localKek: utf8('k8s-kms/local-kek/1'),
  v2: (format: FormatByte, keyId: string): Buffer => Buffer.concat([utf8('k8s-kms/v2'), Buffer.of(0, format), utf8(keyId)]),
  v1: (format: FormatByte): Buffer => Buffer.concat([utf8('k8s-kms/v1beta1'), Buffer.of(0, format)]),
};

/** Prefix a body with its format byte. */
export function withFormat(format: FormatByte, ...parts: Uint8Array[]): Buffer {
  return Buffer.concat([Buffer.of(format), ...parts]);
}

/** The format byte of a ciphertext; names the cause when it is unknown. */
export function formatOf(ciphertext: Uint8Array, allowed: readonly FormatByte[], api: string): FormatByte {
  const first = ciphertext[0];
  const found = allowed.find((f) => f === first);
  if (found === undefined) {
    const shown = first === undefined ? 'none' : `0x${first.toString(16).padStart(2, '0')}`;
    throw new KmsError('corrupt-ciphertext', `${api} ciphertext has unknown format byte ${shown}`);
  }
  return found;
}

export function encodeKekAnnotation(wrappedKek: Uint8Array): Buffer {
  return Buffer.concat([Buffer.of(KEK_ANNOTATION_V1), wrappedKek]);
}

export function decodeKekAnnotation(value: Uint8Array | undefined): Buffer {
  if (value === undefined) {
    throw new KmsError('corrupt-ciphertext', `annotation ${KEK_ANNOTATION} is missing`);
  }
  if (value.length < 2 || value[0] !== KEK_ANNOTATION_V1) {
    throw new KmsError('corrupt-ciphertext', `annotation ${KEK_ANNOTATION} has an unknown format`);
  }
  return Buffer.from(value.subarray(1));
}

/** v1beta1 local-KEK blob: 0x11 ‖ u16 big-endian length ‖ wrapped KEK ‖ sealed DEK. */
export function encodeV1Local(wrappedKek: Uint8Array, sealed: Uint8Array): Buffer {
  if (wrappedKek.length > 0xffff) throw new KmsError('internal', 'wrapped local KEK exceeds 64 KiB');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrappedKek.length);
  return withFormat(Format.v1Local, len, wrappedKek, sealed);
}

export function decodeV1Local(blob: Uint8Array): { wrappedKek: Buffer; sealed: Buffer } {
  const buf = Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  if (buf.length < 3) throw new KmsError('corrupt-ciphertext', 'v1beta1 ciphertext is truncated');
  const len = buf.readUInt16BE(1);
  if (len === 0 || buf.length < 3 + len) {
    throw new KmsError('corrupt-ciphertext', 'v1beta1 ciphertext has an invalid wrapped-KEK length');
  }
  return { wrappedKek: buf.subarray(3, 3 + len), sealed: buf.subarray(3 + len) };
}
