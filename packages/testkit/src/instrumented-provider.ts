import { setTimeout as sleep } from 'node:timers/promises';
import type { CallOptions, KeyProvider, KeyVersion, KmsError, WrapOptions, WrapWithKeyOptions } from '@k8s-kms/core';
import type { BackendOperation } from '@k8s-kms/core/kit';

/** The operations counted, named as core's metrics name them. */
export type Operation = BackendOperation;

/**
 * Wraps a real provider to count its calls, add latency, and inject failures: the tests' and
 * benchmark's window onto what core asks of a backend. Not a stand-in: every call that is not
 * failed on purpose reaches the real provider.
 */
export class InstrumentedProvider implements KeyProvider {
  readonly calls: Record<Operation, number> = { 'current-key': 0, wrap: 0, unwrap: 0 };
  /** Signals seen by calls that were aborted while running. */
  aborted = 0;
  /** Added to every call, in milliseconds. */
  latencyMs = 0;
  private faults: { op: Operation | '*'; error: () => KmsError; remaining: number }[] = [];

  constructor(readonly inner: KeyProvider) {}

  get kind(): string {
    return this.inner.kind;
  }

  /** Fail the next `times` calls of `op` (or of any operation, '*') with `error()`. */
  failNext(op: Operation | '*', error: () => KmsError, times = 1): void {
    this.faults.push({ op, error, remaining: times });
  }

  /** Fail every call until {@link heal}. */
  failAll(error: () => KmsError): void {
    this.failNext('*', error, Number.POSITIVE_INFINITY);
  }

  heal(): void {
    this.faults = [];
  }

  reset(): void {
    this.calls['current-key'] = this.calls.wrap = this.calls.unwrap = 0;
  }

  total(): number {
    return this.calls['current-key'] + this.calls.wrap + this.calls.unwrap;
  }

  currentKey(opts: CallOptions): Promise<KeyVersion> {
    return this.run('current-key', opts.signal, () => this.inner.currentKey(opts));
  }

  wrap(plaintext: Uint8Array, opts: WrapWithKeyOptions): Promise<Uint8Array> {
    return this.run('wrap', opts.signal, () => this.inner.wrap(plaintext, opts));
  }

  unwrap(wrapped: Uint8Array, opts: WrapOptions): Promise<Uint8Array> {
    return this.run('unwrap', opts.signal, () => this.inner.unwrap(wrapped, opts));
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private async run<T>(op: Operation, signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    this.calls[op] += 1;
    if (this.latencyMs > 0) {
      try {
        await sleep(this.latencyMs, undefined, { signal });
      } catch (err) {
        this.aborted += 1;
        throw err;
      }
    }
    const fault = this.faults.find((f) => (f.op === op || f.op === '*') && f.remaining > 0);
    if (fault) {
      fault.remaining -= 1;
      throw fault.error();
    }
    return fn();
  }
}
