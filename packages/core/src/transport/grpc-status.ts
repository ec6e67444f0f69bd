import { status } from '@grpc/grpc-js';
import type { ErrorClass } from '../errors.js';

/**
 * The one table from error class to gRPC status code. kube-apiserver treats every non-OK answer
 * as a failure of that call; the codes let operators and metrics tell the causes apart.
 */
export const GRPC_CODE: Readonly<Record<ErrorClass, status>> = {
  'invalid-input': status.INVALID_ARGUMENT,
  'corrupt-ciphertext': status.INVALID_ARGUMENT,
  'user-induced': status.FAILED_PRECONDITION,
  throttled: status.RESOURCE_EXHAUSTED,
  unavailable: status.UNAVAILABLE,
  internal: status.INTERNAL,
};

/** The name of a gRPC status code ("OK", "INVALID_ARGUMENT", ...) for metric labels. */
export function codeName(code: status): string {
  return status[code] ?? 'UNKNOWN';
}
