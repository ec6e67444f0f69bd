import { readFile } from 'node:fs/promises';
import {
  KmsError,
  type CallOptions,
  type KeyProvider,
  type KeyVersion,
  type ProviderDescription,
  type WrapOptions,
  type WrapWithKeyOptions,
} from '@k8s-kms/core';
import { retryAfterMs, wrappedKeyFraming } from '@k8s-kms/core/kit';
import type { ExampleConfig } from './config.js';
import { fromExampleError } from './errors.js';

// TEMPLATE: the provider of an imaginary REST KMS (GET /v1/keys/<name>; POST .../versions/<v>:encrypt
// and :decrypt with base64 bodies). Replace the calls with the service's official SDK.

/** What wrap returns: 0x01 ‖ u8 key name length ‖ "<name>@<version>" ‖ the service's ciphertext. Frozen once released. */
const FRAMING = wrappedKeyFraming({ what: 'Example wrapped key', format: 0x01, lengthBytes: 1 });

export class ExampleKmsProvider implements KeyProvider {
  /** Frozen into every key_id: pick it from docs/backend-guide.md's table and never change it. */
  readonly kind = 'example-kms';
  private readonly readable: ReadonlySet<string>;

  constructor(private readonly config: ExampleConfig) {
    this.readable = new Set([config['key-name'], ...config['decrypt-key-name']]);
  }

  describe(): ProviderDescription {
    return { address: this.config.address, keyName: this.config['key-name'], decryptKeyNames: this.config['decrypt-key-name'] };
  }

  async currentKey({ signal }: CallOptions): Promise<KeyVersion> {
    const key = (await this.call('GetKey', `keys/${this.config['key-name']}`, undefined, signal)) as {
      version?: number;
      created?: string;
      state?: string;
    };
    if (typeof key.version !== 'number') throw new KmsError('internal', 'Example KMS GetKey returned no version');
    // A version id that a re-created key of the same name never repeats: add its creation time.
    const id = `${this.config['key-name']}@${key.version}@${key.created ?? ''}`;
    return key.state === 'ENABLED' ? { id } : { id, unusableReason: `key is ${key.state ?? 'in an unknown state'}` };
  }

  async wrap(plaintext: Uint8Array, { key, aad, signal }: WrapWithKeyOptions): Promise<Uint8Array> {
    const [name, version] = key.id.split('@');
    const out = (await this.call(
      'Encrypt',
      `keys/${name}/versions/${version}:encrypt`,
      { plaintext: b64(plaintext), aad: b64(aad) },
      signal,
    )) as { ciphertext?: string };
    if (!out.ciphertext) throw new KmsError('internal', 'Example KMS Encrypt returned no ciphertext');
    return FRAMING.encode({ keyRef: `${name}@${version}`, blob: Buffer.from(out.ciphertext, 'base64') });
  }

  async unwrap(wrapped: Uint8Array, { aad, signal }: WrapOptions): Promise<Uint8Array> {
    const { keyRef, blob } = FRAMING.decode(wrapped);
    const [name, version] = keyRef.toString('utf8').split('@');
    // Refuse a key it was not given before asking the service.
    if (!name || !version || !this.readable.has(name)) {
      throw new KmsError('user-induced', `data was encrypted under key ${name ?? '?'}; list it with --decrypt-key-name to read it`);
    }
    const out = (await this.call(
      'Decrypt',
      `keys/${name}/versions/${version}:decrypt`,
      { ciphertext: b64(blob), aad: b64(aad) },
      signal,
    )) as { plaintext?: string };
    if (typeof out.plaintext !== 'string') throw new KmsError('internal', 'Example KMS Decrypt returned no plaintext');
    return Buffer.from(out.plaintext, 'base64');
  }

  private async call(operation: string, path: string, body: unknown, signal: AbortSignal): Promise<unknown> {
    const token = this.config['token-file'] ? (await readFile(this.config['token-file'], 'utf8')).trim() : undefined;
    let res: Response;
    try {
      res = await fetch(`${this.config.address}/v1/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal,
      });
    } catch (err) {
      throw fromExampleError(operation, err);
    }
    const answer = (await res.json().catch(() => ({}))) as { error?: { name?: string; message?: string } };
    if (!res.ok) {
      throw fromExampleError(operation, new Error(`HTTP ${res.status}`), {
        status: res.status,
        ...(answer.error?.name ? { name: answer.error.name } : {}),
        ...(answer.error?.message ? { message: answer.error.message } : {}),
        ...(retryAfterMs(res.headers.get('retry-after')) !== undefined
          ? { retryAfterMs: retryAfterMs(res.headers.get('retry-after')) }
          : {}),
      });
    }
    return answer;
  }
}

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
