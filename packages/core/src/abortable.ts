/**
 * Settle with `promise`, or reject with the signal's reason as soon as `signal` aborts, whichever
 * comes first. Lets a caller stop waiting for work it shares with others (a coalesced unwrap) or
 * that ignores its signal (a hung backend call); the work itself is not cancelled by this.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(reasonOf(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(reasonOf(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function reasonOf(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('aborted');
}
