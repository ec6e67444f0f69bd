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
const BRAND = Symbol.for('k8s-kms.KmsError');

/** Options of a {@link KmsError}. */
export interface KmsErrorOptions {
  readonly cause?: unknown;
  /** Whether the remote call policy may try the call again; by default from the class. */
  readonly retryable?: boolean;
  /** The service asked to wait this long before the next try (HTTP Retry-After, gRPC RetryInfo). */
  readonly retryAfterMs?: number;
}

/**
 * A classified failure. `cause` keeps the original error for debugging; it is never logged whole.
 *
 * Recognise one with {@link KmsError.is}, not `instanceof`: a backend package installed with its
 * own copy of @k8s-kms/core throws that copy's KmsError, and `instanceof` would call it foreign
 * (and make every backend failure a non-retryable `internal`).
 */
export class KmsError extends Error {
  override readonly name = 'KmsError';
  readonly [BRAND] = true;
  /** Whether the remote call policy may try the call again. Defaults from the class. */
  readonly retryable: boolean;
  /** How long the service asked to wait before the next try, if it said. */
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly errorClass: ErrorClass,
    message: string,
    options: KmsErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? RETRYABLE.has(errorClass);
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Whether `err` is a KmsError of any copy of @k8s-kms/core (a brand, not `instanceof`). */
  static is(err: unknown): err is KmsError {
    return (
      typeof err === 'object' &&
      err !== null &&
      (err as Record<symbol, unknown>)[BRAND] === true &&
      ERROR_CLASSES.includes((err as { errorClass?: ErrorClass }).errorClass as ErrorClass)
    );
  }

  /**
   * Classify anything thrown. A KmsError passes through; anything else becomes `internal`
   * with only its error name in the message, because foreign messages are not vetted
   * for secrets.
   */
  static from(err: unknown, context = 'unexpected error'): KmsError {
    if (KmsError.is(err)) return err;
    const kind = err instanceof Error ? err.name : typeof err;
    return new KmsError('internal', `${context} (${kind})`, { cause: err });
  }
}

/** One-line condition check: `needs(buf.length > 0, 'invalid-input', 'plaintext is empty')`. */
export function needs(cond: unknown, errorClass: ErrorClass, message: string): asserts cond {
  if (!cond) throw new KmsError(errorClass, message);
}
