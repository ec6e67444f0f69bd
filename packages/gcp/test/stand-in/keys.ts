import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { status } from '@grpc/grpc-js';

/**
 * The key store of the Cloud KMS stand-in: key rings, crypto keys and their versions, and
 * symmetric Encrypt/Decrypt, with the resource names, states and gRPC codes of the public
 * google.cloud.kms.v1 API. A STAND-IN, not Cloud KMS: the package README lists what it does not do.
 */

/** A failure the stand-in answers with: a gRPC code and the message Cloud KMS would send. */
export class StandInError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROY_SCHEDULED' | 'DESTROYED';

export interface Version {
  readonly name: string;
  state: VersionState;
  readonly createTime: Date;
  readonly material: Buffer;
  destroyTime?: Date;
}

export interface CryptoKey {
  readonly name: string;
  readonly purpose: string;
  readonly createTime: Date;
  /** Random per key: a ciphertext names the key it came from, so a foreign one is told apart. */
  readonly uid: Buffer;
  readonly versions: Version[];
  primary?: Version;
  /** Principals allowed to use the key; undefined: every authenticated principal. */
  users?: Set<string>;
}

const RING = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[a-zA-Z0-9_-]{1,63}$/;
const KEY = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[a-zA-Z0-9_-]{1,63})\/cryptoKeys\/[a-zA-Z0-9_-]{1,63}$/;
const VERSION = /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)\/cryptoKeyVersions\/(\d+)$/;
/** Cloud KMS's plaintext limit for Encrypt. */
const MAX_PLAINTEXT = 64 * 1024;
/** Cloud KMS's ciphertext limit for Decrypt. */
const MAX_CIPHERTEXT = 10 * 1024 * 1024;
/** ciphertext = key uid (16) ‖ u32 version ‖ iv (12) ‖ AES-256-GCM ‖ tag (16). */
const HEADER = 16 + 4 + 12;

export class KeyStore {
  private readonly rings = new Map<string, Date>();
  private readonly keys = new Map<string, CryptoKey>();

  createKeyRing(name: string): void {
    if (!RING.test(name)) throw new StandInError(status.INVALID_ARGUMENT, `Invalid resource name: ${name}`);
    if (this.rings.has(name)) throw new StandInError(status.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
    this.rings.set(name, new Date());
  }

  hasKeyRing(name: string): boolean {
    return this.rings.has(name);
  }

  createCryptoKey(name: string, purpose = 'ENCRYPT_DECRYPT', skipInitialVersion = false, uid: Buffer = randomBytes(16)): CryptoKey {
    const ring = KEY.exec(name)?.[1];
    if (!ring) throw new StandInError(status.INVALID_ARGUMENT, `Invalid resource name: ${name}`);
    if (!this.rings.has(ring)) throw new StandInError(status.NOT_FOUND, `${ring} not found.`);
    if (this.keys.has(name)) throw new StandInError(status.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
    const key: CryptoKey = { name, purpose, createTime: new Date(), uid: Buffer.from(uid), versions: [] };
    this.keys.set(name, key);
    if (!skipInitialVersion) key.primary = this.createVersion(name);
    return key;
  }

  /**
   * A crypto key with given key material (each version's 32 bytes) and uid, its last version
   * primary: how a test reads ciphertexts written by an earlier stand-in (the frozen wrap vectors).
   */
  importCryptoKey(name: string, uid: Buffer, materials: readonly Buffer[]): CryptoKey {
    const key = this.createCryptoKey(name, 'ENCRYPT_DECRYPT', true, uid);
    for (const material of materials) {
      const version = this.createVersion(name);
      material.copy(version.material);
      key.primary = version;
    }
    return key;
  }

  key(name: string): CryptoKey {
    if (!KEY.test(name)) throw new StandInError(status.INVALID_ARGUMENT, `Invalid resource name: ${name}`);
    const key = this.keys.get(name);
    if (!key) throw new StandInError(status.NOT_FOUND, `${name} not found.`);
    return key;
  }

  version(name: string): { key: CryptoKey; version: Version } {
    const m = VERSION.exec(name);
    if (!m) throw new StandInError(status.INVALID_ARGUMENT, `Invalid resource name: ${name}`);
    const key = this.key(m[1]!);
    const version = key.versions[Number(m[2]) - 1];
    if (!version) throw new StandInError(status.NOT_FOUND, `${name} not found.`);
    return { key, version };
  }

  /** The name of a key or version to the crypto key it belongs to. */
  keyOf(name: string): CryptoKey {
    return this.key(VERSION.exec(name)?.[1] ?? name);
  }

  createVersion(keyName: string): Version {
    const key = this.key(keyName);
    const version: Version = {
      name: `${keyName}/cryptoKeyVersions/${key.versions.length + 1}`,
      state: 'ENABLED',
      createTime: new Date(),
      material: randomBytes(32),
    };
    key.versions.push(version);
    return version;
  }

  setPrimary(keyName: string, versionId: string): CryptoKey {
    const key = this.key(keyName);
    const version = key.versions[Number(versionId) - 1];
    if (!/^\d+$/.test(versionId) || !version)
      throw new StandInError(status.NOT_FOUND, `${keyName}/cryptoKeyVersions/${versionId} not found.`);
    if (version.state !== 'ENABLED') {
      throw new StandInError(status.FAILED_PRECONDITION, `${version.name} is not enabled, current state is: ${version.state}.`);
    }
    key.primary = version;
    return key;
  }

  setState(versionName: string, state: 'ENABLED' | 'DISABLED'): Version {
    const { version } = this.version(versionName);
    if (version.state === 'DESTROYED' || version.state === 'DESTROY_SCHEDULED') {
      throw new StandInError(status.FAILED_PRECONDITION, `${version.name} is not enabled or disabled, current state is: ${version.state}.`);
    }
    version.state = state;
    return version;
  }

  /** Schedules destruction (the real service waits 24 h by default; the stand-in destroys at once, as after that wait). */
  destroy(versionName: string): Version {
    const { version } = this.version(versionName);
    version.state = 'DESTROYED';
    version.destroyTime = new Date();
    version.material.fill(0);
    return version;
  }

  encrypt(name: string, plaintext: Buffer, aad: Buffer): { version: Version; ciphertext: Buffer } {
    const key = this.keyOf(name);
    this.mustBeSymmetric(key);
    const version = name === key.name ? key.primary : this.version(name).version;
    if (!version) throw new StandInError(status.FAILED_PRECONDITION, `${key.name} has no primary version.`);
    this.mustBeEnabled(version);
    if (plaintext.length > MAX_PLAINTEXT) {
      throw new StandInError(status.INVALID_ARGUMENT, `The plaintext must be at most ${MAX_PLAINTEXT} bytes.`);
    }
    const iv = randomBytes(12);
    const header = Buffer.alloc(HEADER);
    key.uid.copy(header, 0);
    header.writeUInt32BE(key.versions.indexOf(version) + 1, 16);
    iv.copy(header, 20);
    const cipher = createCipheriv('aes-256-gcm', version.material, iv);
    cipher.setAAD(Buffer.concat([header, aad]));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return { version, ciphertext: Buffer.concat([header, body, cipher.getAuthTag()]) };
  }

  decrypt(keyName: string, ciphertext: Buffer, aad: Buffer): { version: Version; plaintext: Buffer; usedPrimary: boolean } {
    const key = this.key(keyName);
    this.mustBeSymmetric(key);
    if (ciphertext.length > MAX_CIPHERTEXT) {
      throw new StandInError(status.INVALID_ARGUMENT, `The ciphertext must be at most ${MAX_CIPHERTEXT} bytes.`);
    }
    const failed = new StandInError(status.INVALID_ARGUMENT, "Decryption failed: verify that 'name' refers to the correct CryptoKey.");
    if (ciphertext.length < HEADER + 16 || !ciphertext.subarray(0, 16).equals(key.uid)) throw failed;
    const version = key.versions[ciphertext.readUInt32BE(16) - 1];
    if (!version) throw failed;
    this.mustBeEnabled(version);
    const decipher = createDecipheriv('aes-256-gcm', version.material, ciphertext.subarray(20, HEADER));
    decipher.setAAD(Buffer.concat([ciphertext.subarray(0, HEADER), aad]));
    decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
    try {
      const plaintext = Buffer.concat([decipher.update(ciphertext.subarray(HEADER, ciphertext.length - 16)), decipher.final()]);
      return { version, plaintext, usedPrimary: version === key.primary };
    } catch {
      throw failed;
    }
  }

  private mustBeEnabled(version: Version): void {
    if (version.state !== 'ENABLED') {
      throw new StandInError(status.FAILED_PRECONDITION, `${version.name} is not enabled, current state is: ${version.state}.`);
    }
  }

  private mustBeSymmetric(key: CryptoKey): void {
    if (key.purpose !== 'ENCRYPT_DECRYPT') {
      throw new StandInError(status.FAILED_PRECONDITION, `${key.name} has purpose ${key.purpose}, not ENCRYPT_DECRYPT.`);
    }
  }
}
