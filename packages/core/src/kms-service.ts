import { checkEncryptResponse, Requests } from './contract-guard.js';
import { noKeyYet, type Envelope, type V2Ciphertext } from './envelope/envelope.js';
import { KmsError } from './errors.js';
import type { KeyState, KeyStateRefresher } from './key-state.js';
import type { BackendHealth } from './remote-policy.js';

/** What Status reports as its version: "v2", or "v2beta1" for kube-apiserver 1.27–1.28. */
export type StatusVersion = 'v2' | 'v2beta1';

export interface StatusAnswer {
  readonly version: StatusVersion;
  readonly healthz: string;
  readonly keyId: string;
}

export interface KmsServiceOptions {
  readonly refresher: KeyStateRefresher;
  readonly envelope: Envelope;
  /** What the latest backend calls say (the breaker, the last failure). */
  readonly backendHealth: () => BackendHealth;
  readonly statusVersion: StatusVersion;
  /** Name and version reported by v1beta1 Version. */
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  /** A backend refresh older than this means the backend was not reachable recently. */
  readonly staleAfterMs: number;
}

/**
 * The KMS semantics of both APIs, free of gRPC: request checks, the envelope, the contract guard
 * on answers, and the health model. Status is answered from memory and never calls the backend.
 */
export class KmsService {
  constructor(private readonly opts: KmsServiceOptions) {}

  status(): StatusAnswer {
    const key = this.opts.refresher.current;
    return { version: this.opts.statusVersion, healthz: this.encryptBlocker() ?? 'ok', keyId: key?.keyId ?? '' };
  }

  async encrypt(plaintext: Uint8Array, signal: AbortSignal): Promise<V2Ciphertext & { keyId: string }> {
    Requests.plaintext(plaintext);
    const key = this.keyForEncrypt();
    const out = await this.opts.envelope.encryptV2(plaintext, key, signal);
    const answer = { ...out, keyId: key.keyId };
    // Compared with Status as it is now, not as it was when the call began: kube-apiserver
    // rejects an Encrypt answer whose key_id differs from the Status it just read.
    checkEncryptResponse(answer, this.opts.refresher.current?.keyId ?? '');
    return answer;
  }

  decrypt(ciphertext: Uint8Array, keyId: string, annotations: Readonly<Record<string, Uint8Array>>, signal: AbortSignal): Promise<Buffer> {
    Requests.v2Decrypt(ciphertext, keyId, annotations);
    return this.opts.envelope.decryptV2(ciphertext, keyId, annotations, signal);
  }

  version(): { version: string; runtimeName: string; runtimeVersion: string } {
    return { version: 'v1beta1', runtimeName: this.opts.runtimeName, runtimeVersion: this.opts.runtimeVersion };
  }

  encryptV1(plaintext: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    Requests.plaintext(plaintext);
    return this.opts.envelope.encryptV1(plaintext, this.keyForEncrypt(), signal);
  }

  decryptV1(ciphertext: Uint8Array, signal: AbortSignal): Promise<Buffer> {
    Requests.v1Decrypt(ciphertext);
    return this.opts.envelope.decryptV1(ciphertext, signal);
  }

  /** /readyz: a key is known, so Encrypt can be attempted. */
  ready(): string | undefined {
    return this.opts.refresher.current ? undefined : 'no backend key known yet';
  }

  /** /healthz: the backend answered recently and accepts the key. */
  backendProblem(): string | undefined {
    const { refresher } = this.opts;
    const down = this.opts.backendHealth().problem;
    if (down) return `backend ${down.errorClass}: ${down.message}`;
    if (refresher.error) return `backend ${refresher.error.errorClass}: ${refresher.error.message}`;
    const unusable = refresher.current?.version.unusableReason;
    if (unusable) return `backend key unusable: ${unusable}`;
    if (Date.now() - refresher.lastSuccess > this.opts.staleAfterMs) return 'backend not reached recently';
    return undefined;
  }

  /**
   * Why a new Encrypt would fail now, or undefined. A backend outage does not block Encrypt while a
   * valid local KEK is in memory ("calm when the cloud KMS is down"); a revoked or disabled key does.
   */
  private encryptBlocker(): string | undefined {
    const { refresher, envelope } = this.opts;
    const key = refresher.current;
    if (!key) return noKeyYet(refresher.error?.message).message;
    if (key.version.unusableReason) return `backend key unusable: ${key.version.unusableReason}`;
    const error = refresher.error;
    if (error?.errorClass === 'user-induced') return `backend refused: ${error.message}`;
    // The breaker, or the latest call, knows of an outage before the next refresh does.
    const down = this.opts.backendHealth().problem ?? error;
    if (down && !envelope.canEncryptOffline(key.keyId)) return `backend ${down.errorClass}: ${down.message}`;
    return undefined;
  }

  private keyForEncrypt(): KeyState {
    const { refresher } = this.opts;
    const key = refresher.current;
    if (!key) throw noKeyYet(refresher.error?.message);
    const unusable = key.version.unusableReason;
    if (unusable) throw new KmsError('user-induced', `backend key unusable: ${unusable}`);
    if (refresher.error?.errorClass === 'user-induced') throw refresher.error;
    return key;
  }
}
