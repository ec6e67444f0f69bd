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
import type { VaultAuth } from './auth.js';
import { fromVaultError } from './errors.js';
import type { VaultHttp } from './vault-http.js';

export interface VaultTransitProviderOptions {
  readonly http: VaultHttp;
  readonly auth: VaultAuth;
  /** Mount path of the transit engine, e.g. "transit". */
  readonly mount: string;
  /** The transit key that encrypts. */
  readonly keyName: string;
  /** Older transit keys (same mount) whose data must stay readable. */
  readonly decryptKeyNames?: readonly string[];
  /**
   * How a key version is told apart from a key deleted and re-created under the same name:
   * "hmac" adds the HMAC of a fixed input under that version (random per key, so never repeated);
   * "creation-time" relies on the version's creation second alone.
   */
  readonly fingerprint?: 'hmac' | 'creation-time';
}

/** Key types whose encrypt/decrypt take `associated_data` (AEADs). */
const AEAD_TYPES = new Set(['aes128-gcm96', 'aes256-gcm96', 'chacha20-poly1305', 'xchacha20-poly1305']);
/** Key types that encrypt at all. */
const ENCRYPTING_TYPES = new Set([...AEAD_TYPES, 'rsa-2048', 'rsa-3072', 'rsa-4096']);

/**
 * What wrap returns: 0x01 ‖ binding byte ‖ u8 key name length ‖ key name ‖ transit's "vault:vN:…"
 * (test/vectors keep it readable).
 */
const FRAMING = wrappedKeyFraming({ what: 'Vault wrapped key', format: 0x01, headerBytes: 1, lengthBytes: 1 });
/**
 * How the AAD is bound, chosen by the key's type (associated_data is checked against it on unwrap,
 * so the byte cannot be changed to skip a check). Every call also sends SHA-256(aad) as the
 * derivation `context`: derived keys need one, the others ignore it.
 */
const BIND_ASSOCIATED_DATA = 0x01; // transit associated_data (AEAD key types)
const BIND_DIGEST_PREFIX = 0x02; // SHA-256(aad) prepended to the plaintext (RSA key types)

const FINGERPRINT_INPUT = Buffer.from('k8s-kms key version fingerprint v1').toString('base64');

interface KeyFacts {
  readonly type: string;
}

/**
 * Vault / OpenBao transit behind core's contract. currentKey reads `<mount>/keys/<key>` (metadata,
 * plus one HMAC with --key-fingerprint hmac); wrap is `<mount>/encrypt/<key>` pinned to that
 * version, unwrap `<mount>/decrypt/<key>`, with the AAD bound by associated_data (or the best the
 * key type allows). The key name travels with the data, so --decrypt-key-name keeps old data
 * readable after moving to a new key.
 */
export class VaultTransitProvider implements KeyProvider {
  readonly kind = 'vault-transit';
  /** Type and derivation of every key seen, for wrap (the current key) and unwrap (any readable key). */
  private readonly facts = new Map<string, KeyFacts>();
  private readonly readable: ReadonlySet<string>;

  constructor(private readonly opts: VaultTransitProviderOptions) {
    this.readable = new Set([opts.keyName, ...(opts.decryptKeyNames ?? [])]);
  }

  describe(): ProviderDescription {
    return {
      address: this.opts.http.opts.address,
      namespace: this.opts.http.opts.namespace,
      mount: this.opts.mount,
      keyName: this.opts.keyName,
      decryptKeyNames: this.opts.decryptKeyNames ?? [],
      authMethod: this.opts.auth.method,
      keyFingerprint: this.opts.fingerprint ?? 'hmac',
    };
  }

  async currentKey({ signal }: CallOptions): Promise<KeyVersion> {
    const { keyName, mount } = this.opts;
    const data = await this.call('read key', signal, (token) => this.opts.http.read(`${mount}/keys/${keyName}`, { token, signal }));
    const info = (data.data ?? {}) as {
      type?: string;
      latest_version?: number;
      keys?: Record<string, number | { creation_time?: string }>;
      supports_encryption?: boolean;
      supports_decryption?: boolean;
    };
    const latest = info.latest_version;
    if (typeof latest !== 'number' || latest < 1)
      throw new KmsError('internal', `Vault read key (${mount}/keys/${keyName}) gave no latest_version`);
    const type = info.type ?? 'unknown';
    this.facts.set(keyName, { type });
    const entry = info.keys?.[String(latest)];
    const created = typeof entry === 'number' ? String(entry) : (entry?.creation_time ?? '');
    let id = `${this.opts.http.opts.namespace ?? ''}|${mount}|${keyName}#v${latest}@${created}`;
    if (this.opts.fingerprint !== 'creation-time') id += `#${await this.fingerprint(latest, signal)}`;
    if (!ENCRYPTING_TYPES.has(type) || info.supports_encryption === false || info.supports_decryption === false) {
      return { id, unusableReason: `transit key type ${type} cannot encrypt and decrypt` };
    }
    return { id };
  }

  async wrap(plaintext: Uint8Array, { key, aad, signal }: WrapWithKeyOptions): Promise<Uint8Array> {
    const { keyName, mount } = this.opts;
    const version = /#v(\d+)@/.exec(key.id)?.[1];
    const facts = this.facts.get(keyName);
    if (!version || !facts) throw new KmsError('internal', 'wrap called with a key version this provider did not report');
    const binding = bindingOf(facts);
    const digest = AadDigest.of(aad);
    const body: Record<string, unknown> = {
      plaintext: Buffer.from(binding === BIND_DIGEST_PREFIX ? AadDigest.bind(aad, plaintext) : plaintext).toString('base64'),
      key_version: Number(version),
      ...bindingFields(binding, aad, digest),
    };
    const out = await this.call('encrypt', signal, (token) => this.opts.http.write(`${mount}/encrypt/${keyName}`, body, { token, signal }));
    const ciphertext = (out.data as { ciphertext?: string } | undefined)?.ciphertext;
    if (!ciphertext) throw new KmsError('internal', 'Vault encrypt returned no ciphertext');
    return FRAMING.encode({ header: Buffer.of(binding), keyRef: keyName, blob: Buffer.from(ciphertext, 'utf8') });
  }

  async unwrap(wrapped: Uint8Array, { aad, signal }: WrapOptions): Promise<Uint8Array> {
    const { keyName, binding, ciphertext } = decode(wrapped);
    if (!this.readable.has(keyName)) {
      throw new KmsError('user-induced', `data was encrypted under transit key ${keyName}; list it with --decrypt-key-name to read it`);
    }
    // associated_data only exists for AEAD keys. The digest binding is safe on any type (an AEAD
    // ciphertext sealed with associated_data never opens without it), so a key re-created with
    // another type between two refreshes cannot strand data wrapped in that window.
    if (binding === BIND_ASSOCIATED_DATA && !(await this.isAead(keyName, signal))) {
      throw new KmsError('corrupt-ciphertext', 'Vault wrapped key: its binding does not match the key type');
    }
    const body = { ciphertext, ...bindingFields(binding, aad, AadDigest.of(aad)) };
    const path = `${this.opts.mount}/decrypt/${keyName}`;
    const out = await this.call('decrypt', signal, (token) => this.opts.http.write(path, body, { token, signal }));
    const encoded = (out.data as { plaintext?: string } | undefined)?.plaintext;
    if (typeof encoded !== 'string') throw new KmsError('internal', 'Vault decrypt returned no plaintext');
    const plaintext = Buffer.from(encoded, 'base64');
    return binding === BIND_DIGEST_PREFIX ? AadDigest.open(aad, plaintext, 'Vault decrypt') : plaintext;
  }

  async close(): Promise<void> {
    this.opts.auth.close();
  }

  /** Whether a readable key is an AEAD type (known facts first; read again before saying no). */
  private async isAead(keyName: string, signal: AbortSignal): Promise<boolean> {
    if (AEAD_TYPES.has((await this.factsOf(keyName, signal)).type)) return true;
    this.facts.delete(keyName);
    return AEAD_TYPES.has((await this.factsOf(keyName, signal)).type);
  }

  /** Type of a readable key: from the last refresh for the current key, else read once. */
  private async factsOf(keyName: string, signal: AbortSignal): Promise<KeyFacts> {
    const known = this.facts.get(keyName);
    if (known) return known;
    const path = `${this.opts.mount}/keys/${keyName}`;
    const data = await this.call('read key', signal, (token) => this.opts.http.read(path, { token, signal }));
    const facts = { type: (data.data as { type?: string } | undefined)?.type ?? 'unknown' };
    this.facts.set(keyName, facts);
    return facts;
  }

  /** The HMAC of a fixed input under `version`: different for a re-created key of the same name. */
  private async fingerprint(version: number, signal: AbortSignal): Promise<string> {
    const { keyName, mount } = this.opts;
    const body = { input: FINGERPRINT_INPUT, key_version: version };
    const out = await this.call('hmac (key fingerprint; or use --key-fingerprint creation-time)', signal, (token) =>
      this.opts.http.write(`${mount}/hmac/${keyName}`, body, { token, signal }),
    );
    const hmac = (out.data as { hmac?: string } | undefined)?.hmac;
    if (!hmac) throw new KmsError('internal', 'Vault hmac returned no value');
    return hmac;
  }

  private async call<T>(operation: string, signal: AbortSignal, fn: (token: string) => Promise<T>): Promise<T> {
    try {
      return await this.opts.auth.withToken(signal, fn);
    } catch (err) {
      if (signal.aborted && err === signal.reason) throw err;
      throw fromVaultError(operation, err);
    }
  }
}

function bindingOf(facts: KeyFacts): number {
  return AEAD_TYPES.has(facts.type) ? BIND_ASSOCIATED_DATA : BIND_DIGEST_PREFIX;
}

function bindingFields(binding: number, aad: Uint8Array, digest: Buffer): Record<string, string> {
  return {
    ...(binding === BIND_ASSOCIATED_DATA ? { associated_data: Buffer.from(aad).toString('base64') } : {}),
    context: digest.toString('base64'),
  };
}

function decode(wrapped: Uint8Array): { keyName: string; binding: number; ciphertext: string } {
  const { header, keyRef, blob } = FRAMING.decode(wrapped);
  const binding = header[0] ?? 0;
  if (binding !== BIND_ASSOCIATED_DATA && binding !== BIND_DIGEST_PREFIX) {
    throw new KmsError('corrupt-ciphertext', 'Vault wrapped key has an unknown format');
  }
  const keyName = keyRef.toString('utf8');
  const ciphertext = blob.toString('utf8');
  // Only the canonical spelling transit itself writes: Vault reads "v0" and "v01" as version 1 and
  // ignores stray base64 bits, so any other spelling would be a changed ciphertext that still opens.
  const body = /^vault:v[1-9]\d{0,9}:([A-Za-z0-9+/]+={0,2})$/.exec(ciphertext)?.[1];
  if (!/^[A-Za-z0-9_.-]+$/.test(keyName) || !body || Buffer.from(body, 'base64').toString('base64') !== body) {
    throw new KmsError('corrupt-ciphertext', 'Vault wrapped key is malformed');
  }
  return { keyName, binding, ciphertext };
}
