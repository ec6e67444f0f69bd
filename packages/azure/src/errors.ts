import type { ErrorClass, KmsError } from '@k8s-kms/core';
import { classifyFailure, retryAfterMs, transportFailure } from '@k8s-kms/core/kit';

/** What the Key Vault client throws for an answer: a RestError with the service's error body as `details`. */
interface RestErrorShape {
  readonly name?: unknown;
  readonly statusCode?: unknown;
  readonly code?: unknown;
  readonly message?: unknown;
  readonly details?: { readonly error?: KeyVaultErrorBody } | undefined;
  readonly response?: { readonly headers?: { get(name: string): string | undefined } } | undefined;
  /** @azure/identity's AuthenticationError: the token endpoint's answer. */
  readonly errorResponse?: { readonly error?: unknown; readonly errorDescription?: unknown } | undefined;
}

interface KeyVaultErrorBody {
  readonly code?: string;
  readonly message?: string;
  readonly innerError?: KeyVaultErrorBody;
}

/** The Key Vault operations the plugin calls. */
export type KeyVaultOperation = 'get key' | 'list key versions' | 'wrapKey' | 'unwrapKey';

/** Error names (or prefixes of their messages) of @azure/identity and of the client's own checks that mean the configuration is wrong. */
const CONFIGURATION_ERRORS = /^(CredentialUnavailableError|AuthenticationRequiredError)$/;
/** How a token endpoint's refusal reaches us through MSAL: "invalid_client: Error(s): 7000215 - ... AADSTS7000215: ...". */
const MSAL_REFUSAL = /^([a-z_]+): Error\(s\):/;
const CHALLENGE_MISMATCH = /The challenge resource '([^']*)' does not match the requested domain/;

/**
 * Translate anything the Key Vault client or the credential throws into a KmsError. Classes follow
 * the HTTP status (core's classOfHttpStatus: 429 throttled with its Retry-After, 5xx unavailable,
 * 401/403/404 the operator's to fix), with Key Vault's own meaning on top: a 400 on unwrapKey is
 * a wrapped key this key version did not make. The service's message (it names keys, operations
 * and callers, never data) is quoted; a token endpoint's answer is not, only its OAuth error and
 * AADSTS code.
 */
export function fromAzureError(operation: KeyVaultOperation, err: unknown): KmsError {
  const e = (err ?? {}) as RestErrorShape;
  const what = `Key Vault ${operation}`;
  if (e.name === 'AuthenticationError' || e.errorResponse || MSAL_REFUSAL.test(String(e.message))) return tokenFailure(what, err, e);
  if (typeof e.name === 'string' && CONFIGURATION_ERRORS.test(e.name)) {
    // "Network unreachable" on the way to IMDS is the network, not the configuration.
    const transport = transportFailure(err);
    return classifyFailure(what, err, {
      errorClass: transport?.errorClass ?? 'user-induced',
      name: `credential unavailable${transport ? ` (${transport.code})` : ''}`,
      detail: transport ? undefined : 'no token from the configured --auth method',
    });
  }
  const challenge = typeof e.message === 'string' ? CHALLENGE_MISMATCH.exec(e.message) : null;
  if (challenge) {
    return classifyFailure(what, err, {
      errorClass: 'user-induced',
      name: 'challenge resource mismatch',
      detail: `the vault answered for ${challenge[1]}, which is not the domain of --vault-url (--disable-challenge-resource-verification accepts it)`,
    });
  }
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  if (status === undefined) return classifyFailure(what, err);
  const body = e.details?.error;
  const inner = body?.innerError?.code;
  const name = [typeof e.code === 'string' ? e.code : body?.code, inner].filter(Boolean).join('/') || undefined;
  let errorClass: ErrorClass | undefined;
  if (status === 400 && operation === 'unwrapKey') errorClass = 'corrupt-ciphertext';
  return classifyFailure(what, err, {
    errorClass,
    name,
    httpStatus: status,
    detail: status === 401 ? 'the token was refused after a refresh' : (body?.message ?? undefined),
    retryAfterMs: status === 429 || status === 503 ? retryAfterMs(e.response?.headers?.get('retry-after')) : undefined,
  });
}

/** The token endpoint refused or failed: a refused credential is the operator's to fix, the rest may pass. */
function tokenFailure(what: string, err: unknown, e: RestErrorShape): KmsError {
  const status = typeof e.statusCode === 'number' ? e.statusCode : undefined;
  const message = typeof e.message === 'string' ? e.message : '';
  const oauth = typeof e.errorResponse?.error === 'string' ? e.errorResponse.error : MSAL_REFUSAL.exec(message)?.[1];
  const description = typeof e.errorResponse?.errorDescription === 'string' ? e.errorResponse.errorDescription : message;
  const aadsts = /AADSTS\d+/.exec(description)?.[0];
  const transport = status === undefined && !oauth ? transportFailure(err) : undefined;
  const errorClass: ErrorClass =
    transport?.errorClass ??
    (status === 429 ? 'throttled' : status !== undefined && (status >= 500 || status === 408) ? 'unavailable' : 'user-induced');
  const why = [oauth, aadsts, status ? `HTTP ${status}` : undefined, transport?.code].filter(Boolean).join(', ');
  return classifyFailure(what, err, {
    errorClass,
    name: `token ${errorClass === 'user-induced' ? 'refused' : 'unavailable'}${why ? ` (${why})` : ''}`,
    detail: 'no access token from the configured --auth method',
  });
}
