import { status } from '@grpc/grpc-js';
import { classifyFailure, classOfGrpcCode, type ErrorClass, type KmsError } from '@k8s-kms/core';

/** What the official client throws: a GoogleError (a gRPC status) or a transport failure. */
interface GoogleErrorShape {
  readonly code?: unknown;
  readonly details?: unknown;
}

/** grpc-js's prefix when the call credentials (google-auth-library) failed to give a token. */
const CREDENTIALS_FAILED = /^Getting metadata from plugin failed/;
/** OAuth / STS error codes a token endpoint answers with when the credential itself is refused. */
const REFUSED_CREDENTIAL = /\b(invalid_grant|invalid_client|unauthorized_client|access_denied|invalid_scope|invalid_target)\b/;

/**
 * Translate anything the Cloud KMS client throws into a KmsError. Classes follow the gRPC code
 * (core's classOfGrpcCode), with Cloud KMS's own meanings on top: INVALID_ARGUMENT on Decrypt is a
 * ciphertext that is not this key's (or whose AAD differs), and an INVALID_ARGUMENT about a CRC32C
 * checksum is data damaged in transit, retried. The service's own message (it names resources and
 * states, never data) is quoted; a credential failure's text is not (it may echo a token
 * endpoint's answer), only its OAuth error code.
 */
export function fromGcpError(operation: string, err: unknown): KmsError {
  const e = (err ?? {}) as GoogleErrorShape;
  if (typeof e.code !== 'number' || !(e.code in status)) return classifyFailure(`Cloud KMS ${operation}`, err);
  const code = e.code as status;
  const details = typeof e.details === 'string' ? e.details : '';
  if (CREDENTIALS_FAILED.test(details)) {
    const oauth = REFUSED_CREDENTIAL.exec(details)?.[1];
    return classifyFailure(`Cloud KMS ${operation}`, err, {
      errorClass: oauth ? 'user-induced' : 'unavailable',
      name: oauth ? `credentials refused (${oauth})` : 'credentials unavailable',
      detail: 'no access token from --credentials-file or Application Default Credentials',
    });
  }
  let errorClass: ErrorClass = classOfGrpcCode(code);
  if (code === status.INVALID_ARGUMENT && /checksum|crc32c/i.test(details)) errorClass = 'unavailable';
  else if (code === status.INVALID_ARGUMENT && operation === 'Decrypt') errorClass = 'corrupt-ciphertext';
  // grpc-js's own UNAVAILABLE carries the transport's cause in its details ("connect ECONNREFUSED ...").
  return classifyFailure(`Cloud KMS ${operation}`, err, { errorClass, name: status[code], detail: details || undefined });
}
