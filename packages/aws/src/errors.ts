import { KmsError, type ErrorClass } from '@k8s-kms/core';

/** AWS KMS error names by the class core gives them. */
const BY_NAME: Readonly<Record<string, ErrorClass>> = {
  ThrottlingException: 'throttled',
  LimitExceededException: 'throttled',
  RequestLimitExceeded: 'throttled',
  AccessDeniedException: 'user-induced',
  DisabledException: 'user-induced',
  KMSInvalidStateException: 'user-induced',
  NotFoundException: 'user-induced',
  // Decrypt's answer when the ciphertext is not under the KeyId it is pinned to: the recorded key
  // reference was altered.
  IncorrectKeyException: 'corrupt-ciphertext',
  InvalidKeyUsageException: 'user-induced',
  UnrecognizedClientException: 'user-induced',
  InvalidSignatureException: 'user-induced',
  InvalidArnException: 'user-induced',
  InvalidCiphertextException: 'corrupt-ciphertext',
  InvalidGrantTokenException: 'invalid-input',
  ValidationException: 'invalid-input',
  KMSInternalException: 'unavailable',
  DependencyTimeoutException: 'unavailable',
  ServiceUnavailableException: 'unavailable',
  InternalFailure: 'unavailable',
  // AWS: HTTP 500, "the request can be retried".
  KeyUnavailableException: 'unavailable',
  // Credential sources (IMDS, container endpoint, STS) fail transiently; a refresh fixes them.
  CredentialsProviderError: 'unavailable',
  ExpiredTokenException: 'unavailable',
};

/** Node network error codes: the endpoint is unreachable, so try again later. */
const NETWORK = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * Translate anything the AWS SDK throws into a KmsError. The message names the operation and the
 * AWS error (AWS messages name ARNs and actions, never credentials); it never includes a request body.
 */
export function fromAwsError(operation: string, err: unknown): KmsError {
  if (err instanceof KmsError) return err;
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const name = e.name ?? 'Error';
  const status = e.$metadata?.httpStatusCode;
  // Only AWS service answers are quoted (they name ARNs and actions); other errors, such as a
  // credential_process failure, may echo anything, so only their name is given.
  const detail = e.$metadata ? (e.message ?? '').slice(0, 200) : '';
  let cls: ErrorClass | undefined = BY_NAME[name];
  if (!cls && e.code && NETWORK.has(e.code)) cls = 'unavailable';
  if (!cls && (name === 'TimeoutError' || name === 'AbortError' || name === 'NetworkingError')) cls = 'unavailable';
  if (!cls && status !== undefined) cls = status >= 500 ? 'unavailable' : status === 429 ? 'throttled' : undefined;
  if (!cls && status === undefined && /socket|network|connect/i.test(detail)) cls = 'unavailable';
  return new KmsError(
    cls ?? 'internal',
    `AWS KMS ${operation}: ${name}${status ? ` (HTTP ${status})` : ''}${detail ? `: ${detail}` : ''}`,
    { cause: err },
  );
}
