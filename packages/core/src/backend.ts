import { KmsError } from './errors.js';
import type { KeyProvider, KeyVersion } from './provider.js';
import type { BackendHealth, RemotePolicy } from './remote-policy.js';

/**
 * A provider seen through the remote call policy: every call gets a deadline, retries, the rate
 * limit, the concurrency cap and the breaker, and every failure comes out as a KmsError.
 */
export class Backend {
  constructor(
    readonly provider: KeyProvider,
    private readonly policy: RemotePolicy,
  ) {}

  get kind(): string {
    return this.provider.kind;
  }

  /** What the latest calls say: breaker state, and why the backend counts as down if it does. */
  health(): BackendHealth {
    return this.policy.health();
  }

  currentKey(signal?: AbortSignal): Promise<KeyVersion> {
    return this.policy.execute('current-key', (s) => this.provider.currentKey({ signal: s }), signal);
  }

  async wrap(plaintext: Uint8Array, key: KeyVersion, aad: Uint8Array, signal?: AbortSignal): Promise<Buffer> {
    const wrapped = await this.policy.execute('wrap', (s) => this.provider.wrap(plaintext, { key, aad, signal: s }), signal);
    if (wrapped.length === 0) throw new KmsError('internal', `${this.kind} provider returned an empty wrapped key`);
    return Buffer.from(wrapped);
  }

  async unwrap(wrapped: Uint8Array, aad: Uint8Array, signal?: AbortSignal): Promise<Buffer> {
    return Buffer.from(await this.policy.execute('unwrap', (s) => this.provider.unwrap(wrapped, { aad, signal: s }), signal));
  }
}
