import type { KeyProvider, KeyVersion } from './provider.js';
import { checkKeyVersion, checkKind, checkUnwrapped, checkUnwrappedKek, checkWrapped } from './provider-guard.js';
import type { BackendHealth, RemotePolicy } from './remote-policy.js';

/**
 * A provider seen through the remote call policy and the provider guard: every call gets a
 * deadline, retries, the rate limit, the concurrency cap and the breaker, every failure comes out
 * as a KmsError, and every answer is checked (provider-guard.ts) before core uses it.
 */
export class Backend {
  constructor(
    readonly provider: KeyProvider,
    private readonly policy: RemotePolicy,
  ) {
    checkKind(provider.kind);
  }

  get kind(): string {
    return this.provider.kind;
  }

  /** What the latest calls say: breaker state, and why the backend counts as down if it does. */
  health(): BackendHealth {
    return this.policy.health();
  }

  async currentKey(signal?: AbortSignal): Promise<KeyVersion> {
    const version = await this.policy.execute('current-key', (s) => this.provider.currentKey({ signal: s }), signal);
    return checkKeyVersion(this.kind, version);
  }

  async wrap(plaintext: Uint8Array, key: KeyVersion, aad: Uint8Array, signal?: AbortSignal): Promise<Buffer> {
    const wrapped = await this.policy.execute('wrap', (s) => this.provider.wrap(plaintext, { key, aad, signal: s }), signal);
    return checkWrapped(this.kind, wrapped);
  }

  /** Unwrap a data key (direct mode). */
  async unwrap(wrapped: Uint8Array, aad: Uint8Array, signal?: AbortSignal): Promise<Buffer> {
    return checkUnwrapped(this.kind, await this.policy.execute('unwrap', (s) => this.provider.unwrap(wrapped, { aad, signal: s }), signal));
  }

  /** Unwrap a local KEK: exactly 32 bytes, or the wrapped bytes were not a local KEK. */
  async unwrapKek(wrapped: Uint8Array, aad: Uint8Array): Promise<Buffer> {
    return checkUnwrappedKek(await this.unwrap(wrapped, aad));
  }
}
