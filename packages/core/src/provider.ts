/**
 * The provider contract: what a backend (AWS KMS, Vault transit, a key file...) implements.
 * It knows nothing of gRPC, protobuf or Kubernetes; core wraps every provider in the remote
 * call policy and the contract guard, so a backend cannot break kube-apiserver's limits.
 *
 * Rules the type system cannot say:
 * - Throw only {@link KmsError}s (map the SDK's errors in the backend's `errors.ts`);
 *   anything else is reported as `internal`.
 * - No message ever carries plaintext, key material, tokens or credentials.
 * - `currentKey` must be cheap (a metadata call, never a paid crypto operation): it runs
 *   every refresh interval.
 * - Honour `signal`: abandon the call when it aborts.
 */

/** Passed to every provider call. The signal aborts at the call's deadline or on shutdown. */
export interface CallOptions {
  readonly signal: AbortSignal;
}

/** The backend key version that encrypts now, as seen by {@link KeyProvider.currentKey}. */
export interface KeyVersion {
  /**
   * A stable identity of this key version, different for every distinct version the backend
   * ever had, including a key deleted and re-created under the same name (add a creation
   * time or a unique id where names can be reused). Not secret; core hashes it into the
   * key_id, so it never reaches kube-apiserver or etcd.
   */
  readonly id: string;
  /** Set when the key exists but must not encrypt (disabled, pending deletion): a short reason. */
  readonly unusableReason?: string;
}

/** Options of wrap and unwrap. */
export interface WrapOptions extends CallOptions {
  /**
   * Additional authenticated data: the provider binds it to the wrapped bytes (AES-GCM AAD,
   * AWS encryption context, Vault associated_data) so unwrap fails if it differs.
   */
  readonly aad: Uint8Array;
}

/** Options of wrap: which key version to use (the one {@link KeyProvider.currentKey} returned). */
export interface WrapWithKeyOptions extends WrapOptions {
  readonly key: KeyVersion;
}

/** What {@link KeyProvider.describe} returns: non-secret facts, e.g. `{ key: 'alias/k8s', region: 'eu-west-1' }`. */
export type ProviderDescription = Readonly<Record<string, string | number | boolean | readonly string[] | undefined>>;

/** What a backend implements. */
export interface KeyProvider {
  /**
   * Short backend name, e.g. "local", "aws-kms". It is hashed into every key_id kube-apiserver
   * stores with each object, so **never change a released backend's kind**: a new kind means new
   * key_ids, and kube-apiserver re-seeds as after a rotation. The kinds of all six backends are fixed
   * in docs/backend-guide.md (local, aws-kms, vault-transit, gcp-kms, azure-keyvault, akeyless).
   * Also in logs and as a metric label.
   */
  readonly kind: string;
  /** The key version new data is wrapped under. Cheap; called by the background refresher. */
  currentKey(opts: CallOptions): Promise<KeyVersion>;
  /**
   * Encrypt a short secret (a local KEK, or a DEK in direct mode) under `opts.key`.
   * The result is opaque to core and must carry whatever unwrap needs to find the key
   * version again (so old data decrypts after a rotation).
   */
  wrap(plaintext: Uint8Array, opts: WrapWithKeyOptions): Promise<Uint8Array>;
  /** Decrypt what wrap returned. Fails with `corrupt-ciphertext` on tampering or an AAD mismatch. */
  unwrap(wrapped: Uint8Array, opts: WrapOptions): Promise<Uint8Array>;
  /**
   * What this provider talks to, for the start-up log line: the key name or ARN, region, address,
   * auth method. Never a secret: no token, key material or credential.
   */
  describe?(): ProviderDescription | Promise<ProviderDescription>;
  /** Release clients and timers. */
  close?(): Promise<void>;
}
