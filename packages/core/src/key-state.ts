import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import { KmsError } from './errors.js';
import { deriveKeyId } from './key-id.js';
import { checkKeyId } from './contract-guard.js';
import { KeyIdRegistry } from './provider-guard.js';
import type { KeyVersion } from './provider.js';

/** The backend key that encrypts now, as last seen by the refresher. */
export interface KeyState {
  readonly keyId: string;
  readonly version: KeyVersion;
}

/** Intervals of the background refresher. */
export interface RefreshOptions {
  /** How often to ask the backend for its current key version (kube-apiserver polls Status every ~60 s). */
  readonly intervalMs: number;
  /**
   * The retry interval after a failure (at most `intervalMs`). Not doubled while the backend is
   * down or throttling: a refresh is one cheap metadata call, and while the breaker is open it
   * costs no backend call at all, so retrying often is what lets health and Status recover within
   * seconds of the backend's return. Doubled (up to `intervalMs`) after any other failure (a
   * permission refused, a key disabled), which no breaker stops and no quick retry mends.
   */
  readonly retryMs: number;
}

export interface KeyStateEvents {
  /** The key_id changed (backend rotation), or became known. */
  keyChanged(next: KeyState, previous: KeyState | undefined): void;
  /** The backend says the key must no longer be used (revoked, disabled, permission removed). */
  keyRevoked(reason: string): void;
  refreshed(ok: boolean): void;
}

/**
 * Asks the backend for its current key version in the background, so that Status never calls the
 * backend. Keeps the last known key while the backend is unreachable; sooner retries after a
 * failure. Derives the key_id and refuses to hand out one key_id for two key versions.
 */
export class KeyStateRefresher {
  private state: KeyState | undefined;
  private lastError: KmsError | undefined;
  private lastSuccessAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private failingSince = 0;
  private dueAt = 0;
  private running: Promise<void> | undefined;
  private readonly registry = new KeyIdRegistry();
  private readonly stopper = new AbortController();

  constructor(
    private readonly backend: Backend,
    private readonly opts: RefreshOptions,
    private readonly events: KeyStateEvents,
    private readonly log: Logger,
  ) {}

  /** The current key, or undefined while none was ever seen. */
  get current(): KeyState | undefined {
    return this.state;
  }

  /** Why the last refresh failed, if it did. */
  get error(): KmsError | undefined {
    return this.lastError;
  }

  /** Milliseconds since the epoch of the last successful refresh (0: never). */
  get lastSuccess(): number {
    return this.lastSuccessAt;
  }

  /** First refresh (awaited, failures only recorded), then refresh on a timer. */
  async start(): Promise<void> {
    await this.refresh();
  }

  /** Refresh now (coalesced with a refresh already running), then reschedule. */
  refresh(): Promise<void> {
    this.running ??= this.doRefresh().finally(() => {
      this.running = undefined;
      this.schedule();
    });
    return this.running;
  }

  stop(): void {
    this.stopper.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.stopper.signal.aborted) return;
    const down = this.lastError?.errorClass === 'unavailable' || this.lastError?.errorClass === 'throttled';
    const retry = down ? this.opts.retryMs : this.opts.retryMs * 2 ** Math.min(this.failures - 1, 16);
    this.arm(this.failures === 0 ? this.opts.intervalMs : Math.min(this.opts.intervalMs, retry));
  }

  /**
   * A backend call just failed as unavailable or throttled: refresh within `retryMs` (unless a
   * refresh is due sooner), so that health reflects whether the backend is really down.
   */
  refreshSoon(): void {
    if (this.stopper.signal.aborted || this.running || this.dueAt - Date.now() <= this.opts.retryMs) return;
    this.arm(this.opts.retryMs);
  }

  private arm(delay: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.dueAt = Date.now() + delay;
    this.timer = setTimeout(() => void this.refresh(), delay);
    this.timer.unref();
  }

  private async doRefresh(): Promise<void> {
    try {
      const version = await this.backend.currentKey(this.stopper.signal);
      const keyId = deriveKeyId(this.backend.kind, version.id);
      checkKeyId(keyId);
      this.registry.remember(keyId, version.id);
      const previous = this.state;
      this.state = { keyId, version };
      if (this.failures > 0) {
        const seconds = Math.round((Date.now() - this.failingSince) / 1000);
        this.log.info({ failedRefreshes: this.failures, seconds }, 'backend reachable again');
      }
      this.lastError = undefined;
      this.lastSuccessAt = Date.now();
      this.failures = 0;
      if (version.unusableReason) this.events.keyRevoked(version.unusableReason);
      if (previous?.keyId !== keyId) {
        this.log.info({ keyId, previousKeyId: previous?.keyId }, previous ? 'backend key rotated' : 'backend key known');
        this.events.keyChanged(this.state, previous);
      }
      this.events.refreshed(true);
    } catch (err) {
      if (this.stopper.signal.aborted) return;
      const error = KmsError.from(err);
      // The same cause again, whether the backend said it or the open breaker repeats it (its
      // error's cause is the failure that opened it); numbers (seconds, counts) aside.
      const root = (e: KmsError | undefined): KmsError | undefined => (KmsError.is(e?.cause) ? root(e.cause) : e);
      const shape = (e: KmsError | undefined): string | undefined => root(e)?.message.replace(/\d+/g, 'N');
      const repeated = shape(this.lastError) === shape(error);
      this.lastError = error;
      if (this.failures === 0) this.failingSince = Date.now();
      this.failures += 1;
      if (error.errorClass === 'user-induced') this.events.keyRevoked(error.message);
      // The first failure, and each change of cause, at warn; the same cause again at debug.
      const fields = { errorClass: error.errorClass, err: error.message, failedRefreshes: this.failures };
      if (repeated) this.log.debug(fields, 'backend key refresh failed again');
      else this.log.warn(fields, 'backend key refresh failed');
      this.events.refreshed(false);
    }
  }
}
