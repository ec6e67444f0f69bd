import { type ErrorClass, type KmsError } from '@k8s-kms/core';
import { classifyFailure, retryAfterMs } from '@k8s-kms/core/kit';

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
  // The SDK's own transport failures, when no errno code travels with them.
  TimeoutError: 'unavailable',
  NetworkingError: 'unavailable',
};

interface AwsErrorShape {
  readonly name?: string;
  readonly message?: string;
  readonly $metadata?: { readonly httpStatusCode?: number };
  readonly $response?: { readonly headers?: Readonly<Record<string, string | undefined>> };
}

/**
 * Translate anything the AWS SDK throws into a KmsError. Only AWS service answers (which name ARNs
 * and actions, never credentials) are quoted; other errors, such as a credential_process failure,
 * may echo anything, so only their name is given.
 */
export function fromAwsError(operation: string, err: unknown): KmsError {
  const e = (err ?? {}) as AwsErrorShape;
  const known = e.name ? BY_NAME[e.name] : undefined;
  return classifyFailure(`AWS KMS ${operation}`, err, {
    errorClass: known,
    // A service answer or a known name is shown by its name; other errors by their transport code.
    name: (known || e.$metadata?.httpStatusCode !== undefined) && e.name ? e.name : undefined,
    httpStatus: e.$metadata?.httpStatusCode,
    detail: e.$metadata ? e.message : undefined,
    retryAfterMs: retryAfterMs(e.$response?.headers?.['retry-after']),
  });
}
