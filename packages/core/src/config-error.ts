const BRAND = Symbol.for('k8s-kms.ConfigError');

/**
 * A configuration the plugin cannot start with: a bad or missing flag, environment variable,
 * config-file key or file named by one. The message names the flag and the cause (never a value
 * that may be secret). The CLI runner exits 2 for these, 1 for any other failure to start, as the
 * Go KMS plugins do.
 *
 * Recognised by a brand rather than `instanceof`, so an error thrown by a second copy of
 * @k8s-kms/core (a backend installed with its own) is still a ConfigError.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly [BRAND] = true;

  /** Whether `err` is a ConfigError from any copy of this package. */
  static is(err: unknown): err is ConfigError {
    return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[BRAND] === true;
  }
}
