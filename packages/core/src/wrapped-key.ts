import { KmsError } from './errors.js';

/**
 * The byte layout of what a provider's wrap returns, declared once per backend and shared by all:
 * an optional format byte, optional header bytes (e.g. how the AAD is bound), a length-prefixed
 * reference to the backend key (a key version id, an ARN, a key name), then the backend's own
 * ciphertext. Frozen vectors in each backend's tests read bytes written by every released version.
 */
export interface WrappedKeyLayout {
  /** Names the layout in error messages: "AWS wrapped key". */
  readonly what: string;
  /** The first byte, naming the layout's version; absent for a layout without one. */
  readonly format?: number;
  /** Fixed bytes between the format byte and the key reference (default 0). */
  readonly headerBytes?: number;
  /** Width of the key reference's length prefix, big-endian. */
  readonly lengthBytes: 1 | 2;
}

/** The parts of a wrapped key. */
export interface WrappedKeyParts {
  readonly header: Buffer;
  readonly keyRef: Buffer;
  readonly blob: Buffer;
}

/** A declared layout: encode and decode with the same declaration. */
export interface WrappedKeyFraming {
  readonly layout: WrappedKeyLayout;
  encode(parts: { readonly header?: Uint8Array; readonly keyRef: string | Uint8Array; readonly blob: Uint8Array }): Buffer;
  /** The parts, or `corrupt-ciphertext` naming the layout when the bytes cannot be this layout. */
  decode(wrapped: Uint8Array): WrappedKeyParts;
}

export function wrappedKeyFraming(layout: WrappedKeyLayout): WrappedKeyFraming {
  const formatBytes = layout.format === undefined ? 0 : 1;
  const headerBytes = layout.headerBytes ?? 0;
  const maxRef = layout.lengthBytes === 1 ? 0xff : 0xffff;
  const corrupt = (): KmsError => new KmsError('corrupt-ciphertext', `${layout.what} has an unknown format`);
  return {
    layout,
    encode({ header = Buffer.alloc(0), keyRef, blob }) {
      const ref = typeof keyRef === 'string' ? Buffer.from(keyRef, 'utf8') : Buffer.from(keyRef);
      if (header.length !== headerBytes) throw new KmsError('internal', `${layout.what}: header must be ${headerBytes} bytes`);
      if (ref.length === 0 || ref.length > maxRef) throw new KmsError('internal', `${layout.what}: key reference of ${ref.length} bytes`);
      if (blob.length === 0) throw new KmsError('internal', `${layout.what}: the backend returned no ciphertext`);
      const length = Buffer.alloc(layout.lengthBytes);
      if (layout.lengthBytes === 1) length.writeUInt8(ref.length);
      else length.writeUInt16BE(ref.length);
      return Buffer.concat([layout.format === undefined ? Buffer.alloc(0) : Buffer.of(layout.format), header, length, ref, blob]);
    },
    decode(wrapped) {
      const buf = Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength);
      const at = formatBytes + headerBytes;
      if (buf.length < at + layout.lengthBytes) throw corrupt();
      if (layout.format !== undefined && buf[0] !== layout.format) throw corrupt();
      const refLength = layout.lengthBytes === 1 ? buf.readUInt8(at) : buf.readUInt16BE(at);
      const refStart = at + layout.lengthBytes;
      if (refLength === 0 || buf.length <= refStart + refLength) throw corrupt();
      return {
        header: buf.subarray(formatBytes, at),
        keyRef: buf.subarray(refStart, refStart + refLength),
        blob: buf.subarray(refStart + refLength),
      };
    },
  };
}
