import type { KeyManagementServiceClient, protos } from '@google-cloud/kms';
import {
  KmsError,
  type CallOptions,
  type KeyProvider,
  type KeyVersion,
  type ProviderDescription,
  type WrapOptions,
  type WrapWithKeyOptions,
} from '@k8s-kms/core';
import { wrappedKeyFraming } from '@k8s-kms/core/kit';
import { crc32c, sameChecksum } from './crc32c.js';
import { fromGcpError } from './errors.js';

export interface GcpKmsProviderOptions {
  readonly client: KeyManagementServiceClient;
  /** projects/P/locations/L/keyRings/R/cryptoKeys/K: its primary version encrypts. */
  readonly key: string;
  /** Older crypto keys whose data must stay readable. */
  readonly decryptKeys?: readonly string[];
  /** Sent as x-goog-user-project: the project billed for quota. */
  readonly quotaProject?: string;
  /** Non-secret facts for the start-up line (endpoint, auth method). */
  readonly facts?: ProviderDescription;
}

/** What wrap returns: 0x01 ‖ u16 length ‖ the CryptoKeyVersion's name ‖ Cloud KMS ciphertext (test/vectors keep it readable). */
const FRAMING = wrappedKeyFraming({ what: 'Cloud KMS wrapped key', format: 0x01, lengthBytes: 2 });
const VERSION = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/\d+$/;
/** The official client's own retries are off: core's remote call policy is the one retry layer. */
const NO_SDK_RETRY = { retry: { retryCodes: [] }, timeout: 60_000 };

/**
 * Google Cloud KMS behind core's contract. currentKey is GetCryptoKey (metadata, no crypto
 * call): the primary version's name and create time are the key version id, so rotation (a
 * schedule, `versions create --primary`, UpdateCryptoKeyPrimaryVersion) changes the key_id.
 * Wrap is Encrypt under exactly that version, the AAD (and the version's name, see boundAad)
 * as additional_authenticated_data; unwrap
 * is Decrypt on the crypto key the data names (Cloud KMS finds the version), refused before the
 * call for a key that is neither --key nor a --decrypt-key. Every CRC32C field Google documents is
 * sent and checked both ways; a mismatch is damage in transit and retried, never returned.
 */
export class GcpKmsProvider implements KeyProvider {
  readonly kind = 'gcp-kms';
  private readonly readable: ReadonlySet<string>;

  constructor(private readonly opts: GcpKmsProviderOptions) {
    this.readable = new Set([opts.key, ...(opts.decryptKeys ?? [])]);
  }

  describe(): ProviderDescription {
    return { key: this.opts.key, decryptKeys: this.opts.decryptKeys ?? [], ...this.opts.facts };
  }

  async currentKey({ signal }: CallOptions): Promise<KeyVersion> {
    const key = await this.call<protos.google.cloud.kms.v1.ICryptoKey>('GetCryptoKey', { name: this.opts.key }, signal);
    const purpose = String(key.purpose ?? 'CRYPTO_KEY_PURPOSE_UNSPECIFIED');
    const primary = key.primary;
    if (purpose !== 'ENCRYPT_DECRYPT')
      return { id: `${this.opts.key}#${purpose}`, unusableReason: `key purpose is ${purpose}, not ENCRYPT_DECRYPT` };
    if (!primary?.name) return { id: `${this.opts.key}#no-primary`, unusableReason: 'key has no primary version' };
    // Version numbers are never reused within a key, and keys are never deleted: the name is
    // unique; the create time is added so that the id stays unique if that ever changes.
    const created = primary.createTime ? `${String(primary.createTime.seconds ?? 0)}.${primary.createTime.nanos ?? 0}` : '';
    const id = `${primary.name}@${created}`;
    const state = String(primary.state ?? 'CRYPTO_KEY_VERSION_STATE_UNSPECIFIED');
    return state === 'ENABLED' ? { id } : { id, unusableReason: `primary version ${versionNumber(primary.name)} is ${state}` };
  }

  async wrap(plaintext: Uint8Array, { key, aad, signal }: WrapWithKeyOptions): Promise<Uint8Array> {
    const version = key.id.slice(0, key.id.lastIndexOf('@'));
    if (!VERSION.test(version)) throw new KmsError('internal', `Cloud KMS: key version id ${key.id} names no CryptoKeyVersion`);
    const bound = boundAad(version, aad);
    const out = await this.call<protos.google.cloud.kms.v1.IEncryptResponse>(
      'Encrypt',
      {
        name: version,
        plaintext,
        additionalAuthenticatedData: bound,
        plaintextCrc32c: { value: crc32c(plaintext) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(bound) },
      },
      signal,
    );
    const ciphertext = out.ciphertext ? Buffer.from(out.ciphertext as Uint8Array) : undefined;
    if (!ciphertext?.length) throw new KmsError('internal', 'Cloud KMS Encrypt returned no ciphertext');
    if (!out.verifiedPlaintextCrc32c || !out.verifiedAdditionalAuthenticatedDataCrc32c) {
      throw new KmsError('unavailable', 'Cloud KMS Encrypt: the service did not verify the request checksums (damaged in transit?)');
    }
    if (!sameChecksum(out.ciphertextCrc32c, crc32c(ciphertext))) {
      throw new KmsError('unavailable', 'Cloud KMS Encrypt: the ciphertext does not match its ciphertext_crc32c (damaged in transit)');
    }
    if (out.name !== version) throw new KmsError('internal', `Cloud KMS Encrypt used ${out.name ?? 'no version'}, not ${version}`);
    return FRAMING.encode({ keyRef: version, blob: ciphertext });
  }

  async unwrap(wrapped: Uint8Array, { aad, signal }: WrapOptions): Promise<Uint8Array> {
    const { keyRef, blob } = FRAMING.decode(wrapped);
    const version = keyRef.toString('utf8');
    const cryptoKey = VERSION.exec(version)?.[1];
    if (!cryptoKey) throw new KmsError('corrupt-ciphertext', 'Cloud KMS wrapped key names no CryptoKeyVersion');
    if (!this.readable.has(cryptoKey)) {
      throw new KmsError(
        'user-induced',
        `data was encrypted under ${cryptoKey}, which is not --key; list it with --decrypt-key to read it`,
      );
    }
    const bound = boundAad(version, aad);
    const out = await this.call<protos.google.cloud.kms.v1.IDecryptResponse>(
      'Decrypt',
      {
        name: cryptoKey,
        ciphertext: blob,
        additionalAuthenticatedData: bound,
        ciphertextCrc32c: { value: crc32c(blob) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(bound) },
      },
      signal,
      version,
    );
    // A view of the answer's bytes (no copy), so that a damaged one is zeroed where it lies.
    const bytes = out.plaintext as Uint8Array | null | undefined;
    const plaintext = bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : undefined;
    if (!plaintext?.length) throw new KmsError('internal', 'Cloud KMS Decrypt returned no plaintext');
    if (!sameChecksum(out.plaintextCrc32c, crc32c(plaintext))) {
      plaintext.fill(0);
      throw new KmsError('unavailable', 'Cloud KMS Decrypt: the plaintext does not match its plaintext_crc32c (damaged in transit)');
    }
    return plaintext;
  }

  async close(): Promise<void> {
    await this.opts.client.close();
  }

  /**
   * One Cloud KMS call, cancelled when `signal` aborts, its failure classified; a user-induced
   * failure of Decrypt names the key version the data is under (`version`). It goes through the
   * client's method table (innerApiCalls) rather than its public methods: those drop the
   * promise's cancel() and, with GOOGLE_SDK_NODE_LOGGING set, log each request whole (plaintext
   * data keys included).
   */
  private async call<T>(
    method: 'GetCryptoKey' | 'Encrypt' | 'Decrypt',
    request: { readonly name: string; readonly [field: string]: unknown },
    signal: AbortSignal,
    version?: string,
  ): Promise<T> {
    signal.throwIfAborted();
    const client = this.opts.client;
    let cancel: (() => void) | undefined;
    const abort = (): void => cancel?.();
    signal.addEventListener('abort', abort, { once: true });
    try {
      await client.initialize();
      signal.throwIfAborted();
      const rpc = client.innerApiCalls[method.charAt(0).toLowerCase() + method.slice(1)] as (
        req: object,
        options: object,
      ) => Promise<[T]> & { cancel?: () => void };
      // The headers the public methods add: the routing parameter Cloud KMS routes by (all three
      // route by name), and the quota project.
      const headers: Record<string, string> = {
        'x-goog-request-params': `name=${encodeURIComponent(request.name)}`,
        ...(this.opts.quotaProject ? { 'x-goog-user-project': this.opts.quotaProject } : {}),
      };
      const pending = rpc(request, { ...NO_SDK_RETRY, otherArgs: { headers } });
      cancel = pending.cancel;
      const [answer] = await pending;
      return answer;
    } catch (err) {
      const failure = fromGcpError(method, err);
      if (version && failure.errorClass === 'user-induced' && !failure.message.includes(version)) {
        throw new KmsError(failure.errorClass, `${failure.message} (the data is under ${version})`, { cause: err });
      }
      throw failure;
    } finally {
      signal.removeEventListener('abort', abort);
    }
  }
}

function boundAad(version: string, aad: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(version, 'utf8'), Buffer.of(0), aad]);
}

function versionNumber(name: string): string {
  return name.slice(name.lastIndexOf('/') + 1);
}
