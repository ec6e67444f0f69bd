import { DecryptCommand, DescribeKeyCommand, EncryptCommand, type KeyMetadata, type KMSClient } from '@aws-sdk/client-kms';
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
import { RESERVED_CONTEXT_KEY } from './config.js';
import { fromAwsError } from './errors.js';

export interface AwsKmsProviderOptions {
  readonly client: KMSClient;
  /** Key id, key ARN, alias name or alias ARN that encrypts. Aliases are resolved at every refresh. */
  readonly key: string;
  /** Older keys whose data must stay readable. */
  readonly decryptKeys?: readonly string[];
  /** Sent on every Encrypt and Decrypt, with the plugin's own binding added. */
  readonly encryptionContext?: Readonly<Record<string, string>>;
}

/** What wrap returns: 0x01 ‖ u16 ARN length ‖ key ARN ‖ KMS CiphertextBlob (test/vectors keep it readable). */
const FRAMING = wrappedKeyFraming({ what: 'AWS wrapped key', format: 0x01, lengthBytes: 2 });
const KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[a-zA-Z0-9-]+$/;

/**
 * AWS KMS behind core's contract. Wrap is KMS Encrypt under the key the alias points at now; the
 * key ARN travels with the data and unwrap is KMS Decrypt pinned to it (KeyId). Decrypt may use a
 * key in the account and region of --key's target (so data under an alias's earlier targets stays
 * readable, across restarts) or a --decrypt-key; a ciphertext naming any other key is refused
 * before KMS is asked, so it cannot be steered to a key elsewhere. currentKey is DescribeKey:
 * metadata, no paid crypto call.
 */
export class AwsKmsProvider implements KeyProvider {
  readonly kind = 'aws-kms';
  /** Key ARNs Decrypt may use: every target of --key seen so far, and the --decrypt-keys. */
  private readonly readable = new Set<string>();
  /** "arn:aws:kms:<region>:<account>:" of --key's targets: keys there are readable too. */
  private readonly home = new Set<string>();

  constructor(private readonly opts: AwsKmsProviderOptions) {
    if (KEY_ARN.test(opts.key)) this.addTarget(opts.key);
    for (const k of opts.decryptKeys ?? []) if (KEY_ARN.test(k)) this.readable.add(k);
  }

  async describe(): Promise<ProviderDescription> {
    const endpoint = await this.opts.client.config.endpoint?.();
    return {
      key: this.opts.key,
      region: await this.opts.client.config.region(),
      endpoint: endpoint
        ? `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}`
        : 'default',
      decryptKeys: this.opts.decryptKeys ?? [],
      encryptionContextKeys: Object.keys(this.opts.encryptionContext ?? {}),
    };
  }

  async currentKey({ signal }: CallOptions): Promise<KeyVersion> {
    const meta = await this.describeKey(this.opts.key, signal);
    this.addTarget(meta.Arn);
    await this.resolveDecryptKeys(signal);
    const state = meta.KeyState ?? (meta.Enabled ? 'Enabled' : 'Disabled');
    // The key material id changes on an on-demand or imported-material rotation, so the key_id does too.
    const id = `${meta.Arn}#${meta.CurrentKeyMaterialId ?? ''}`;
    if (state !== 'Enabled' || meta.Enabled === false) return { id, unusableReason: `key is ${state}` };
    if (meta.KeyUsage && meta.KeyUsage !== 'ENCRYPT_DECRYPT') return { id, unusableReason: `key usage is ${meta.KeyUsage}` };
    if (meta.KeySpec && meta.KeySpec !== 'SYMMETRIC_DEFAULT')
      return { id, unusableReason: `key spec is ${meta.KeySpec}, not SYMMETRIC_DEFAULT` };
    return { id };
  }

  async wrap(plaintext: Uint8Array, { key, aad, signal }: WrapWithKeyOptions): Promise<Uint8Array> {
    const arn = key.id.slice(0, key.id.indexOf('#'));
    try {
      const out = await this.opts.client.send(
        new EncryptCommand({ KeyId: arn, Plaintext: plaintext, EncryptionContext: this.context(aad) }),
        { abortSignal: signal },
      );
      if (!out.CiphertextBlob) throw new KmsError('internal', 'AWS KMS Encrypt returned no ciphertext');
      return FRAMING.encode({ keyRef: arn, blob: out.CiphertextBlob });
    } catch (err) {
      throw fromAwsError('Encrypt', err);
    }
  }

  async unwrap(wrapped: Uint8Array, { aad, signal }: WrapOptions): Promise<Uint8Array> {
    const { arn, blob } = decode(wrapped);
    if (!this.readable.has(arn) && !this.home.has(accountScope(arn))) {
      throw new KmsError('user-induced', `data was encrypted under ${arn}, outside --key's account and region; list it with --decrypt-key`);
    }
    try {
      const out = await this.opts.client.send(
        new DecryptCommand({ KeyId: arn, CiphertextBlob: blob, EncryptionContext: this.context(aad) }),
        { abortSignal: signal },
      );
      if (!out.Plaintext) throw new KmsError('internal', 'AWS KMS Decrypt returned no plaintext');
      return out.Plaintext;
    } catch (err) {
      throw fromAwsError('Decrypt', err);
    }
  }

  async close(): Promise<void> {
    this.opts.client.destroy();
  }

  private addTarget(arn: string): void {
    this.readable.add(arn);
    this.home.add(accountScope(arn));
  }

  private context(aad: Uint8Array): Record<string, string> {
    return { ...this.opts.encryptionContext, [RESERVED_CONTEXT_KEY]: Buffer.from(aad).toString('base64') };
  }

  private async describeKey(keyId: string, signal: AbortSignal): Promise<KeyMetadata & { Arn: string }> {
    try {
      const out = await this.opts.client.send(new DescribeKeyCommand({ KeyId: keyId }), { abortSignal: signal });
      const meta = out.KeyMetadata;
      if (!meta?.Arn) throw new KmsError('internal', 'AWS KMS DescribeKey returned no key ARN');
      return meta as KeyMetadata & { Arn: string };
    } catch (err) {
      throw fromAwsError('DescribeKey', err);
    }
  }

  /** Resolve --decrypt-keys given as ids or aliases; one that cannot be described is skipped until it can. */
  private async resolveDecryptKeys(signal: AbortSignal): Promise<void> {
    for (const k of this.opts.decryptKeys ?? []) {
      if (KEY_ARN.test(k)) continue;
      try {
        this.readable.add((await this.describeKey(k, signal)).Arn);
      } catch (err) {
        if (signal.aborted) throw err;
      }
    }
  }
}

/** "arn:aws:kms:us-east-1:123456789012:" of a key ARN. */
function accountScope(arn: string): string {
  return arn.slice(0, arn.lastIndexOf(':') + 1);
}

function decode(wrapped: Uint8Array): { arn: string; blob: Uint8Array } {
  const { keyRef, blob } = FRAMING.decode(wrapped);
  const arn = keyRef.toString('utf8');
  if (!KEY_ARN.test(arn)) throw new KmsError('corrupt-ciphertext', 'AWS wrapped key names no valid key ARN');
  return { arn, blob };
}
