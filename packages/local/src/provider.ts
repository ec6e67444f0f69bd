import { stat } from 'node:fs/promises';
import {
  KmsError,
  type CallOptions,
  type KeyProvider,
  type KeyVersion,
  type ProviderDescription,
  type WrapOptions,
  type WrapWithKeyOptions,
} from '@k8s-kms/core';
import { openAes256Gcm, sealAes256Gcm, wrappedKeyFraming } from '@k8s-kms/core/kit';
import { KeyFileError, readKeyring, type KeyringKey } from './keyring.js';

/** What wrap returns: 0x01 ‖ u8 key id length ‖ key id ‖ AES-256-GCM box (test/vectors keep it readable). */
const FRAMING = wrappedKeyFraming({ what: 'local wrapped key', format: 0x01, lengthBytes: 1 });
const LABEL = Buffer.from('k8s-kms/local-provider/1\0', 'utf8');

/**
 * The `local` backend: AES-256-GCM under the newest key of a keyring file; every key version
 * decrypts. The file is re-read when it changes, so `kms-plugin-local rotate` takes effect at
 * the next refresh without a restart.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local';
  private keys: KeyringKey[] = [];
  private loadedStamp = '';

  private constructor(private readonly path: string) {}

  /**
   * Open the keyring at `path` (it must exist and be 0600). Fails with a {@link KeyFileError}
   * naming the file and the cause (`code` ENOENT when it does not exist).
   */
  static async open(path: string): Promise<LocalKeyProvider> {
    await readKeyring(path);
    const provider = new LocalKeyProvider(path);
    await provider.reload();
    return provider;
  }

  describe(): ProviderDescription {
    return { keyFile: this.path, keyVersions: this.keys.length };
  }

  async currentKey(_opts: CallOptions): Promise<KeyVersion> {
    await this.reload();
    return { id: this.newest().id };
  }

  async wrap(plaintext: Uint8Array, opts: WrapWithKeyOptions): Promise<Uint8Array> {
    const key = this.keys.find((k) => k.id === opts.key.id);
    if (!key) throw new KmsError('internal', 'the key version to wrap under is no longer in the keyring');
    const id = Buffer.from(key.id, 'ascii');
    return FRAMING.encode({ keyRef: id, blob: sealAes256Gcm(key.key, plaintext, aad(id, opts.aad)) });
  }

  async unwrap(wrapped: Uint8Array, opts: WrapOptions): Promise<Uint8Array> {
    const { keyRef: id, blob } = FRAMING.decode(wrapped);
    let key = this.keys.find((k) => id.equals(Buffer.from(k.id, 'ascii')));
    if (!key) {
      await this.reload().catch(() => undefined); // a key added by another replica's rotate
      key = this.keys.find((k) => id.equals(Buffer.from(k.id, 'ascii')));
    }
    // Not "corrupt": with several control-plane nodes, this node's key file may not have the
    // rotated version yet. FAILED_PRECONDITION says so, and is never remembered as a bad KEK.
    if (!key) {
      throw new KmsError(
        'user-induced',
        `local wrapped key names a key version the key file ${this.path} does not hold: copy the rotated key file to this node`,
      );
    }
    return openAes256Gcm(key.key, blob, aad(id, opts.aad), 'local wrapped key');
  }

  private newest(): KeyringKey {
    const key = this.keys.at(-1);
    if (!key) throw new KmsError('user-induced', 'keyring holds no keys');
    return key;
  }

  private async reload(): Promise<void> {
    try {
      const info = await stat(this.path);
      const stamp = `${info.ino}:${info.size}:${info.mtimeMs}:${info.mode}`;
      if (stamp === this.loadedStamp) return;
      this.keys = await readKeyring(this.path);
      this.loadedStamp = stamp;
    } catch (err) {
      const message =
        err instanceof KeyFileError
          ? err.message
          : `key file ${this.path} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
      throw new KmsError('user-induced', message, { cause: err });
    }
  }
}

function aad(id: Buffer, callerAad: Uint8Array): Buffer {
  return Buffer.concat([LABEL, id, Buffer.of(0), callerAad]);
}
