import type { TokenCredential } from '@azure/identity';
import {
  CryptographyClient,
  type CryptographyClientOptions,
  type KeyClient,
  type KeyVaultKey,
  type KeyWrapAlgorithm,
} from '@azure/keyvault-keys';
import {
  KmsError,
  type CallOptions,
  type KeyProvider,
  type KeyVersion,
  type ProviderDescription,
  type WrapOptions,
  type WrapWithKeyOptions,
} from '@k8s-kms/core';
import { AadDigest, wrappedKeyFraming } from '@k8s-kms/core/kit';
import { fromAzureError, type KeyVaultOperation } from './errors.js';

export interface AzureKeyVaultProviderOptions {
  /** Reads key metadata (get key, list versions). */
  readonly keys: KeyClient;
  /** The credential the cryptography clients authenticate with (the KeyClient's own). */
  readonly credential: TokenCredential;
  /** Options of every CryptographyClient (retries off, challenge verification). */
  readonly clientOptions?: CryptographyClientOptions;
  /** https://NAME.vault.azure.net or https://NAME.managedhsm.azure.net (an origin, no slash). */
  readonly vaultUrl: string;
  readonly keyName: string;
  /** Pin this version instead of following the current one. */
  readonly keyVersion?: string | undefined;
  /** Older keys of the same vault whose data must stay readable. */
  readonly decryptKeyNames?: readonly string[];
  /** Non-secret facts for the start-up line (auth method, authority). */
  readonly facts?: ProviderDescription;
}

/** Key types whose wrapKey the plugin uses, and the algorithm (with its byte in the wrapped key). */
const ALGORITHMS: Readonly<Record<string, { readonly algorithm: KeyWrapAlgorithm; readonly byte: number }>> = {
  RSA: { algorithm: 'RSA-OAEP-256', byte: 0x01 },
  'RSA-HSM': { algorithm: 'RSA-OAEP-256', byte: 0x01 },
  'oct-HSM': { algorithm: 'A256KW', byte: 0x02 },
  oct: { algorithm: 'A256KW', byte: 0x02 },
};
const BY_BYTE: ReadonlyMap<number, KeyWrapAlgorithm> = new Map([
  [0x01, 'RSA-OAEP-256'],
  [0x02, 'A256KW'],
]);

/**
 * What wrap returns: 0x01 ‖ algorithm byte ‖ u8 length ‖ "name/version" ‖ Key Vault's wrapped
 * bytes, whose plaintext is SHA-256(aad) ‖ the KEK (Key Vault's wrapKey takes no AAD). The vault
 * is not recorded: it is --vault-url (test/vectors keep this readable).
 */
const FRAMING = wrappedKeyFraming({ what: 'Key Vault wrapped key', format: 0x01, headerBytes: 1, lengthBytes: 1 });
const KEY_REF = /^([0-9a-zA-Z-]{1,127})\/([0-9a-fA-F]{32})$/;
/** Cryptography clients kept (one per key version met; each new one costs a challenge round trip). */
const MAX_CLIENTS = 64;

/**
 * Azure Key Vault (and Managed HSM) behind core's contract. currentKey is get key (metadata, no
 * crypto call): the current version, unless --key-version pins one, is the key version id, so a
 * rotation (manual, or by the key's rotation policy) changes the key_id. Wrap is wrapKey under
 * exactly that version, RSA-OAEP-256 for RSA keys and A256KW for oct-HSM keys, the AAD bound by
 * its digest; unwrap is unwrapKey under the version the data names, refused before the call for
 * a key that is neither --key-name nor a --decrypt-key-name.
 *
 * Every operation goes to the service (the cryptography clients are given the key's identity
 * only, never its public material): Key Vault is the authority on whether a version is enabled
 * and permitted, and it lets an expired key unwrap, which the SDK's client-side checks would not.
 */
export class AzureKeyVaultProvider implements KeyProvider {
  readonly kind = 'azure-keyvault';
  private readonly readable: ReadonlySet<string>;
  /** The key type of each version currentKey reported, for wrap. */
  private readonly keyTypes = new Map<string, string>();
  private readonly clients = new Map<string, CryptographyClient>();

  constructor(private readonly opts: AzureKeyVaultProviderOptions) {
    this.readable = new Set([opts.keyName, ...(opts.decryptKeyNames ?? [])]);
  }

  describe(): ProviderDescription {
    return {
      vaultUrl: this.opts.vaultUrl,
      keyName: this.opts.keyName,
      keyVersion: this.opts.keyVersion ?? 'current',
      decryptKeyNames: this.opts.decryptKeyNames ?? [],
      ...this.opts.facts,
    };
  }

  async currentKey({ signal }: CallOptions): Promise<KeyVersion> {
    const { keyName, keyVersion } = this.opts;
    let key: KeyVaultKey;
    try {
      key = await this.opts.keys.getKey(keyName, { ...(keyVersion ? { version: keyVersion } : {}), abortSignal: signal });
    } catch (err) {
      // Key Vault refuses to read a disabled version (403 KeyDisabled): the versions list says which it is.
      if (isDisabled(err)) return this.disabledVersion(keyVersion ?? (await this.newestVersion(signal)));
      throw fromAzureError('get key', err);
    }
    const version = key.properties.version;
    if (!version) throw new KmsError('internal', `Key Vault get key (${keyName}) answered without a version`);
    const id = `${keyName}/${version}`;
    const type = String(key.keyType ?? 'unknown');
    this.keyTypes.set(id, type);
    const reason = unusableReason(key, type, version);
    return reason ? { id, unusableReason: reason } : { id };
  }

  async wrap(plaintext: Uint8Array, { key, aad, signal }: WrapWithKeyOptions): Promise<Uint8Array> {
    const ref = KEY_REF.exec(key.id);
    const type = this.keyTypes.get(key.id);
    const alg = type ? ALGORITHMS[type] : undefined;
    if (!ref || !alg) throw new KmsError('internal', `Key Vault: key version id ${key.id} was not reported by this provider`);
    const client = this.client(ref[1]!, ref[2]!);
    const bound = AadDigest.bind(aad, plaintext);
    try {
      const out = await this.run('wrapKey', () => client.wrapKey(alg.algorithm, bound, { abortSignal: signal }));
      if (!out.result?.length) throw new KmsError('internal', 'Key Vault wrapKey returned no wrapped key');
      return FRAMING.encode({ header: Buffer.of(alg.byte), keyRef: key.id, blob: Buffer.from(out.result) });
    } finally {
      bound.fill(0);
    }
  }

  async unwrap(wrapped: Uint8Array, { aad, signal }: WrapOptions): Promise<Uint8Array> {
    const { header, keyRef, blob } = FRAMING.decode(wrapped);
    const algorithm = BY_BYTE.get(header[0]!);
    const ref = KEY_REF.exec(keyRef.toString('utf8'));
    if (!algorithm || !ref) throw new KmsError('corrupt-ciphertext', 'Key Vault wrapped key: unknown algorithm or key reference');
    const [, name, version] = ref as unknown as [string, string, string];
    if (!this.readable.has(name)) {
      throw new KmsError(
        'user-induced',
        `data was wrapped by key ${name}, which is not --key-name; list it with --decrypt-key-name to read it`,
      );
    }
    const client = this.client(name, version);
    const out = await this.run(
      'unwrapKey',
      () => client.unwrapKey(algorithm, blob, { abortSignal: signal }),
      `key ${name} version ${version}`,
    );
    if (!out.result?.length) throw new KmsError('internal', 'Key Vault unwrapKey returned no key');
    const unwrapped = Buffer.from(out.result.buffer, out.result.byteOffset, out.result.byteLength);
    try {
      return AadDigest.open(aad, unwrapped, 'Key Vault unwrapKey'); // a copy: the answer's bytes are zeroed
    } finally {
      unwrapped.fill(0);
    }
  }

  async close(): Promise<void> {
    this.clients.clear();
  }

  /**
   * The cryptography client of one key version, made once. It is given the key's identity only,
   * so that it never reads the key (a request saved) nor checks it locally (see the class).
   */
  private client(name: string, version: string): CryptographyClient {
    const ref = `${name}/${version}`;
    let client = this.clients.get(ref);
    if (!client) {
      const id = `${this.opts.vaultUrl}/keys/${ref}`;
      const identity: KeyVaultKey = { id, name, properties: { id, name, version, vaultUrl: this.opts.vaultUrl } };
      client = new CryptographyClient(identity, this.opts.credential, this.opts.clientOptions);
      if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!);
      this.clients.set(ref, client);
    }
    return client;
  }

  /** One call, its failure classified; a user-induced failure names the key version the data is under (`under`). */
  private async run<T>(operation: KeyVaultOperation, call: () => Promise<T>, under?: string): Promise<T> {
    try {
      return await call();
    } catch (err) {
      const failure = fromAzureError(operation, err);
      if (under && failure.errorClass === 'user-induced') {
        throw new KmsError(failure.errorClass, `${failure.message} (the data is under ${under})`, { cause: err });
      }
      throw failure;
    }
  }

  /** The newest version of --key-name, by creation time, from the versions list (which also lists disabled ones). */
  private async newestVersion(signal: AbortSignal): Promise<string> {
    let newest: { version: string; created: number } | undefined;
    try {
      for await (const p of this.opts.keys.listPropertiesOfKeyVersions(this.opts.keyName, { abortSignal: signal })) {
        const created = p.createdOn?.getTime() ?? 0;
        if (p.version && (!newest || created > newest.created)) newest = { version: p.version, created };
      }
    } catch (err) {
      throw fromAzureError('list key versions', err);
    }
    if (!newest) throw new KmsError('user-induced', `Key Vault: key ${this.opts.keyName} has no versions`);
    return newest.version;
  }

  private disabledVersion(version: string): KeyVersion {
    return { id: `${this.opts.keyName}/${version}`, unusableReason: `version ${version} is disabled` };
  }
}

/** Why a key version must not wrap, or undefined. */
function unusableReason(key: KeyVaultKey, type: string, version: string): string | undefined {
  const { enabled, notBefore, expiresOn } = key.properties;
  const now = Date.now();
  if (!ALGORITHMS[type]) return `key type ${type} cannot wrap (RSA, RSA-HSM or oct-HSM)`;
  if (enabled === false) return `version ${version} is disabled`;
  if (notBefore && notBefore.getTime() > now) return `version ${version} is not valid before ${notBefore.toISOString()}`;
  if (expiresOn && expiresOn.getTime() <= now) return `version ${version} expired at ${expiresOn.toISOString()}`;
  const ops = key.keyOperations;
  if (ops && !(ops.includes('wrapKey') && ops.includes('unwrapKey'))) {
    return `version ${version} does not permit wrapKey and unwrapKey (key_ops ${ops.join(',') || 'none'})`;
  }
  return undefined;
}

function isDisabled(err: unknown): boolean {
  const e = err as { statusCode?: unknown; details?: { error?: { innerError?: { code?: unknown } } } } | null;
  return e?.statusCode === 403 && e.details?.error?.innerError?.code === 'KeyDisabled';
}
