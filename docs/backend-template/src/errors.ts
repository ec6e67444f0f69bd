import { type ErrorClass, type KmsError } from '@k8s-kms/core';
import { classifyFailure } from '@k8s-kms/core/kit';

// TEMPLATE: the service's own error names, and nothing else: transport failures, timeouts, TLS,
// HTTP statuses and Retry-After are classified by core's classifyFailure.
const BY_NAME: Readonly<Record<string, ErrorClass>> = {
  KeyDisabled: 'user-induced',
  PermissionDenied: 'user-induced',
  InvalidCiphertext: 'corrupt-ciphertext',
  RateLimited: 'throttled',
};

/** One failed call as a KmsError: the service's error name (if it answered), its status, its message about names. */
export function fromExampleError(
  operation: string,
  err: unknown,
  answer?: { status: number; name?: string; message?: string; retryAfterMs?: number },
): KmsError {
  return classifyFailure(`Example KMS ${operation}`, err, {
    errorClass: answer?.name ? BY_NAME[answer.name] : undefined,
    name: answer?.name,
    httpStatus: answer?.status,
    detail: answer?.message,
    retryAfterMs: answer?.retryAfterMs,
  });
}
