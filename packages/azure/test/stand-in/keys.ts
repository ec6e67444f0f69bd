import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto';

/** The key types the stand-in makes, and the operations each allows by default. */
export type KeyType = 'RSA' | 'RSA-HSM' | 'oct-HSM';
const ALL_OPS = ['encrypt', 'decrypt', 'sign', 'verify', 'wrapKey', 'unwrapKey'];

/** One key version, with its material (never leaves the stand-in except as a test's secret). */
export interface Version {
  readonly name: string;
  readonly version: string;
  readonly kty: KeyType;
  keyOps: string[];
  enabled: boolean;
  nbf?: number | undefined;
  exp?: number | undefined;
  readonly created: number;
  updated: number;
  tags: Record<string, string>;
  readonly rsa?: { readonly publicKey: KeyObject; readonly privateKey: KeyObject };
  readonly aes?: Buffer;
}

/** A Key Vault error answer: status, code, message and inner code, as the service spells them. */
export class KeyVaultError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly inner?: string,
  ) {
    super(message);
  }

  body(): unknown {
    return { error: { code: this.code, message: this.message, ...(this.inner ? { innererror: { code: this.inner } } : {}) } };
  }
}

const notFound = (name: string): KeyVaultError =>
  new KeyVaultError(
    404,
    'KeyNotFound',
    `A key with (name/id) ${name} was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182`,
  );

const b64url = (b: Buffer): string => b.toString('base64url');
const seconds = (): number => Math.floor(Date.now() / 1000);

/**
 * The stand-in's keys: versions in creation order per name (the last is current), each with
 * Key Vault's attributes, and the wrap algorithms the plugin and the tests use.
 */
export class KeyStore {
  private readonly keys = new Map<string, Version[]>();
  /** Seconds added to every creation time, so that versions made within one second still order. */
  private tick = 0;

  constructor(private readonly allowed: readonly KeyType[]) {}

  create(
    name: string,
    kty: KeyType,
    opts: {
      keySize?: number;
      keyOps?: readonly string[];
      enabled?: boolean;
      nbf?: number;
      exp?: number;
      tags?: Record<string, string>;
    } = {},
  ): Version {
    if (!this.allowed.includes(kty)) {
      throw new KeyVaultError(400, 'BadParameter', `Invalid key type ${kty} for this vault (it takes ${this.allowed.join(', ')}).`);
    }
    const now = seconds() + this.tick++;
    const base = {
      name,
      version: randomBytes(16).toString('hex'),
      kty,
      keyOps: [...(opts.keyOps ?? (kty === 'oct-HSM' ? ['encrypt', 'decrypt', 'wrapKey', 'unwrapKey'] : ALL_OPS))],
      enabled: opts.enabled ?? true,
      nbf: opts.nbf,
      exp: opts.exp,
      created: now,
      updated: now,
      tags: { ...opts.tags },
    };
    let v: Version;
    if (kty === 'oct-HSM') {
      const bits = opts.keySize ?? 256;
      if (![128, 192, 256].includes(bits)) throw new KeyVaultError(400, 'BadParameter', `Invalid key size ${bits} for an oct-HSM key.`);
      v = { ...base, aes: randomBytes(bits / 8) };
    } else {
      const modulusLength = opts.keySize ?? 2048;
      if (![2048, 3072, 4096].includes(modulusLength)) {
        throw new KeyVaultError(400, 'BadParameter', `Invalid key size ${modulusLength} for an RSA key.`);
      }
      v = { ...base, rsa: generateKeyPairSync('rsa', { modulusLength }) };
    }
    const versions = this.keys.get(name) ?? [];
    versions.push(v);
    this.keys.set(name, versions);
    return v;
  }

  /** A version with given material and id (test vectors: keys that outlive a stand-in run). */
  importVersion(name: string, kty: KeyType, version: string, material: { rsaPrivatePem?: string; aes?: Buffer }): Version {
    const now = seconds();
    const base = { name, version, kty, keyOps: [...ALL_OPS], enabled: true, created: now, updated: now, tags: {} };
    const v: Version = material.aes
      ? { ...base, aes: Buffer.from(material.aes) }
      : (() => {
          const privateKey = createPrivateKey(material.rsaPrivatePem!);
          return { ...base, rsa: { privateKey, publicKey: createPublicKey(privateKey) } };
        })();
    this.keys.set(name, [...(this.keys.get(name) ?? []), v]);
    return v;
  }

  /** A new version of `name` with the current one's type, operations and tags: what rotate does. */
  rotate(name: string): Version {
    const current = this.current(name);
    const bits = current.aes ? current.aes.length * 8 : (current.rsa!.publicKey.asymmetricKeyDetails?.modulusLength ?? 2048);
    return this.create(name, current.kty, { keySize: bits, keyOps: current.keyOps, tags: current.tags });
  }

  /** Deletes and purges `name` (all versions): the next create under it starts anew. */
  purge(name: string): void {
    if (!this.keys.delete(name)) throw notFound(name);
  }

  current(name: string): Version {
    const versions = this.keys.get(name);
    if (!versions?.length) throw notFound(name);
    return versions.at(-1)!;
  }

  version(name: string, version: string | undefined): Version {
    if (!version) return this.current(name);
    const v = this.keys.get(name)?.find((x) => x.version === version.toLowerCase());
    if (!v) throw notFound(`${name}/${version}`);
    return v;
  }

  versions(name: string): readonly Version[] {
    const versions = this.keys.get(name);
    if (!versions?.length) throw notFound(name);
    return versions;
  }

  /** Enable or disable a version, set its validity window or its operations (update key). */
  update(
    v: Version,
    patch: { enabled?: boolean; nbf?: number | null; exp?: number | null; keyOps?: string[]; tags?: Record<string, string> },
  ): void {
    if (patch.enabled !== undefined) v.enabled = patch.enabled;
    if (patch.nbf !== undefined) v.nbf = patch.nbf ?? undefined;
    if (patch.exp !== undefined) v.exp = patch.exp ?? undefined;
    if (patch.keyOps) v.keyOps = patch.keyOps;
    if (patch.tags) v.tags = patch.tags;
    v.updated = seconds();
  }

  /**
   * wrapKey / unwrapKey as Key Vault checks them: a disabled version refuses both; one outside
   * its nbf/exp window refuses wrapKey but still unwraps (Key Vault lets decrypt, unwrap and
   * verify run on an expired key); an operation not in key_ops is refused.
   */
  crypt(v: Version, operation: 'wrapKey' | 'unwrapKey', alg: string, value: Buffer): Buffer {
    if (!v.enabled) throw new KeyVaultError(403, 'Forbidden', `Operation ${operation} is not allowed on a disabled key.`, 'KeyDisabled');
    if (!v.keyOps.includes(operation)) {
      throw new KeyVaultError(403, 'Forbidden', `Operation ${operation} is not permitted on this key.`, 'KeyOperationForbidden');
    }
    const now = seconds();
    if (operation === 'wrapKey' && ((v.nbf !== undefined && now < v.nbf) || (v.exp !== undefined && now >= v.exp))) {
      throw new KeyVaultError(
        403,
        'Forbidden',
        `Operation ${operation} is not allowed on a key outside its validity period.`,
        'KeyExpired',
      );
    }
    const wrap = operation === 'wrapKey';
    if (v.rsa && (alg === 'RSA-OAEP' || alg === 'RSA-OAEP-256')) {
      const oaepHash = alg === 'RSA-OAEP' ? 'sha1' : 'sha256';
      const padding = constants.RSA_PKCS1_OAEP_PADDING;
      try {
        return wrap
          ? publicEncrypt({ key: v.rsa.publicKey, padding, oaepHash }, value)
          : privateDecrypt({ key: v.rsa.privateKey, padding, oaepHash }, value);
      } catch {
        throw new KeyVaultError(
          400,
          'BadParameter',
          wrap ? 'The value is too long for this key.' : 'Unwrap failed: the value is not a wrapped key of this key version.',
        );
      }
    }
    if (v.aes && /^A(128|192|256)KW$/.test(alg) && Number(alg.slice(1, 4)) === v.aes.length * 8) {
      const cipher = `id-aes${v.aes.length * 8}-wrap`;
      const iv = Buffer.from('A6A6A6A6A6A6A6A6', 'hex');
      try {
        const c = wrap ? createCipheriv(cipher, v.aes, iv) : createDecipheriv(cipher, v.aes, iv);
        return Buffer.concat([c.update(value), c.final()]);
      } catch {
        throw new KeyVaultError(
          400,
          'BadParameter',
          wrap ? 'The value must be a multiple of 8 bytes.' : 'Unwrap failed: the integrity check of the wrapped key failed.',
        );
      }
    }
    throw new KeyVaultError(400, 'BadParameter', `Algorithm ${alg} is not supported for key type ${v.kty}.`);
  }

  /** The key's JSON Web Key as Key Vault returns it (public parts only). */
  jwk(v: Version, vaultUrl: string): Record<string, unknown> {
    const kid = `${vaultUrl}/keys/${v.name}/${v.version}`;
    if (v.aes) return { kid, kty: v.kty, key_ops: v.keyOps };
    const pub = v.rsa!.publicKey.export({ format: 'jwk' });
    return { kid, kty: v.kty, key_ops: v.keyOps, n: pub.n, e: pub.e };
  }

  attributes(v: Version): Record<string, unknown> {
    return {
      enabled: v.enabled,
      ...(v.nbf !== undefined ? { nbf: v.nbf } : {}),
      ...(v.exp !== undefined ? { exp: v.exp } : {}),
      created: v.created,
      updated: v.updated,
      recoveryLevel: 'Recoverable+Purgeable',
      recoverableDays: 90,
      exportable: false,
    };
  }

  /** A key bundle: what get, create, rotate and update answer. */
  bundle(v: Version, vaultUrl: string): Record<string, unknown> {
    return { key: this.jwk(v, vaultUrl), attributes: this.attributes(v), ...(Object.keys(v.tags).length ? { tags: v.tags } : {}) };
  }

  /** A key item: what the versions list holds. */
  item(v: Version, vaultUrl: string): Record<string, unknown> {
    return {
      kid: `${vaultUrl}/keys/${v.name}/${v.version}`,
      attributes: this.attributes(v),
      ...(Object.keys(v.tags).length ? { tags: v.tags } : {}),
    };
  }

  /** Key material of every version, for tests that check no output ever holds it. */
  secrets(): string[] {
    const out: string[] = [];
    for (const versions of this.keys.values()) {
      for (const v of versions) {
        if (v.aes) out.push(b64url(v.aes), v.aes.toString('base64'), v.aes.toString('hex'));
        if (v.rsa) out.push(String(v.rsa.privateKey.export({ format: 'jwk' }).d));
      }
    }
    return out;
  }
}
