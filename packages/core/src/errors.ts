/**
 * The one error type of k8s-kms. Every failure that crosses a module boundary is a
 * {@link KmsError} with a class from a closed set; the transport maps classes to gRPC
 * codes in one table (transport/grpc-status.ts) and metrics label by class.
 *
 * Rule for every message: it may name the cause (which flag, which check, which
 * backend error code) but never carries plaintext, key material, tokens or credentials.
 */
export type ErrorClass = 'invalid-input' | 'corrupt-ciphertext' | 'user-induced' | 'throttled' | 'unavailable' | 'internal';

/** All error classes, in a fixed order (metrics pre-create their label values from it). */
export const ERROR_CLASSES: readonly ErrorClass[] = [
  'invalid-input',
  'corrupt-ciphertext',
  'user-induced',
  'throttled',
  'unavailable',
  'internal',
];

const RETRYABLE: ReadonlySet<ErrorClass> = new Set(['throttled', 'unavailable']);

/** A classified failure. `cause` keeps the original error for debugging; it is never logged whole. */
export class KmsError extends Error {
  override readonly name = 'KmsError';
  /** Whether the remote call policy may try the call again. Defaults from the class. */
  readonly retryable: boolean;

  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? RETRYABLE.has(errorClass);
  }

  /**
   * Classify anything thrown. A KmsError passes through; anything else becomes `internal`
   * with only its error name in the message, because foreign messages are not vetted
   * for secrets.
   */
  static from(err: unknown, context = 'unexpected error'): KmsError {
    if (err instanceof KmsError) return err;
    const kind = err instanceof Error ? err.name : typeof err;
    return new KmsError('internal', `${context} (${kind})`, { cause: err });
  }
}

/** One-line condition check: `needs(buf.length > 0, 'invalid-input', 'plaintext is empty')`. */
export function needs(cond: unknown, errorClass: ErrorClass, message: string): asserts cond {
  if (!cond) throw new KmsError(errorClass, message);
}
