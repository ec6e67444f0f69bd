import { randomBytes } from 'node:crypto';
import { KmsError, type CallOptions, type KeyProvider, type KeyVersion, type WrapOptions, type WrapWithKeyOptions } from '@k8s-kms/core';
import { openAes256Gcm, sealAes256Gcm } from '@k8s-kms/core/kit';

/**
 * FakeMemoryProvider: a backend whose keys live in memory, for core's own tests and the
 * kms-plugin-fake binary (core must not depend on a backend package). Rotatable; can report its
 * key unusable. Its wrap layout (u8 key id length ‖ key id ‖ AES-256-GCM box) is in core's frozen
 * ciphertext vectors, so it never changes. The real backends run the same suites against their
 * real emulators or stand-ins.
 */
export class FakeMemoryProvider implements KeyProvider {
  readonly kind = 'fake';
  private readonly keys = new Map<string, Buffer>();
  private current = '';
  unusableReason: string | undefined;

  constructor(seedKey?: { id: string; key: Buffer }) {
    if (seedKey) {
      this.keys.set(seedKey.id, seedKey.key);
      this.current = seedKey.id;
    } else {
      this.rotate();
    }
  }

  rotate(): string {
    this.current = randomBytes(8).toString('hex');
    this.keys.set(this.current, randomBytes(32));
    return this.current;
  }

  async currentKey(_opts: CallOptions): Promise<KeyVersion> {
    return this.unusableReason ? { id: this.current, unusableReason: this.unusableReason } : { id: this.current };
  }

  async wrap(plaintext: Uint8Array, opts: WrapWithKeyOptions): Promise<Uint8Array> {
    const key = this.keys.get(opts.key.id);
    if (!key) throw new KmsError('internal', 'unknown key');
    const id = Buffer.from(opts.key.id, 'utf8');
    return Buffer.concat([Buffer.of(id.length), id, sealAes256Gcm(key, plaintext, opts.aad)]);
  }

  async unwrap(wrapped: Uint8Array, opts: WrapOptions): Promise<Uint8Array> {
    const buf = Buffer.from(wrapped);
    const len = buf[0] ?? 0;
    const key = this.keys.get(buf.subarray(1, 1 + len).toString('utf8'));
    if (!key) throw new KmsError('corrupt-ciphertext', 'wrapped key names an unknown key');
    return openAes256Gcm(key, buf.subarray(1 + len), opts.aad, 'wrapped key');
  }
}
